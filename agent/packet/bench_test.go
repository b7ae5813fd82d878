package packet

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
)

// sipOfSize is a SIP INVITE of exactly n bytes (n >= 400).
func sipOfSize(n int) []byte {
	body := n - len(sipMsg("INVITE", "", 0))
	for len(sipMsg("INVITE", "", body)) > n {
		body-- // Content-Length gained digits
	}
	return sipMsg("INVITE", "", body)
}

// benchDecode decodes frames in a loop; prepare, if set, rewrites the
// frames before each round (sequence numbers).
func benchDecode(b *testing.B, frames []source.Frame, msgsPerRound int, prepare func(round int)) {
	d, err := NewDecoder(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	emit := func(m *Message) { n++ }
	b.ReportAllocs()
	round := 0
	cpu, cpuOK := threadCPU()
	for b.Loop() {
		if prepare != nil {
			prepare(round)
		}
		round++
		for i := range frames {
			d.Decode(&frames[i], emit)
		}
	}
	b.StopTimer()
	reportRates(b, round*len(frames), cpu, cpuOK)
	if n != round*msgsPerRound {
		b.Fatalf("emitted %d messages in %d rounds, want %d per round", n, round, msgsPerRound)
	}
	if e := d.Stats().Errors; e != ([NumReasons]uint64{}) {
		b.Fatalf("errors: %v", e)
	}
}

// reportRates reports packets per wall-clock second and, where the
// thread's CPU time is known, per CPU-second (the figure that holds on a
// shared, loaded machine).
func reportRates(b *testing.B, pkts int, cpu func() int64, cpuOK bool) {
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
	if cpuOK {
		if ns := cpu(); ns > 0 {
			b.ReportMetric(float64(pkts)/(float64(ns)/1e9), "pkts/cpu-s")
		}
	}
}

// BenchmarkDecodeUDPSIP: one SIP message over Ethernet/IPv4/UDP per frame
// (600 bytes of SIP is the reference size).
func BenchmarkDecodeUDPSIP(b *testing.B) {
	for _, size := range []int{600, 400, 1400} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			f := frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(sipOfSize(size))))
			benchDecode(b, []source.Frame{f}, 1, nil)
		})
	}
	// As from the ring buffer: the kernel's match class on the frame.
	b.Run("600-kernel-match", func(b *testing.B) {
		f := frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(sipOfSize(600))))
		f.Match = bpf.ClassSIP
		benchDecode(b, []source.Frame{f}, 1, nil)
	})
}

// BenchmarkDecodeRTCP: one RTCP SR+SDES compound packet over
// Ethernet/IPv4/UDP per frame, on ports that are no SIP or DNS ports, with
// and without the kernel's match class.
func BenchmarkDecodeRTCP(b *testing.B) {
	for _, match := range []uint8{0, bpf.ClassRTCP} {
		b.Run(fmt.Sprintf("match=%d", match), func(b *testing.B) {
			f := frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, rtcpSRSDES))))
			f.Match = match
			benchDecode(b, []source.Frame{f}, 1, nil)
		})
	}
}

// BenchmarkDecodeTCPSplit: a 600-byte SIP message split over two TCP
// segments of one connection (the second completes it), sequence numbers
// advancing every round.
func BenchmarkDecodeTCPSplit(b *testing.B) {
	p := sipOfSize(600)
	fs := []source.Frame{tcpC(0, 5060, 0, fACK, p[:300]), tcpC(1, 5060, 0, fACK, p[300:])}
	seq := func(f source.Frame) []byte { return f.Data[14+20+4 : 14+20+8] } // eth + ipv4, TCP seq field
	benchDecode(b, fs, 1, func(round int) {
		base := uint32(round * len(p))
		binary.BigEndian.PutUint32(seq(fs[0]), base)
		binary.BigEndian.PutUint32(seq(fs[1]), base+300)
	})
}

// BenchmarkDecodeTCPWhole: one whole 600-byte SIP message per TCP segment
// (the zero-copy path).
func BenchmarkDecodeTCPWhole(b *testing.B) {
	p := sipOfSize(600)
	fs := []source.Frame{tcpC(0, 5060, 0, fACK, p)}
	benchDecode(b, fs, 1, func(round int) {
		binary.BigEndian.PutUint32(fs[0].Data[14+20+4:], uint32(round*len(p)))
	})
}

// BenchmarkDefrag: a 3000-byte SIP datagram in three IPv4 fragments.
func BenchmarkDefrag(b *testing.B) {
	u := udp(5060, 5060, sipOfSize(3000-8))
	fs := v4frags(1, u, frag{0, 1480}, frag{1480, 2960}, frag{2960, len(u)})
	benchDecode(b, fs, 1, nil)
}

