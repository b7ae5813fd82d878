package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bench/tshark"
	"github.com/xhep/xhep/hep"
)

// TestLiveAgentRTP: xhep-agent --rtp-stats on one end of a veth pair, in
// each capture mode: ringbuf and afxdp count RTP in the kernel (XDP,
// generic on a veth), afpacket in userspace (the socket filter passes
// RTP, hep/rtp counts it). From the other end an INVITE announces
// 10.N.0.2:30000, then a generated G.711 stream with seeded loss runs,
// duplicates, reordering and 0..4 ms of jitter comes from there, then
// BYE. tshark captures the veth at the same time. The collector gets the
// stream's final report (HANGUP, Call-ID in chunk 0x11) with the packets,
// expected and lost the generator made, equal to tshark's -z rtp,streams
// in packets and lost and within 0.5 ms or 5 % of its max and mean jitter
// (the arrival times are the kernel's in XDP and the packet socket's in
// the pcap: not the same instant).
func TestLiveAgentRTP(t *testing.T) {
	tsharkBin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (scripts/deps.sh installs it)")
	}
	for _, c := range []struct {
		mode, id string
		net      byte
		kernel   bool
		args     []string
	}{
		{"ringbuf", "xrtr", 199, true, []string{"--xdp-mode", "generic"}},
		{"afxdp", "xrtx", 196, true, []string{"--xdp-mode", "generic"}},
		{"afpacket", "xrtp", 195, false, nil},
	} {
		t.Run(c.mode, func(t *testing.T) { liveRTP(t, tsharkBin, c.mode, c.id, c.net, c.kernel, c.args) })
	}
}

