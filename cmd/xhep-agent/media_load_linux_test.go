package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// cpuTicks is a process's user+system time in clock ticks (/proc/PID/stat).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

// vmRSS is a process's resident set ("VmRSS: N kB").
func vmRSS(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return "VmRSS: ?"
}

// TestLiveAgentRTPLoad: 200 calls (an INVITE with SDP each), then 500
// RTP packets per call as fast as one sender goroutine goes, then BYE:
// every INVITE and BYE is captured, every stream gets one HANGUP report
// with all its packets, and the agent's CPU time during the RTP burst is
// logged (the kernel counts; the agent reads the map once a second). No
// timing assertion: the figures are measurements under this machine's load.
func TestLiveAgentRTPLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	requireBPF(t)
	na := fmt.Sprintf("xrtla-%d", os.Getpid())
	pair, err := vethns.New(vethns.Config{
		NameA: na, NameB: fmt.Sprintf("xrtlb-%d", os.Getpid()),
		IfA: "xrtl0", IfB: "xrtl1", AddrA: "10.197.0.1/24", AddrB: "10.197.0.2/24",
	})
	if err != nil {
		t.Skipf("skipping: cannot create the veth pair between network namespaces: %v", err)
	}
	t.Cleanup(func() { pair.Close() })
	b := pair.B
	var (
		mu      sync.Mutex
		sipN    int
		hangups = map[string]float64{}
	)
	var srv *ingest.Server
	inNS(t, b, func() {
		srv, err = ingest.New(ingest.Config{
			Listen: []string{"udp://10.197.0.2:9060"}, Readers: 1,
			NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
		}, func(p []byte, _ netip.AddrPort, _ string) {
			var m hep.Message
			if len(p) == 0 || m.DecodeFromBytes(p) != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch m.Proto {
			case hep.ProtoSIP:
				sipN++
			case hep.ProtoMOSFull:
				var j map[string]any
				if json.Unmarshal(m.Payload, &j) == nil && j["TYPE"] == "HANGUP" {
					hangups[string(m.CorrelationID)] = j["TOTAL_PK"].(float64)
				}
			}
		})
		if err == nil {
			err = srv.Start()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })

	var stdout, stderr syncBuf
	cmd := exec.Command("ip", "netns", "exec", na, os.Args[0],
		"--iface", "xrtl0", "--mode", "ringbuf", "--xdp-mode", "generic",
		"--collector", "udp://10.197.0.2:9060", "--drain-timeout", "5s",
		"--rtp-stats", "--rtp-report-interval", "2s", "--rtp-idle", "60s")
	cmd.Env = append(os.Environ(), "XHEP_AGENT_EXEC=1")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(stderr.String(), "rtp statistics in the kernel"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not start:\n%s", stderr.String())
		}
	}
	const calls, perCall = 200, 500
	sip := func(first, callID, cseq, body string) []byte {
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\r\n"
		}
		return []byte(first + "\r\nVia: SIP/2.0/UDP 10.197.0.2;branch=z9hG4bK" + cseq[:1] + "\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: " +
			callID + "\r\nCSeq: " + cseq + "\r\n" + ct + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body)
	}
	var rtpDur time.Duration
	var cpu0, cpu1 int64
	var rss string
	inNS(t, b, func() {
		sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 197, 0, 2), Port: 5060})
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		proxy := &net.UDPAddr{IP: net.IPv4(10, 197, 0, 1), Port: 5060}
		for i := range calls {
			sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 10.197.0.2\r\ns=-\r\nc=IN IP4 10.197.0.2\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n", 20000+2*i)
			sc.WriteTo(sip("INVITE sip:b@10.197.0.1 SIP/2.0", fmt.Sprintf("load-%d@x", i), "1 INVITE", sdp), proxy)
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(500 * time.Millisecond)
		// One raw-ish sender: a connected socket per call would be 200 fds;
		// one unconnected socket bound to each source port instead.
		socks := make([]*net.UDPConn, calls)
		for i := range socks {
			if socks[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 197, 0, 2), Port: 20000 + 2*i}); err != nil {
				t.Fatal(err)
			}
			defer socks[i].Close()
		}
		to := &net.UDPAddr{IP: net.IPv4(10, 197, 0, 1), Port: 40000}
		pkt := make([]byte, 12+160)
		pkt[0] = 0x80
		cpu0, _ = cpuTicks(cmd.Process.Pid)
		start := time.Now()
		for n := range perCall {
			for i, s := range socks {
				binary.BigEndian.PutUint16(pkt[2:], uint16(n))
				binary.BigEndian.PutUint32(pkt[4:], uint32(n*160))
				binary.BigEndian.PutUint32(pkt[8:], uint32(1000+i))
				s.WriteTo(pkt, to)
			}
		}
		rtpDur = time.Since(start)
		time.Sleep(2500 * time.Millisecond) // a periodic round over all streams
		cpu1, _ = cpuTicks(cmd.Process.Pid)
		rss = vmRSS(cmd.Process.Pid)
		for i := range calls {
			sc.WriteTo(sip("BYE sip:b@10.197.0.1 SIP/2.0", fmt.Sprintf("load-%d@x", i), "2 BYE", ""), proxy)
			time.Sleep(200 * time.Microsecond)
		}
	})
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := len(hangups)
		mu.Unlock()
		if n == calls {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	mu.Lock()
	defer mu.Unlock()
	full := 0
	for _, pk := range hangups {
		if pk == perCall {
			full++
		}
	}
	pps := float64(calls*perCall) / rtpDur.Seconds()
	cpuSec := float64(cpu1-cpu0) / 100 // USER_HZ
	window := rtpDur.Seconds() + 2.5
	t.Logf("RTP %d packets in %v (%.0f pkts/s, one sender); agent CPU %.2f s over the %.1f s burst+report window (%.1f %% of a core, %.2f %% per 100k pkts/s); agent %s; SIP captured %d of %d; HANGUP reports %d of %d, %d with all %d packets",
		calls*perCall, rtpDur.Round(time.Millisecond), pps, cpuSec, window, 100*cpuSec/window, 100*cpuSec/window/(pps/1e5), rss, sipN, 2*calls, len(hangups), calls, full, perCall)
	if sipN != 2*calls || len(hangups) != calls {
		t.Errorf("SIP captured %d of %d, HANGUP reports %d of %d\nstderr:\n%s", sipN, 2*calls, len(hangups), calls, stderr.String())
	}
}
