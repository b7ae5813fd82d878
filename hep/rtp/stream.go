package rtp

// Limits of RFC 3550 Appendix A.1.
const (
	MaxDropout  = 3000 // a forward jump up to this many is a gap, beyond it a possible restart
	MaxMisorder = 100  // a backward step up to this many is reordering
	seqMod      = 1 << 16
)

// BurstBuckets is the number of loss-run buckets: runs of 1..9 lost
// packets, and 10 or more in the last bucket.
const BurstBuckets = 10

// DVBoundsMS are the upper bounds, in milliseconds, of the delay-variation
// buckets: a packet's transit time minus the smallest transit time of the
// stream so far falls into the first bucket whose bound it does not
// exceed, or into the last one (above 200 ms). A fixed jitter buffer of B
// ms (B one of these bounds) discards the packets in the buckets above B.
var DVBoundsMS = [DVBuckets - 1]uint32{10, 20, 30, 40, 50, 60, 80, 100, 150, 200}

// DVBuckets is the number of delay-variation buckets.
const DVBuckets = 11

// MaxClocks is the number of distinct clock rates one endpoint's payload
// types can have (bpf/rtp.h RTP_CLOCKS): the default and three more.
const MaxClocks = 4

// Clock is one RTP clock rate in the form the per-packet update needs.
type Clock struct {
	Hz uint32
	// NsQ8 is the length of one timestamp unit in ns ×256 (1e9×256/Hz,
	// rounded): jitter and delay variation are turned into ns by a
	// multiplication, so no division by the clock rate happens per packet
	// beyond the arrival time's.
	NsQ8 uint64
}

// MinClock is the smallest clock rate kept (smaller ones, and 0, are
// taken as 8000): it bounds NsQ8 so that the ns figures cannot overflow.
const MinClock = 1000

func newClock(hz uint32) Clock {
	if hz < MinClock {
		hz = 8000
	}
	return Clock{Hz: hz, NsQ8: (uint64(1e9)<<8 + uint64(hz)/2) / uint64(hz)}
}

// Params are what the SDP says about a stream, in the form the per-packet
// update needs: each payload type's clock rate (a=rtpmap, RFC 3551 static
// types) as an index into Clocks, and the telephone-event type.
type Params struct {
	DTMFPT uint8 // the telephone-event payload type (RFC 4733), 0 if none announced
	// Clocks[0] is the default clock (the first codec's), for payload
	// types without one of their own.
	Clocks [MaxClocks]Clock
	// PTClock[pt] is the index in Clocks of payload type pt's clock.
	PTClock [128]uint8
}

// NewParams returns the Params of a stream whose payload types all have
// the given clock rate (0 means 8000), with telephone-event type dtmfPT.
func NewParams(clock uint32, dtmfPT uint8) Params {
	p := Params{DTMFPT: dtmfPT}
	p.Clocks[0] = newClock(clock)
	return p
}

// SetPT gives payload type pt its own clock rate. It reports false, and pt
// keeps the default clock, when MaxClocks different rates are taken.
func (p *Params) SetPT(pt uint8, hz uint32) bool {
	c := newClock(hz)
	for i := range p.Clocks {
		if p.Clocks[i].Hz == c.Hz {
			p.PTClock[pt&127] = uint8(i)
			return true
		}
		if p.Clocks[i].Hz == 0 {
			p.Clocks[i] = c
			p.PTClock[pt&127] = uint8(i)
			return true
		}
	}
	p.PTClock[pt&127] = 0
	return false
}

// ClockOf is payload type pt's clock.
func (p *Params) ClockOf(pt uint8) Clock {
	c := p.Clocks[p.PTClock[pt&127]&(MaxClocks-1)]
	if c.Hz == 0 {
		return newClock(0)
	}
	return c
}

// dvBoundsNs are DVBoundsMS in ns.
var dvBoundsNs = func() (b [DVBuckets - 1]uint64) {
	for i, ms := range DVBoundsMS {
		b[i] = uint64(ms) * 1e6
	}
	return b
}()

