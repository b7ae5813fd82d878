package agent

import (
	"encoding/json"
	"math"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bench/tshark"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtp"
)

// mediaCall is one generated call: its SDP endpoints, codec and stream.
type mediaCall struct {
	callID string
	a, b   netip.AddrPort // caller's and callee's RTP endpoints
	pt     uint8
	codec  string
	clock  uint32
	rtp    gen.RTPConfig // sent from b to a
}

func sdpFor(ip string, port uint16, pt uint8, codec string, clock uint32) string {
	return "v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(int(port)) + " RTP/AVP " + strconv.Itoa(int(pt)) + " 101\r\n" +
		"a=rtpmap:" + strconv.Itoa(int(pt)) + " " + codec + "/" + strconv.Itoa(int(clock)) + "\r\na=rtpmap:101 telephone-event/8000\r\n"
}

func sipMsg(first, callID, cseq, body string) []byte {
	ct := ""
	if body != "" {
		ct = "Content-Type: application/sdp\r\n"
	}
	return []byte(first + "\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK" + cseq[:1] + "\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: " + cseq + "\r\n" + ct + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// TestMediaAgainstTshark: four generated calls (G.711 A-law with loss in
// runs of 3, reordering, duplicates and 0-30 ms jitter; Opus at 48 kHz
// with random loss; G.729 with an SSRC change; G.711 µ-law whose sequence
// wraps amid reordering, with a DTMF event) in one pcap;
// the agent's final report per stream (--read path) against tshark's
// -z rtp,streams and against hep/rtp run directly on the generated
// packets. Tolerances: packets and lost exact against tshark and the
// generator; max and mean jitter within 0.5 ms or 5 % of tshark's (the
// agent keeps jitter in integer timestamp units, tshark in floating ms).
func TestMediaAgainstTshark(t *testing.T) {
	tsharkBin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (scripts/deps.sh installs it)")
	}
	t0 := time.Unix(1764640000, 0)
	calls := []mediaCall{
		{"gen-pcma@x", netip.MustParseAddrPort("10.0.1.1:40000"), netip.MustParseAddrPort("10.0.1.2:30000"), 8, "PCMA", 8000,
			gen.RTPConfig{Seed: 1, Packets: 1500, PT: 8, Clock: 8000, SSRC: 0x1000, FirstSeq: 1000, Loss: 0.01, BurstLen: 3,
				Reorder: 0.01, Duplicate: 0.005, Jitter: 30 * time.Millisecond}},
		// Compared with the reference only (see tsharkDiffers): the sequence
		// wraps with reordering around it, and a DTMF event.
		{"gen-edge@x", netip.MustParseAddrPort("10.0.4.1:43000"), netip.MustParseAddrPort("10.0.4.2:33000"), 0, "PCMU", 8000,
			gen.RTPConfig{Seed: 4, Packets: 1000, PT: 0, Clock: 8000, SSRC: 0x4000, FirstSeq: 65000, Loss: 0.01, BurstLen: 2,
				Reorder: 0.02, Duplicate: 0.005, Jitter: 20 * time.Millisecond, DTMFAt: 700, DTMFPT: 101}},
		{"gen-opus@x", netip.MustParseAddrPort("10.0.2.1:41000"), netip.MustParseAddrPort("10.0.2.2:31000"), 111, "opus", 48000,
			gen.RTPConfig{Seed: 2, Packets: 1500, PT: 111, Clock: 48000, SSRC: 0x2000, FirstSeq: 1, Loss: 0.02,
				Jitter: 10 * time.Millisecond, PayloadLen: 80}},
		{"gen-g729@x", netip.MustParseAddrPort("10.0.3.1:42000"), netip.MustParseAddrPort("10.0.3.2:32000"), 18, "G729", 8000,
			gen.RTPConfig{Seed: 3, Packets: 1200, PT: 18, Clock: 8000, SSRC: 0x3000, FirstSeq: 500, Loss: 0.005,
				Jitter: 5 * time.Millisecond, PayloadLen: 20, SSRCChangeAt: 600}},
	}
	p := newPcap(t)
	ref := map[string]rtp.State{} // src>dst/ssrc → the reference state
	truth := map[string]gen.RTPTruth{}
	for i, c := range calls {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		p.udpAt(at, c.a.Addr().String(), "192.0.2.1", 5060, 5060, sipMsg("INVITE sip:b@192.0.2.1 SIP/2.0", c.callID, "1 INVITE", sdpFor(c.a.Addr().String(), c.a.Port(), c.pt, c.codec, c.clock)))
		p.udpAt(at.Add(time.Millisecond), "192.0.2.1", c.a.Addr().String(), 5060, 5060, sipMsg("SIP/2.0 200 OK", c.callID, "1 INVITE", sdpFor(c.b.Addr().String(), c.b.Port(), c.pt, c.codec, c.clock)))
	}
	type timed struct {
		at   time.Time
		c    int
		data []byte
	}
	var all []timed
	for i, c := range calls {
		c.rtp.Start = t0.Add(100 * time.Millisecond)
		pkts, tr := gen.GenerateRTP(c.rtp)
		truth[c.callID] = tr
		prm := rtp.NewParams(c.clock, 101)
		states := map[uint32]*rtp.State{}
		for _, pk := range pkts {
			all = append(all, timed{pk.At, i, pk.Data})
			var h rtp.Header
			if err := h.DecodeFromBytes(pk.Data); err != nil {
				t.Fatal(err)
			}
			if states[h.SSRC] == nil {
				states[h.SSRC] = &rtp.State{}
			}
			states[h.SSRC].Update(&prm, &h, uint32(len(pk.Data)), uint64(pk.At.UnixNano()))
		}
		for ssrc, s := range states {
			ref[c.b.String()+">"+c.a.String()+"/"+strconv.FormatUint(uint64(ssrc), 10)] = *s
		}
	}
	for i := 1; i < len(all); i++ { // merge the calls' packets in arrival order (insertion sort: nearly sorted)
		for j := i; j > 0 && all[j].at.Before(all[j-1].at); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	var last time.Time
	for _, x := range all {
		c := calls[x.c]
		p.udpAt(x.at, c.b.Addr().String(), c.a.Addr().String(), c.b.Port(), c.a.Port(), x.data)
		last = x.at
	}
	for _, c := range calls {
		p.udpAt(last.Add(time.Second), c.a.Addr().String(), "192.0.2.1", 5060, 5060, sipMsg("BYE sip:b@192.0.2.1 SIP/2.0", c.callID, "2 BYE", ""))
	}
	p.f.Close()

	// tshark's view
	ts, err := tshark.RTPStreams(tsharkBin, p.path)
	if err != nil {
		t.Fatal(err)
	}

	// the agent's view, from --read
	col := newCollector(t, "udp")
	cfg := testConfig(col.url)
	tr, err := media.New(media.Config{Interval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Media = tr
	runFile(t, cfg, p.path)
	wantStreams := len(ref)
	got := col.wait(t, len(calls)*3+wantStreams)
	n := 0
	for _, m := range got {
		if m.Proto != hep.ProtoMOSFull {
			continue
		}
		n++
		var j map[string]any
		if err := json.Unmarshal([]byte(m.Payload), &j); err != nil {
			t.Fatal(err)
		}
		key := m.Src + ">" + m.Dst + "/" + strconv.FormatUint(uint64(j["SSRC"].(float64)), 10)
		r, ok := ref[key]
		if !ok {
			t.Errorf("report for an unknown stream %s", key)
			continue
		}
		th, ok := ts[key]
		if !ok {
			t.Errorf("tshark has no stream %s (it has %v)", key, ts)
			continue
		}
		prm := rtp.NewParams(uint32(j["CLOCK"].(float64)), 101)
		pk, lost := int(j["TOTAL_PK"].(float64)), int(j["PACKET_LOSS"].(float64))
		maxJ, meanJ := j["MAX_JITTER"].(float64), j["MEAN_JITTER"].(float64)
		t.Logf("%s %s: agent pkts %d lost %d max jitter %.3f mean %.3f | tshark %d %d %.3f %.3f | MOS %.2f",
			key, j["CODEC_NAME"], pk, lost, maxJ, meanJ, th.Pkts, th.Lost, th.MaxJitter, th.MeanJitter, j["MEAN_MOS"])
		if math.Abs(maxJ-r.MaxJitterMS(&prm)) > 0.001 || math.Abs(meanJ-r.MeanJitterMS(&prm)) > 0.001 || int64(lost) != r.Lost() {
			t.Errorf("%s: agent jitter %.3f/%.3f lost %d, reference %.3f/%.3f lost %d", key, maxJ, meanJ, lost, r.MaxJitterMS(&prm), r.MeanJitterMS(&prm), r.Lost())
		}
		if tsharkDiffers[key] {
			// tshark takes the telephone-event packets (event-start
			// timestamps) into the jitter, the agent leaves them out of
			// A.8: jitter is checked against the reference only. (With
			// seed 1, 1,500 packets from sequence 65000, tshark 4.0 also
			// reported 65,587 lost where 51 were: a late packet just after
			// the wrap; this seed does not hit that.) Loss is checked
			// against the generator too.
			tg := truth["gen-edge@x"]
			if want := int64(tg.Lost[0x4000] - tg.Duplicated[0x4000]); r.Lost() != want {
				t.Errorf("%s: lost %d, generator: %d dropped − %d duplicated = %d", key, r.Lost(), tg.Lost[0x4000], tg.Duplicated[0x4000], want)
			}
			if pk != th.Pkts || lost != th.Lost || r.DTMFEvents != 1 || r.Cycles != 65536 {
				t.Errorf("%s: packets %d lost %d (tshark %d %d), DTMF events %d, cycles %d", key, pk, lost, th.Pkts, th.Lost, r.DTMFEvents, r.Cycles)
			}
			continue
		}
		if pk != th.Pkts || pk != int(r.Packets) {
			t.Errorf("%s: packets agent %d, tshark %d, reference %d", key, pk, th.Pkts, r.Packets)
		}
		if lost != th.Lost || int64(lost) != r.Lost() {
			t.Errorf("%s: lost agent %d, tshark %d, reference %d", key, lost, th.Lost, r.Lost())
		}
		if !jitterClose(maxJ, th.MaxJitter) || !jitterClose(meanJ, th.MeanJitter) {
			t.Errorf("%s: jitter agent max %.3f mean %.3f, tshark %.3f %.3f: beyond 0.5 ms or 5 %%", key, maxJ, meanJ, th.MaxJitter, th.MeanJitter)
		}
	}
	if n != wantStreams {
		t.Errorf("%d reports, want one per stream (%d)", n, wantStreams)
	}
	// the generator's own truth for the streams without duplicates or SSRC change
	tp := truth["gen-opus@x"]
	if r := ref["10.0.2.2:31000>10.0.2.1:41000/8192"]; r.Lost() != int64(tp.Lost[0x2000]) {
		t.Errorf("opus: reference lost %d, generator dropped %d", r.Lost(), tp.Lost[0x2000])
	}
}

// tsharkDiffers: the streams whose jitter is compared with the reference
// only (DTMF inside).
var tsharkDiffers = map[string]bool{"10.0.4.2:33000>10.0.4.1:43000/16384": true}

func jitterClose(a, b float64) bool { d := math.Abs(a - b); return d <= 0.5 || d <= 0.05*math.Abs(b) }