// BenchmarkDecodeWebSocket: a masked 600-byte SIP message in one
// WebSocket frame per TCP segment.
func BenchmarkDecodeWebSocket(b *testing.B) {
	p := sipOfSize(600)
	upgrade := []byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	w := wsFrame(true, 1, []byte{1, 2, 3, 4}, p)
	// Each round sends a fresh masked frame (it is unmasked in the stream
	// buffer, not in the frame).
	fs := []source.Frame{tcpC(0, 8080, 0, fACK, w)}
	d, err := NewDecoder(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	up := tcpC(0, 8080, 0, fACK, upgrade)
	d.Decode(&up, func(*Message) {})
	n := 0
	b.ReportAllocs()
	round := 0
	cpu, cpuOK := threadCPU()
	for b.Loop() {
		binary.BigEndian.PutUint32(fs[0].Data[14+20+4:], uint32(len(upgrade)+round*len(w)))
		round++
		d.Decode(&fs[0], func(*Message) { n++ })
	}
	b.StopTimer()
	reportRates(b, round, cpu, cpuOK)
	if n != round {
		b.Fatalf("emitted %d messages in %d rounds", n, round)
	}
}

// TestZeroAllocs guards the steady-state hot paths: UDP SIP, TCP SIP one
// message per segment and split over two, and defragmentation allocate
// nothing per packet once warmed up.
func TestZeroAllocs(t *testing.T) {
	p := sipOfSize(600)
	udpF := frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(p)))
	whole := tcpC(0, 5060, 0, fACK, p)
	split := []source.Frame{tcpC(0, 5060, 0, fACK, p[:300]), tcpC(1, 5060, 0, fACK, p[300:])}
	u := udp(5060, 5060, sipOfSize(3000-8))
	frags := v4frags(1, u, frag{0, 1480}, frag{1480, 2960}, frag{2960, len(u)})
	d, err := NewDecoder(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	emit := func(*Message) { n++ }
	seq := uint32(0)
	setSeq := func(f source.Frame, s uint32) { binary.BigEndian.PutUint32(f.Data[14+20+4:], s) }
	cases := []struct {
		name string
		fn   func()
	}{
		{"udp sip", func() { d.Decode(&udpF, emit) }},
		{"tcp whole", func() {
			setSeq(whole, seq)
			seq += uint32(len(p))
			d.Decode(&whole, emit)
		}},
		{"tcp split", func() {
			setSeq(split[0], seq)
			setSeq(split[1], seq+300)
			seq += uint32(len(p))
			d.Decode(&split[0], emit)
			d.Decode(&split[1], emit)
		}},
		{"defrag", func() {
			for i := range frags {
				d.Decode(&frags[i], emit)
			}
		}},
	}
	for _, c := range cases {
		seq = 0
		d.Expire(math.MaxInt64, emit) // start each case with fresh streams
		n = 0
		if a := testing.AllocsPerRun(1000, c.fn); a != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, a)
		}
		if n != 1001 {
			t.Errorf("%s: %d messages in 1001 runs", c.name, n)
		}
	}
}

// TestZeroAllocsFramers: the WebSocket framer (masked frame per segment,
// unmasked in the stream buffer) and the HEP framer of Config.HEP (one
// message per segment, and one split over two) allocate nothing per
// packet once warmed up.
func TestZeroAllocsFramers(t *testing.T) {
	upgrade := []byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	w := wsFrame(true, 1, []byte{1, 2, 3, 4}, sipOfSize(600))
	ws := tcpC(0, 8080, 0, fACK, w)
	pristine := slices.Clone(ws.Data)
	hm := cat([]byte("HEP3"), u16(600), make([]byte, 594))
	whole := tcpC(0, 9061, 0, fACK, hm)
	split := []source.Frame{tcpC(0, 9061, 0, fACK, hm[:250]), tcpC(0, 9061, 0, fACK, hm[250:])}
	sp := sipOfSize(600)
	sipSplit := []source.Frame{tcpC(0, 5060, 0, fACK, sp[:300]), tcpC(0, 5060, 0, fACK, sp[300:])}
	hepCfg := DefaultConfig()
	hepCfg.HEP = true
	setSeq := func(f source.Frame, s uint32) { binary.BigEndian.PutUint32(f.Data[14+20+4:], s) }
	cases := []struct {
		name string
		cfg  Config
		prep func(d *Decoder)
		fn   func(d *Decoder, round uint32, emit func(*Message))
	}{
		{"websocket", DefaultConfig(), func(d *Decoder) {
			up := tcpC(0, 8080, 0, fACK, upgrade)
			d.Decode(&up, func(*Message) {})
		}, func(d *Decoder, r uint32, emit func(*Message)) {
			copy(ws.Data, pristine) // a masked frame as captured
			setSeq(ws, uint32(len(upgrade))+r*uint32(len(w)))
			d.Decode(&ws, emit)
		}},
		{"hep tcp whole", hepCfg, nil, func(d *Decoder, r uint32, emit func(*Message)) {
			setSeq(whole, r*uint32(len(hm)))
			d.Decode(&whole, emit)
		}},
		{"sip tcp split", DefaultConfig(), nil, func(d *Decoder, r uint32, emit func(*Message)) {
			setSeq(sipSplit[0], r*uint32(len(sp)))
			setSeq(sipSplit[1], r*uint32(len(sp))+300)
			d.Decode(&sipSplit[0], emit)
			d.Decode(&sipSplit[1], emit)
		}},
		{"hep tcp split", hepCfg, nil, func(d *Decoder, r uint32, emit func(*Message)) {
			setSeq(split[0], r*uint32(len(hm)))
			setSeq(split[1], r*uint32(len(hm))+250)
			d.Decode(&split[0], emit)
			d.Decode(&split[1], emit)
		}},
	}
	for _, c := range cases {
		d, err := NewDecoder(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.prep != nil {
			c.prep(d)
		}
		n, round := 0, uint32(0)
		emit := func(*Message) { n++ }
		a := testing.AllocsPerRun(1000, func() {
			c.fn(d, round, emit)
			round++
		})
		if a != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, a)
		}
		if n != 1001 {
			t.Errorf("%s: %d messages in 1001 runs", c.name, n)
		}
	}
}