func liveRTP(t *testing.T, tsharkBin, mode, id string, nb byte, kernel bool, extra []string) {
	var (
		mu      sync.Mutex
		reports []map[string]any
		corr    []string
	)
	args := append([]string{"--mode", mode, "--drain-timeout", "5s",
		"--rtp-stats", "--rtp-report-interval", "1s", "--rtp-idle", "30s"}, extra...)
	rig := startRig(t, rigConfig{id: id, net: nb, port: 9060, args: args, ready: "capturing", onHEP: func(p []byte) {
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
	}})
	if got := strings.Contains(rig.stderr.String(), "rtp statistics in the kernel"); got != kernel {
		t.Fatalf("RTP statistics in the kernel: %v, want %v:\n%s", got, kernel, rig.stderr.String())
	}

	// tshark on the agent's interface, from before the INVITE to after the BYE
	pcap := filepath.Join(t.TempDir(), "live.pcap")
	var tsErr syncBuf
	dump := exec.Command("ip", "netns", "exec", rig.pair.NameA, tsharkBin, "-n", "-q", "-i", id+"0", "-f", "udp", "-w", pcap)
	dump.Stderr = &tsErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	capDone := make(chan error, 1)
	go func() { capDone <- dump.Wait() }()
	t.Cleanup(func() {
		dump.Process.Kill()
		<-capDone
	})
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(tsErr.String(), "Capturing on"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tshark did not start capturing:\n%s", tsErr.String())
		}
	}

	a, b := net.IPv4(10, nb, 0, 1), net.IPv4(10, nb, 0, 2)
	callID := fmt.Sprintf("live-rtp-%s@%s", mode, b)
	sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\n", b, b) +
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	pkts, truth := gen.GenerateRTP(gen.RTPConfig{Seed: 9, Packets: 400, PT: 0, Clock: 8000, Ptime: 5 * time.Millisecond,
		SSRC: 0xabc, FirstSeq: 100, Loss: 0.02, BurstLen: 2, Duplicate: 0.01, Reorder: 0.01, PayloadLen: 40,
		Jitter: 4 * time.Millisecond}) // below the ptime: no reordering beyond the counted one
	inNS(t, rig.B, func() {
		sc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: b, Port: 5060})
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: b, Port: 30000})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		proxy := &net.UDPAddr{IP: a, Port: 5060}
		if _, err := sc.WriteTo(sipMsg("INVITE sip:b@"+a.String()+" SIP/2.0", b.String(), callID, "1 INVITE", sdp), proxy); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // the agent learns the endpoint (and pushes it into the kernel)
		to := &net.UDPAddr{IP: a, Port: 40000}
		start := time.Now()
		for i, p := range pkts {
			// on the generator's schedule (its seeded jitter), not faster
			if d := time.Until(start.Add(time.Duration(p.At.Sub(pkts[0].At)))); d > 0 {
				time.Sleep(d)
			}
			if _, err := rc.WriteTo(p.Data, to); err != nil {
				t.Fatalf("send RTP %d: %v", i, err)
			}
		}
		time.Sleep(1500 * time.Millisecond) // at least one periodic report
		if _, err := sc.WriteTo(sipMsg("BYE sip:b@"+a.String()+" SIP/2.0", b.String(), callID, "2 BYE", ""), proxy); err != nil {
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
	dump.Process.Signal(syscall.SIGINT)
	select {
	case <-capDone:
		capDone <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("tshark did not stop")
	}
	if err := rig.stop(); err != nil {
		t.Errorf("agent exit: %v", err)
	}
	if final == nil {
		t.Fatalf("no HANGUP report; %d reports\nstderr:\n%s", len(reports), rig.stderr.String())
	}
	sent := len(pkts)
	lost := truth.Lost[0xabc] - truth.Duplicated[0xabc]
	got := [4]float64{final["TOTAL_PK"].(float64), final["EXPECTED_PK"].(float64), final["PACKET_LOSS"].(float64), final["SSRC"].(float64)}
	want := [4]float64{float64(sent), float64(sent - truth.Duplicated[0xabc] + truth.Lost[0xabc]), float64(lost), 0xabc}
	if got != want || finalCorr != callID || final["DIR"].(float64) != 1 || final["CODEC_NAME"] != "PCMU" {
		t.Errorf("final report packets/expected/lost/ssrc %v, want %v; correlation %q dir %v codec %v", got, want, finalCorr, final["DIR"], final["CODEC_NAME"])
	}
	if periodic == 0 {
		t.Errorf("no periodic report before the BYE")
	}

	ts, err := tshark.RTPStreams(tsharkBin, pcap)
	if err != nil {
		t.Fatal(err)
	}
	key := tshark.Key(netip.AddrPortFrom(netip.AddrFrom4([4]byte(b.To4())), 30000), netip.AddrPortFrom(netip.AddrFrom4([4]byte(a.To4())), 40000), 0xabc)
	th, ok := ts[key]
	if !ok {
		t.Fatalf("tshark has no stream %s (it has %v)", key, ts)
	}
	pk, lostA := int(final["TOTAL_PK"].(float64)), int(final["PACKET_LOSS"].(float64))
	maxJ, meanJ := final["MAX_JITTER"].(float64), final["MEAN_JITTER"].(float64)
	t.Logf("%s: agent packets %d lost %d max jitter %.3f mean %.3f ms | tshark %d %d %.3f %.3f | generator sent %d, dropped %d, duplicated %d, reordered %d; MOS %v; %d periodic reports",
		mode, pk, lostA, maxJ, meanJ, th.Pkts, th.Lost, th.MaxJitter, th.MeanJitter,
		sent, truth.Lost[0xabc], truth.Duplicated[0xabc], truth.Reordered[0xabc], final["MEAN_MOS"], periodic)
	if pk != th.Pkts || lostA != th.Lost {
		t.Errorf("packets %d lost %d, tshark %d %d", pk, lostA, th.Pkts, th.Lost)
	}
	if !liveJitterClose(maxJ, th.MaxJitter) || !liveJitterClose(meanJ, th.MeanJitter) {
		t.Errorf("jitter max %.3f mean %.3f ms, tshark %.3f %.3f: beyond 0.5 ms or 5 %%", maxJ, meanJ, th.MaxJitter, th.MeanJitter)
	}
	if th.MaxJitter < 0.5 {
		t.Errorf("tshark's max jitter %.3f ms: the sender's seeded jitter did not show", th.MaxJitter)
	}
}

func liveJitterClose(a, b float64) bool {
	d := math.Abs(a - b)
	return d <= 0.5 || d <= 0.05*math.Abs(b)
}