// State is the per-stream state, field for field what the kernel keeps
// (struct rtp_stream in bpf/rtp.h), all integers. The zero State is a
// stream that has seen no packet.
type State struct {
	Packets  uint64 // every packet of the stream, valid or not for the sequence
	Bytes    uint64 // RTP bytes (header + payload + padding), the UDP payload
	FirstNs  uint64 // arrival of the first packet
	LastNs   uint64 // arrival of the latest packet
	MaxDelta uint64 // largest gap between two consecutive arrivals, ns

	// RFC 3550 A.1 source state since the last sequence reset.
	BaseSeq  uint32 // first sequence number (extended)
	MaxSeq   uint16 // highest sequence number seen
	Cycles   uint32 // shifted count of sequence wraps (multiple of 65536)
	BadSeq   uint32 // the sequence number after a large jump, to confirm a restart
	Received uint32 // packets counted by A.1 (duplicates and late ones included)
	// Expected and received before the last reset, so loss covers the whole stream.
	PriorExpected uint32
	PriorReceived uint32

	Window     uint64 // bit i set: sequence number MaxSeq-i arrived
	Duplicates uint32 // packets whose sequence number was already seen (within 64)
	OutOfOrder uint32 // packets older than MaxSeq that were not duplicates
	SeqResets  uint32 // restarts confirmed by two packets after a large jump (A.1)
	BadJumps   uint32 // packets after a large jump that were not (yet) confirmed

	// RFC 3550 A.8 interarrival jitter, ×16 in units of Clock (the clock
	// of the payload type of the latest packet that had a jitter sample;
	// a payload type with another clock rescales it).
	Jitter16      uint32
	Clock         uint32
	MaxJitterNs   uint64 // the largest Jitter16 seen, in ns
	JitterSumNs   uint64 // sum of the jitter after each sample in ns, for the mean
	JitterSamples uint32
	PrevTransit   uint32 // arrival in timestamp units minus the RTP timestamp
	MinTransit    uint32 // the smallest transit so far (as a signed offset from the first)
	HaveTransit   uint8

	LastPT     uint8
	PTChanges  uint32
	Markers    uint32
	DTMFPkts   uint32
	DTMFEvents uint32 // RFC 4733 events: telephone-event packets with a new timestamp
	LastDTMFTS uint32

	Bursts [BurstBuckets]uint32 // loss runs seen at arrival (gap when the sequence advances)
	DV     [DVBuckets]uint32    // delay variation against the minimum transit
}

// Update adds one packet arriving at arrivalNs (any monotonic clock in ns)
// with header h and n bytes of RTP to s. It is the reference for the BPF
// program: change both together.
func (s *State) Update(p *Params, h *Header, n uint32, arrivalNs uint64) {
	s.Packets++
	s.Bytes += uint64(n)
	if h.Marker {
		s.Markers++
	}
	if s.Packets == 1 {
		s.FirstNs = arrivalNs
		s.LastNs = arrivalNs
		s.LastPT = h.PT
		s.initSeq(h.Seq)
		s.Received = 1
		s.dtmf(p, h)
		s.jitter(p, h, arrivalNs)
		return
	}
	if arrivalNs > s.LastNs {
		if d := arrivalNs - s.LastNs; d > s.MaxDelta {
			s.MaxDelta = d
		}
		s.LastNs = arrivalNs
	}
	if h.PT != s.LastPT && h.PT != p.DTMFPT && s.LastPT != p.DTMFPT {
		s.PTChanges++
		s.HaveTransit = 0 // another codec: another timestamp base
	}
	if h.PT != p.DTMFPT || p.DTMFPT == 0 {
		s.LastPT = h.PT
	}
	if !s.updateSeq(h.Seq) {
		return
	}
	s.dtmf(p, h)
	s.jitter(p, h, arrivalNs)
}

func (s *State) initSeq(seq uint16) {
	s.BaseSeq = uint32(seq)
	s.MaxSeq = seq
	s.BadSeq = seqMod + 1
	s.Cycles = 0
	s.Received = 0
	s.Window = 1
}

// updateSeq is RFC 3550 A.1's update_seq without probation, with the
// 64-packet window for duplicates. It reports whether the packet counts.
func (s *State) updateSeq(seq uint16) bool {
	udelta := seq - s.MaxSeq
	switch {
	case udelta == 0:
		s.Duplicates++
	case udelta < MaxDropout:
		if seq < s.MaxSeq {
			s.Cycles += seqMod
		}
		s.MaxSeq = seq
		if udelta >= 64 {
			s.Window = 1
		} else {
			s.Window = s.Window<<udelta | 1
		}
		if gap := uint32(udelta) - 1; gap > 0 {
			s.Bursts[min(gap, BurstBuckets)-1]++
		}
	case udelta <= seqMod-MaxMisorder:
		if uint32(seq) == s.BadSeq {
			s.PriorExpected += s.expectedNow()
			s.PriorReceived += s.Received
			s.SeqResets++
			s.initSeq(seq)
			s.HaveTransit = 0
		} else {
			s.BadSeq = (uint32(seq) + 1) & (seqMod - 1)
			s.BadJumps++
			return false
		}
	default:
		back := s.MaxSeq - seq
		if back < 64 && s.Window&(1<<back) != 0 {
			s.Duplicates++
		} else {
			if back < 64 {
				s.Window |= 1 << back
			}
			s.OutOfOrder++
		}
	}
	s.Received++
	return true
}

