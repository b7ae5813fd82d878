package rtp

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// pkt builds an RTP packet: V=2, no CSRC, the given marker, PT, sequence,
// timestamp and SSRC, then n bytes of payload.
func pkt(m bool, pt uint8, seq uint16, ts, ssrc uint32, n int) []byte {
	b := make([]byte, HeaderLen+n)
	b[0] = 0x80
	b[1] = pt
	if m {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

func TestHeaderDecode(t *testing.T) {
	ext := pkt(true, 8, 7, 160, 0xdeadbeef, 20)
	ext[0] |= 0x10 | 2 // X and two CSRCs
	ext = append(ext[:12], append(make([]byte, 8), 0xbe, 0xde, 0, 1, 1, 2, 3, 4)...)
	tests := []struct {
		name string
		b    []byte
		want Header
		err  error
	}{
		// 80 00 00 01 | 00 00 00 a0 | 00 00 30 39 | payload
		{"pcmu", pkt(false, 0, 1, 160, 12345, 160), Header{PT: 0, Seq: 1, Timestamp: 160, SSRC: 12345, PayloadOff: 12}, nil},
		// 90+2 88 00 07 ... two CSRCs, extension of one word: payload at 12+8+4+4
		{"csrc+ext", ext, Header{Marker: true, Extension: true, CSRCCount: 2, PT: 8, Seq: 7, Timestamp: 160, SSRC: 0xdeadbeef, PayloadOff: 28}, nil},
		{"short", []byte{0x80, 0, 0}, Header{}, ErrShort},
		{"v1", append([]byte{0x40}, make([]byte, 11)...), Header{}, ErrVersion},
		{"rtcp-mux SR", pkt(true, 200-128, 0, 0, 1, 0), Header{}, ErrRTCP},
		{"ext beyond end", append([]byte{0x90}, make([]byte, 11)...), Header{}, ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			err := h.DecodeFromBytes(tt.b)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil {
				if d := cmp.Diff(tt.want, h); d != "" {
					t.Errorf("(-want +got)\n%s", d)
				}
			}
		})
	}
}

// arrival describes one packet of a test stream.
type arrival struct {
	seq uint16
	ts  uint32
	at  uint64 // ns
	pt  uint8
	m   bool
}

// audio returns n packets of 20 ms G.711 starting at seq0, with timestamp
// and arrival in step; drop removes sequence offsets.
func audio(seq0 uint16, n int, drop ...int) []arrival {
	skip := map[int]bool{}
	for _, d := range drop {
		skip[d] = true
	}
	var out []arrival
	for i := 0; i < n; i++ {
		if skip[i] {
			continue
		}
		out = append(out, arrival{seq: seq0 + uint16(i), ts: uint32(i) * 160, at: uint64(i) * 20e6})
	}
	return out
}

func run(p Params, as []arrival) State {
	var s State
	for _, a := range as {
		h := Header{Seq: a.seq, Timestamp: a.ts, PT: a.pt, Marker: a.m, SSRC: 1}
		s.Update(&p, &h, 172, a.at+1e9)
	}
	return s
}

type seqView struct {
	Packets, Expected uint32
	Lost              int64
	Dup, OOO, Resets  uint32
	ExtMax            uint32
	Bursts            [BurstBuckets]uint32
}

func view(s State) seqView {
	return seqView{uint32(s.Packets), s.Expected(), s.Lost(), s.Duplicates, s.OutOfOrder, s.SeqResets, s.ExtMaxSeq(), s.Bursts}
}

func TestSequence(t *testing.T) {
	p := NewParams(8000, 101)
	swap := audio(10, 10)
	swap[4], swap[5] = swap[5], swap[4]
	dup := audio(10, 10)
	dup = append(dup[:6], append([]arrival{dup[5]}, dup[6:]...)...)
	restart := append(audio(100, 5), audio(40000, 5)...)
	for i := 5; i < 10; i++ {
		restart[i].ts, restart[i].at = uint32(i)*160, uint64(i)*20e6
	}
	single := append(audio(100, 5), arrival{seq: 40000, ts: 800, at: 100e6})
	single = append(single, audio(105, 3)...)
	for i := 6; i < 9; i++ {
		single[i].ts, single[i].at = uint32(i-1)*160, uint64(i)*20e6
	}
	tests := []struct {
		name string
		as   []arrival
		want seqView
	}{
		{"clean", audio(1000, 50), seqView{Packets: 50, Expected: 50, ExtMax: 1049}},
		// 65530..65535, 0..13: one wrap, cycles = 65536
		{"wrap", audio(65530, 20), seqView{Packets: 20, Expected: 20, ExtMax: 65536 + 13}},
		// offsets 3 lost, 10-12 lost, 20-33 lost (14: bucket 10+)
		{"loss runs", audio(0, 40, 3, 10, 11, 12, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33), seqView{
			Packets: 22, Expected: 40, Lost: 18, ExtMax: 39, Bursts: [BurstBuckets]uint32{0: 1, 2: 1, 9: 1}}},
		// 14 before 13: a gap of one when 15 arrives... recorded at arrival, then 14 is late
		{"swap", swap, seqView{Packets: 10, Expected: 10, OOO: 1, ExtMax: 19, Bursts: [BurstBuckets]uint32{0: 1}}},
		// RFC 3550 counts a duplicate as received: lost = -1
		{"duplicate", dup, seqView{Packets: 11, Expected: 10, Lost: -1, Dup: 1, ExtMax: 19}},
		// a jump past MaxDropout confirmed by the next packet: a reset; 5 + 4 expected
		// (the first packet after the jump only arms bad_seq)
		{"restart", restart, seqView{Packets: 10, Expected: 9, Resets: 1, ExtMax: 40004}},
		// one stray packet far away: ignored by A.1, the stream goes on
		{"stray", single, seqView{Packets: 9, Expected: 8, ExtMax: 107}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, view(run(p, tt.as))); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// floatJitter is RFC 3550 A.8 as written there, in floating point:
// J += (|D| - J)/16, D from arrival and RTP timestamps in seconds×clock.
func floatJitter(clock float64, as []arrival) (j, maxJ float64) {
	var prev float64
	for i, a := range as {
		transit := float64(a.at)/1e9*clock - float64(a.ts)
		if i > 0 {
			d := math.Abs(transit - prev)
			j += (d - j) / 16
			maxJ = math.Max(maxJ, j)
		}
		prev = transit
	}
	return j, maxJ
}

func TestJitterAgainstFloat(t *testing.T) {
	// a seeded pseudo-random delay of 0..40 ms on each 20 ms packet
	x := uint32(12345)
	as := audio(0, 500)
	for i := range as {
		x = x*1664525 + 1013904223
		as[i].at += uint64(x>>16%40) * 1e6
	}
	for _, clock := range []uint32{8000, 16000, 48000} {
		p := NewParams(clock, 0)
		cas := make([]arrival, len(as))
		copy(cas, as)
		for i := range cas {
			cas[i].ts = uint32(uint64(i) * 20 * uint64(clock) / 1000)
		}
		s := run(p, cas)
		j, maxJ := floatJitter(float64(clock), cas)
		got, gotMax := float64(s.Jitter16)/16, float64(s.MaxJitterNs)*float64(clock)/1e9
		// integer truncation of arrival (1 unit) and of the ×16 update
		if math.Abs(got-j) > 1.5 || math.Abs(gotMax-maxJ) > 1.5 {
			t.Errorf("clock %d: jitter %.2f max %.2f, float reference %.2f max %.2f", clock, got, gotMax, j, maxJ)
		}
		if j < 10 {
			t.Errorf("clock %d: reference jitter %.2f: the test delays did not vary", clock, j)
		}
	}
}

// floatJitterPT is floatJitter with each packet at its payload type's
// clock: a change of clock restarts the transit and rescales J.
func floatJitterPT(clockOf func(pt uint8) float64, as []arrival) (jMS, maxMS float64) {
	var prev, j, c float64
	for _, a := range as {
		ci := clockOf(a.pt)
		transit := float64(a.at)/1e9*ci - float64(a.ts)
		if ci != c {
			if c != 0 {
				j = j * ci / c
			}
			c = ci
		} else {
			d := math.Abs(transit - prev)
			j += (d - j) / 16
			maxMS = math.Max(maxMS, j*1000/c)
		}
		prev = transit
	}
	return j * 1000 / c, maxMS
}

// TestJitterPerPTClock: Opus (48 kHz) switching to PCMA (8 kHz) and back,
// with telephone-event (8 kHz) in between: the jitter of each packet is
// in its payload type's clock, the ms figures match a float reference.
func TestJitterPerPTClock(t *testing.T) {
	p := NewParams(48000, 101)
	if !p.SetPT(111, 48000) || !p.SetPT(8, 8000) || !p.SetPT(101, 8000) || !p.SetPT(96, 90000) || !p.SetPT(9, 16000) {
		t.Fatal("SetPT refused a 4th clock")
	}
	if p.SetPT(97, 44100) {
		t.Error("SetPT took a 5th clock")
	}
	if got := [5]uint32{p.ClockOf(111).Hz, p.ClockOf(8).Hz, p.ClockOf(9).Hz, p.ClockOf(97).Hz, p.ClockOf(0).Hz}; got != [5]uint32{48000, 8000, 16000, 48000, 48000} {
		t.Errorf("clocks of 111, 8, 9, 97, 0: %v", got)
	}
	x := uint32(99)
	var as []arrival
	var ts uint32
	for i := 0; i < 600; i++ {
		pt, step := uint8(111), uint32(960)
		if i >= 200 && i < 400 {
			pt, step = 8, 160
		}
		if i == 200 || i == 400 {
			ts = uint32(i) * 7777 // a new timestamp base with the codec
		}
		x = x*1664525 + 1013904223
		a := arrival{seq: uint16(i), ts: ts, pt: pt, at: uint64(i)*20e6 + uint64(x>>16%30)*1e6}
		ts += step
		if i >= 300 && i < 305 {
			a.pt, a.ts = 101, 300*160 // one DTMF event: no jitter sample
		}
		as = append(as, a)
	}
	clockOf := func(pt uint8) float64 { return float64(p.ClockOf(pt).Hz) }
	var noDTMF []arrival
	for _, a := range as {
		if a.pt != 101 {
			noDTMF = append(noDTMF, a)
		}
	}
	s := run(p, as)
	j, maxJ := floatJitterPT(clockOf, noDTMF)
	if s.PTChanges != 2 || s.Clock != 48000 || s.DTMFEvents != 1 {
		t.Errorf("pt changes %d clock %d dtmf %d, want 2 48000 1", s.PTChanges, s.Clock, s.DTMFEvents)
	}
	// truncation: one timestamp unit of arrival, ±1 of the ×16 update
	if got := s.JitterMS(&p); math.Abs(got-j) > 0.1 {
		t.Errorf("jitter %.3f ms, float reference %.3f", got, j)
	}
	if got := s.MaxJitterMS(&p); math.Abs(got-maxJ) > 0.2 || maxJ < 3 {
		t.Errorf("max jitter %.3f ms, float reference %.3f", got, maxJ)
	}
	// one clock for all (the old behaviour) would be far off: the test can fail
	one := NewParams(48000, 101)
	if s1 := run(one, as); math.Abs(s1.MaxJitterMS(&one)-maxJ) < 1 {
		t.Errorf("one 48 kHz clock gives max jitter %.3f, per-PT reference %.3f: the scenario does not tell them apart", s1.MaxJitterMS(&one), maxJ)
	}
}

func TestJitterSteady(t *testing.T) {
	p := NewParams(8000, 0)
	s := run(p, audio(0, 100))
	if s.Jitter16 != 0 || s.MaxJitterNs != 0 || s.DV[0] != 100 {
		t.Errorf("steady stream: jitter16 %d max %d ns dv %v", s.Jitter16, s.MaxJitterNs, s.DV)
	}
	if s.MaxDelta != 20e6 {
		t.Errorf("max delta %d, want 20 ms", s.MaxDelta)
	}
}

func TestDelayVariationAndDiscards(t *testing.T) {
	p := NewParams(8000, 0)
	as := audio(0, 10)
	as[3].at += 45e6 // 45 ms late: bucket (40,50]
	as[7].at += 90e6 // 90 ms late: bucket (80,100]
	s := run(p, as)
	want := [DVBuckets]uint32{0: 8, 4: 1, 7: 1}
	if d := cmp.Diff(want, s.DV); d != "" {
		t.Errorf("DV (-want +got)\n%s", d)
	}
	if got := s.Discards(60); got != 1 {
		t.Errorf("discards at 60 ms = %d, want 1", got)
	}
	if got := s.Discards(40); got != 2 {
		t.Errorf("discards at 40 ms = %d, want 2", got)
	}
}

func TestDTMFAndPT(t *testing.T) {
	p := NewParams(8000, 101)
	as := audio(0, 20)
	// packets 5..10 are one DTMF event (same timestamp), 14..15 another;
	// packet 17 onward switch to PCMA (8)
	for i := 5; i <= 10; i++ {
		as[i].pt, as[i].ts = 101, 5*160
	}
	as[5].m = true
	for i := 14; i <= 15; i++ {
		as[i].pt, as[i].ts = 101, 14*160
	}
	as[14].m = true
	for i := 17; i < 20; i++ {
		as[i].pt = 8
	}
	s := run(p, as)
	got := [4]uint32{s.DTMFPkts, s.DTMFEvents, s.PTChanges, s.Markers}
	if d := cmp.Diff([4]uint32{8, 2, 1, 2}, got); d != "" {
		t.Errorf("dtmf pkts, events, pt changes, markers (-want +got)\n%s", d)
	}
	if s.Jitter16 != 0 {
		t.Errorf("jitter %d: DTMF timestamps leaked into the jitter", s.Jitter16)
	}
}

func TestMOSFromR(t *testing.T) {
	// G.107 Annex B; 93.2 → 4.41 is G.107's default connection, 80.2 →
	// 4.032 is the pair in sipcapture's hepgen rtpagent example.
	for _, c := range []struct{ r, mos float64 }{
		{93.2, 4.409}, {80.2, 4.032}, {70, 3.597}, {50, 2.575}, {0, 1}, {-5, 1}, {100, 4.5}, {120, 4.5},
	} {
		if got := MOSFromR(c.r); math.Abs(got-c.mos) > 0.0005 {
			t.Errorf("MOS(R=%v) = %.4f, want %.3f", c.r, got, c.mos)
		}
	}
}

func TestEModel(t *testing.T) {
	m := DefaultEModel()
	tests := []struct {
		name                string
		c                   Codec
		exp                 uint64
		lost                int64
		disc, runs          uint64
		netDelay            float64
		wantR, wantMOS, ppl float64
		burstR              float64
	}{
		// no loss: R is Base − Ie
		{"G.711 clean", CodecG711, 1000, 0, 0, 0, 0, 93.2, 4.409, 0, 1},
		{"G.729 clean", CodecG729, 1000, 0, 0, 0, 0, 82.2, 4.104, 0, 1},
		{"AMR clean", CodecAMR, 1000, 0, 0, 0, 0, 88.2, 4.292, 0, 1},
		// 1 % random loss (10 runs of 1): Ie,eff = 95·1/(1+25.1) = 3.640
		{"G.711 1% random", CodecG711, 1000, 10, 0, 10, 0, 89.560, 4.328, 1, 0.99},
		// 2 % in runs of 2 on 1000: p = 10/980, q = 10/20, BurstR = 1/(p+q) = 1.960
		// Ie,eff = 11 + 84·2/(2/1.96+19) = 19.392
		{"G.729 2% bursty", CodecG729, 1000, 20, 0, 10, 0, 73.808, 3.770, 2, 1.960},
		// discards count as loss: 5 lost + 5 discarded = 1 %
		{"G.711 discards", CodecG711, 1000, 5, 5, 10, 0, 89.560, 4.328, 1, 0.99},
		// Ta = 140 + 60 buffer + 0.125 codec ≈ 200 ms: Idd = 3.044 (X = 1)
		{"G.711 200 ms", CodecG711, 1000, 0, 0, 0, 139.875, 90.156, 4.343, 0, 1},
		// duplicates (negative lost) are no loss
		{"negative lost", CodecG711, 1000, -3, 0, 0, 0, 93.2, 4.409, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm := m
			mm.NetworkDelay = tt.netDelay
			q := mm.Rate(tt.c, tt.exp, tt.lost, tt.disc, tt.runs)
			if math.Abs(q.R-tt.wantR) > 0.01 || math.Abs(q.MOS-tt.wantMOS) > 0.001 ||
				math.Abs(q.Ppl-tt.ppl) > 1e-9 || math.Abs(q.BurstR-tt.burstR) > 0.001 {
				t.Errorf("R %.3f MOS %.3f Ppl %.3f BurstR %.3f, want R %.3f MOS %.3f Ppl %.3f BurstR %.3f",
					q.R, q.MOS, q.Ppl, q.BurstR, tt.wantR, tt.wantMOS, tt.ppl, tt.burstR)
			}
		})
	}
}

func TestCodecFor(t *testing.T) {
	for _, c := range []struct {
		name string
		pt   uint8
		want string
	}{
		{"", 0, "G711"}, {"", 8, "G711"}, {"", 18, "G729"}, {"", 9, "G722"}, {"", 3, "unknown"},
		{"pcma", 96, "G711"}, {"G729", 18, "G729"}, {"AMR", 97, "AMR"}, {"opus", 111, "opus"}, {"AMR-WB", 98, "unknown"},
	} {
		if got := CodecFor([]byte(c.name), c.pt).Name; got != c.want {
			t.Errorf("CodecFor(%q, %d) = %s, want %s", c.name, c.pt, got, c.want)
		}
	}
}

func TestReportJSON(t *testing.T) {
	p := NewParams(8000, 101)
	s := run(p, audio(0, 100, 10, 11, 50))
	r := Report{
		CallID: []byte(`a"b@host`), Type: TypePeriodic, TimeNs: 1_700_000_000_500_000_000,
		Src: netip.MustParseAddrPort("192.0.2.1:4000"), Dst: netip.MustParseAddrPort("[2001:db8::2]:5000"),
		SSRC: 7, PT: 0, Codec: []byte("PCMU"), Params: p, State: s, Model: DefaultEModel(),
	}
	var rp Reporter
	rp.Next(&r, CodecG711)
	b := r.AppendJSON(nil, 0)
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	want := map[string]any{
		"CORRELATION_ID": `a"b@host`, "RTP_SIP_CALL_ID": `a"b@host`, "TYPE": "PERIODIC",
		"TOTAL_PK": 97.0, "EXPECTED_PK": 100.0, "PACKET_LOSS": 3.0, "SEQ": 99.0,
		"SRC_IP": "192.0.2.1", "SRC_PORT": 4000.0, "DST_IP": "2001:db8::2", "DST_PORT": 5000.0,
		"CODEC_PT": 0.0, "CLOCK": 8000.0, "CODEC_NAME": "PCMU", "JITTER": 0.0, "MAX_DELTA": 60.0,
		"LOSS_BURSTS": []any{1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, "MODEL": "G.107",
	}
	for k, v := range want {
		if d := cmp.Diff(v, got[k]); d != "" {
			t.Errorf("%s (-want +got)\n%s", k, d)
		}
	}
	// 3 lost of 100 in 2 runs: the MOS is below the clean 4.41 and it is the mean and minimum
	if mos := got["MOS"].(float64); mos >= 4.40 || mos < 3.5 || got["MEAN_MOS"] != mos || got["MIN_MOS"] != mos {
		t.Errorf("MOS %v MEAN %v MIN %v", mos, got["MEAN_MOS"], got["MIN_MOS"])
	}
	for _, k := range []string{"DELTA", "MEAN_JITTER", "MAX_JITTER", "RFACTOR", "TL_BYTE", "REPORT_TS", "OUT_ORDER", "SSRC_CHG", "DIR", "REPORT_NAME", "PARTY", "DV_HIST", "DISCARDS", "PPL", "BURST_R"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	// a second, clean interval: MOS back to 4.41, the minimum stays
	r.State = run(p, append(audio(0, 100, 10, 11, 50), audio(100, 100)...))
	rp.Next(&r, CodecG711)
	if r.Rating.MOS < 4.40 || r.MinMOS >= 4.40 || r.MeanMOS <= r.MinMOS {
		t.Errorf("second interval: MOS %.3f min %.3f mean %.3f", r.Rating.MOS, r.MinMOS, r.MeanMOS)
	}
}

func TestUpdateAllocs(t *testing.T) {
	p := NewParams(8000, 101)
	var s State
	h := Header{Seq: 1, Timestamp: 160, SSRC: 1}
	var at uint64 = 1e9
	if n := testing.AllocsPerRun(1000, func() {
		h.Seq++
		h.Timestamp += 160
		at += 20e6
		s.Update(&p, &h, 172, at)
	}); n != 0 {
		t.Errorf("%v allocations per Update", n)
	}
}

func BenchmarkUpdate(b *testing.B) {
	p := NewParams(8000, 101)
	var s State
	h := Header{Seq: 1, Timestamp: 160, SSRC: 1}
	var at uint64 = 1e9
	b.ReportAllocs()
	for b.Loop() {
		h.Seq++
		h.Timestamp += 160
		at += 20e6
		s.Update(&p, &h, 172, at)
	}
}
