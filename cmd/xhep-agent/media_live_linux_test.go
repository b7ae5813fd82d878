package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// TestLiveAgentRTP: xhep-agent --rtp-stats on one end of a veth pair
// (XDP, ringbuf mode: RTP counted in the kernel). From the other end an
// INVITE announces 10.199.0.2:30000, then a generated G.711 stream with
// seeded loss runs, duplicates and reordering comes from there, then BYE:
// the collector gets the stream's final report (HANGUP, Call-ID in chunk
// 0x11) with the packets, expected and lost the generator made.
func TestLiveAgentRTP(t *testing.T) {
	requireBPF(t)
	na := fmt.Sprintf("xrtpa-%d", os.Getpid())
	pair, err := vethns.New(vethns.Config{
		NameA: na, NameB: fmt.Sprintf("xrtpb-%d", os.Getpid()),
		IfA: "xrtp0", IfB: "xrtp1", AddrA: "10.199.0.1/24", AddrB: "10.199.0.2/24",
	})
	if err != nil {
		t.Skipf("skipping: cannot create the veth pair between network namespaces: %v", err)
	}
	t.Cleanup(func() { pair.Close() })
	b := pair.B

	var (
		mu      sync.Mutex
		reports []map[string]any
		corr    []string
	)
	var srv *ingest.Server
	inNS(t, b, func() {
		srv, err = ingest.New(ingest.Config{
			Listen:    []string{"udp://10.199.0.2:9060"},
			Readers:   1,
			NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
		}, func(p []byte, _ netip.AddrPort, _ string) {
			var m hep.Message
			if len(p) == 0 || m.DecodeFromBytes(p) != nil || m.Proto != hep.ProtoMOSFull {
				return
			}
			var j map[string]any
			if json.Unmarshal(m.Payload, &j) != nil {
				return
			}
			mu.Lock()
			reports = append(reports, j)
			corr = append(corr, string(m.CorrelationID))
			mu.Unlock()
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
		"--iface", "xrtp0", "--mode", "ringbuf", "--xdp-mode", "generic",
		"--collector", "udp://10.199.0.2:9060", "--drain-timeout", "5s",
		"--rtp-stats", "--rtp-report-interval", "1s", "--rtp-idle", "30s")
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
			t.Fatalf("agent did not start with RTP statistics in the kernel:\n%s", stderr.String())
		}
	}

	const callID = "live-rtp-1@10.199.0.2"
	sdp := "v=0\r\no=- 1 1 IN IP4 10.199.0.2\r\ns=-\r\nc=IN IP4 10.199.0.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	sip := func(first, cseq, body string) []byte {
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\r\n"
		}
		return []byte(first + "\r\nVia: SIP/2.0/UDP 10.199.0.2;branch=z9hG4bK" + cseq[:1] + "\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: " +
			callID + "\r\nCSeq: " + cseq + "\r\n" + ct + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body)
	}
	pkts, truth := gen.GenerateRTP(gen.RTPConfig{Seed: 9, Packets: 400, PT: 0, Clock: 8000, Ptime: 5 * time.Millisecond,
		SSRC: 0xabc, FirstSeq: 100, Loss: 0.02, BurstLen: 2, Duplicate: 0.01, Reorder: 0.01, PayloadLen: 40})
	inNS(t, b, func() {
		sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 199, 0, 2), Port: 5060})
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 199, 0, 2), Port: 30000})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		proxy := &net.UDPAddr{IP: net.IPv4(10, 199, 0, 1), Port: 5060}
		if _, err := sc.WriteTo(sip("INVITE sip:b@10.199.0.1 SIP/2.0", "1 INVITE", sdp), proxy); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the agent pushes the endpoint into the kernel
		to := &net.UDPAddr{IP: net.IPv4(10, 199, 0, 1), Port: 40000}
		for _, p := range pkts {
			if _, err := rc.WriteTo(p.Data, to); err != nil {
				t.Fatalf("send RTP: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond) // at least one periodic report
		if _, err := sc.WriteTo(sip("BYE sip:b@10.199.0.1 SIP/2.0", "2 BYE", ""), proxy); err != nil {
			t.Fatal(err)
		}
	})
	var final map[string]any
	var finalCorr string
	var periodic int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && final == nil; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		periodic = 0
		for i, r := range reports {
			switch r["TYPE"] {
			case "HANGUP":
				final, finalCorr = r, corr[i]
			case "PERIODIC":
				periodic++
			}
		}
		mu.Unlock()
	}
	cmd.Process.Signal(syscall.SIGINT)
	if final == nil {
		t.Fatalf("no HANGUP report; %d reports\nstderr:\n%s", len(reports), stderr.String())
	}
	sent := len(pkts)
	lost := truth.Lost[0xabc] - truth.Duplicated[0xabc]
	got := [4]float64{final["TOTAL_PK"].(float64), final["EXPECTED_PK"].(float64), final["PACKET_LOSS"].(float64), final["SSRC"].(float64)}
	want := [4]float64{float64(sent), float64(sent - truth.Duplicated[0xabc] + truth.Lost[0xabc]), float64(lost), 0xabc}
	t.Logf("final report: packets %v expected %v lost %v jitter %v max %v MOS %v; %d periodic reports; generator sent %d, dropped %d, duplicated %d, reordered %d",
		final["TOTAL_PK"], final["EXPECTED_PK"], final["PACKET_LOSS"], final["JITTER"], final["MAX_JITTER"], final["MEAN_MOS"],
		periodic, sent, truth.Lost[0xabc], truth.Duplicated[0xabc], truth.Reordered[0xabc])
	if got != want || finalCorr != callID || final["DIR"].(float64) != 1 || final["CODEC_NAME"] != "PCMU" {
		t.Errorf("final report packets/expected/lost/ssrc %v, want %v; correlation %q dir %v codec %v", got, want, finalCorr, final["DIR"], final["CODEC_NAME"])
	}
	if periodic == 0 {
		t.Errorf("no periodic report before the BYE")
	}
	// Live arrival times are the kernel's: the jitter is only bounded here
	// (the 5 ms sender's pacing under this machine's load).
	if j := final["MAX_JITTER"].(float64); j < 0 || j > 50 {
		t.Errorf("max jitter %v ms", j)
	}
}