func (s *State) dtmf(p *Params, h *Header) {
	if p.DTMFPT == 0 || h.PT != p.DTMFPT {
		return
	}
	s.DTMFPkts++
	if s.DTMFEvents == 0 || h.Timestamp != s.LastDTMFTS {
		s.DTMFEvents++
		s.LastDTMFTS = h.Timestamp
	}
}

// jitter is RFC 3550 A.8 in integer form, J16 += |D| - (J16+8)>>4, in
// units of the packet's payload type's clock.
func (s *State) jitter(p *Params, h *Header, arrivalNs uint64) {
	if p.DTMFPT != 0 && h.PT == p.DTMFPT {
		return // event timestamps are the event start, not the packet's
	}
	c := p.ClockOf(h.PT)
	if c.Hz != s.Clock {
		// Another clock: another timestamp base, and the jitter so far
		// in the new units (one division, at the change only).
		if s.Clock != 0 {
			s.Jitter16 = uint32(uint64(s.Jitter16) * uint64(c.Hz) / uint64(s.Clock))
		}
		s.Clock = c.Hz
		s.HaveTransit = 0
	}
	arrival := uint32((arrivalNs - s.FirstNs) * uint64(c.Hz) / 1e9)
	transit := arrival - h.Timestamp
	if s.HaveTransit == 0 {
		s.HaveTransit = 1
		s.PrevTransit = transit
		s.MinTransit = transit
		s.DV[0]++
		return
	}
	d := int32(transit - s.PrevTransit)
	s.PrevTransit = transit
	if d < 0 {
		d = -d
	}
	s.Jitter16 += uint32(d) - (s.Jitter16+8)>>4
	jns := uint64(s.Jitter16) * c.NsQ8 >> 12
	if jns > s.MaxJitterNs {
		s.MaxJitterNs = jns
	}
	s.JitterSumNs += jns
	s.JitterSamples++
	if int32(transit-s.MinTransit) < 0 {
		s.MinTransit = transit
	}
	rel := uint64(transit-s.MinTransit) * c.NsQ8 >> 8
	i := 0
	for i < len(dvBoundsNs) && rel > dvBoundsNs[i] {
		i++
	}
	s.DV[i]++
}

func (s *State) expectedNow() uint32 {
	if s.Packets == 0 {
		return 0
	}
	return s.Cycles + uint32(s.MaxSeq) - s.BaseSeq + 1
}

// ExtMaxSeq is the extended highest sequence number (RFC 3550 A.3).
func (s *State) ExtMaxSeq() uint32 { return s.Cycles + uint32(s.MaxSeq) }

// Expected is the number of packets expected over the whole stream
// (RFC 3550 A.3, summed over sequence resets).
func (s *State) Expected() uint32 { return s.PriorExpected + s.expectedNow() }

// Lost is expected minus received (RFC 3550 A.3): negative when
// duplicates outnumber losses.
func (s *State) Lost() int64 {
	return int64(s.Expected()) - int64(s.PriorReceived+s.Received)
}

// LossRuns is the number of loss bursts in Bursts.
func (s *State) LossRuns() uint32 {
	var n uint32
	for _, b := range s.Bursts {
		n += b
	}
	return n
}

// Discards is the number of packets a fixed jitter buffer of bufMS
// milliseconds would discard as too late: those in the delay-variation
// buckets above bufMS (bufMS is rounded up to the next bucket bound).
func (s *State) Discards(bufMS uint32) uint32 {
	var n uint32
	for i, b := range DVBoundsMS {
		if b >= bufMS {
			for _, c := range s.DV[i+1:] {
				n += c
			}
			return n
		}
	}
	return 0
}

// JitterMS is the current interarrival jitter in milliseconds.
func (s *State) JitterMS(p *Params) float64 {
	hz := s.Clock
	if hz == 0 {
		hz = p.ClockOf(s.LastPT).Hz
	}
	return float64(s.Jitter16) / 16 * 1000 / float64(hz)
}

// MaxJitterMS is the largest interarrival jitter seen, in milliseconds.
func (s *State) MaxJitterMS(*Params) float64 { return float64(s.MaxJitterNs) / 1e6 }

// MeanJitterMS is the mean of the jitter after each sample, in milliseconds.
func (s *State) MeanJitterMS(*Params) float64 {
	if s.JitterSamples == 0 {
		return 0
	}
	return float64(s.JitterSumNs) / float64(s.JitterSamples) / 1e6
}

// ClockHz is the stream's clock rate now: its jitter's, else that of the
// payload type of its latest packet.
func (s *State) ClockHz(p *Params) uint32 {
	if s.Clock != 0 {
		return s.Clock
	}
	return p.ClockOf(s.LastPT).Hz
}
