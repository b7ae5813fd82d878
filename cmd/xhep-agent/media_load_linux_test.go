package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
// RTP packets per call as fast as one sender goroutine goes, then BYE, in
// each capture mode: every INVITE and BYE is captured, every stream gets
// one HANGUP report with all its packets, and the agent's CPU time during
// the RTP burst is logged (ringbuf and afxdp: the kernel counts, the
// agent reads the map once a second; afpacket: every RTP packet is read
// and counted in userspace). No timing assertion: the figures are
// measurements under this machine's load.
func TestLiveAgentRTPLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, c := range []struct {
		mode, id string
		net      byte
	}{{"ringbuf", "xrtl", 197}, {"afxdp", "xrtlx", 194}, {"afpacket", "xrtlp", 193}} {
		t.Run(c.mode, func(t *testing.T) { rtpLoad(t, c.mode, c.id, c.net) })
	}
}

func rtpLoad(t *testing.T, mode, id string, nb byte) {
	var (
		mu      sync.Mutex
		sipN    int
		hangups = map[string]float64{}
	)
	args := []string{"--mode", mode, "--drain-timeout", "5s", "--rtp-stats", "--rtp-report-interval", "2s", "--rtp-idle", "60s"}
	if mode != "afpacket" {
		args = append(args, "--xdp-mode", "generic")
	}
	rig := startRig(t, rigConfig{id: id, net: nb, port: 9060, ready: "capturing", args: args,
		onHEP: func(p []byte) {
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
		}})
	cmd, stderr, b := rig.cmd, &rig.stderr, rig.B
	const calls, perCall = 200, 500
	a1, b2 := fmt.Sprintf("10.%d.0.1", nb), fmt.Sprintf("10.%d.0.2", nb)
	sip := func(first, callID, cseq, body string) []byte { return sipMsg(first, b2, callID, cseq, body) }
	var rtpDur time.Duration
	var cpu0, cpu1 int64
	var rss string
	inNS(t, b, func() {
		sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, nb, 0, 2), Port: 5060})
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		proxy := &net.UDPAddr{IP: net.IPv4(10, nb, 0, 1), Port: 5060}
		for i := range calls {
			sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n", b2, b2, 20000+2*i)
			sc.WriteTo(sip("INVITE sip:b@"+a1+" SIP/2.0", fmt.Sprintf("load-%d@x", i), "1 INVITE", sdp), proxy)
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(500 * time.Millisecond)
		// One raw-ish sender: a connected socket per call would be 200 fds;
		// one unconnected socket bound to each source port instead.
		socks := make([]*net.UDPConn, calls)
		for i := range socks {
			if socks[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, nb, 0, 2), Port: 20000 + 2*i}); err != nil {
				t.Fatal(err)
			}
			defer socks[i].Close()
		}
		to := &net.UDPAddr{IP: net.IPv4(10, nb, 0, 1), Port: 40000}
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
			sc.WriteTo(sip("BYE sip:b@"+a1+" SIP/2.0", fmt.Sprintf("load-%d@x", i), "2 BYE", ""), proxy)
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
	t.Logf("%s: RTP %d packets in %v (%.0f pkts/s, one sender); agent CPU %.2f s over the %.1f s burst+report window (%.1f %% of a core, %.2f %% per 100k pkts/s); agent %s; SIP captured %d of %d; HANGUP reports %d of %d, %d with all %d packets",
		mode, calls*perCall, rtpDur.Round(time.Millisecond), pps, cpuSec, window, 100*cpuSec/window, 100*cpuSec/window/(pps/1e5), rss, sipN, 2*calls, len(hangups), calls, full, perCall)
	if sipN != 2*calls || len(hangups) != calls || full != calls {
		t.Errorf("SIP captured %d of %d, HANGUP reports %d of %d, %d with all packets\nstderr:\n%s", sipN, 2*calls, len(hangups), calls, full, stderr.String())
	}
}
