package rtp

import (
	"bytes"
	"math"
)

// Codec is what the E-model needs of a codec: its equipment impairment
// factor Ie and packet-loss robustness factor Bpl (ITU-T G.113 Appendix
// I), and the delay it adds (frame + look-ahead, ms).
type Codec struct {
	Name  string
	Ie    float64
	Bpl   float64
	Delay float64 // algorithmic delay in ms (frame + look-ahead)
	// Assumed is set when G.113 gives no value for this codec and the
	// figures are a stated assumption (see the README).
	Assumed bool
}

// The codecs [CodecFor] knows. G.711 with packet-loss concealment
// (G.711 Appendix I): Ie 0, Bpl 25.1; G.729A (+VAD): Ie 11, Bpl 19.0;
// GSM-EFR, whose algorithm is AMR-NB's 12.2 kbit/s mode: Ie 5, Bpl 10.0 —
// all G.113 Appendix I (Tables I.1 and I.3). G.722, Opus and iLBC are not
// in G.113's narrowband tables: they are rated as G.711 with PLC (Opus,
// G.722) and as G.729A (iLBC), marked Assumed.
var (
	CodecG711    = Codec{Name: "G711", Ie: 0, Bpl: 25.1, Delay: 0.125}
	CodecG729    = Codec{Name: "G729", Ie: 11, Bpl: 19.0, Delay: 15}
	CodecAMR     = Codec{Name: "AMR", Ie: 5, Bpl: 10.0, Delay: 25}
	CodecOpus    = Codec{Name: "opus", Ie: 0, Bpl: 25.1, Delay: 26.5, Assumed: true}
	CodecG722    = Codec{Name: "G722", Ie: 0, Bpl: 25.1, Delay: 1.5, Assumed: true}
	CodecILBC    = Codec{Name: "iLBC", Ie: 11, Bpl: 19.0, Delay: 25, Assumed: true}
	CodecUnknown = Codec{Name: "unknown", Ie: 0, Bpl: 25.1, Assumed: true}
)

// CodecFor returns the E-model codec for an SDP encoding name (a=rtpmap,
// case-insensitive) or, when name is empty, for a static payload type of
// RFC 3551.
func CodecFor(name []byte, pt uint8) Codec {
	if len(name) == 0 {
		switch pt {
		case 0, 8:
			return CodecG711
		case 18:
			return CodecG729
		case 9:
			return CodecG722
		}
		return CodecUnknown
	}
	switch {
	case bytes.EqualFold(name, []byte("PCMU")), bytes.EqualFold(name, []byte("PCMA")):
		return CodecG711
	case bytes.EqualFold(name, []byte("G729")), bytes.EqualFold(name, []byte("G729A")):
		return CodecG729
	case bytes.EqualFold(name, []byte("AMR")):
		return CodecAMR
	case bytes.EqualFold(name, []byte("opus")):
		return CodecOpus
	case bytes.EqualFold(name, []byte("G722")):
		return CodecG722
	case bytes.EqualFold(name, []byte("iLBC")):
		return CodecILBC
	}
	return CodecUnknown
}

// EModel holds the inputs of the ITU-T G.107 E-model that the capture
// cannot see, with the G.107 defaults.
type EModel struct {
	// Base is Ro − Is with every G.107 default (93.2).
	Base float64
	// NetworkDelay is the one-way network delay in ms assumed on top of the
	// jitter buffer and the codec (the capture point sees no round trip).
	NetworkDelay float64
	// JitterBuffer is the fixed jitter buffer in ms whose discards count as
	// loss and whose depth adds to the delay.
	JitterBuffer uint32
	// A is the advantage factor (0 for wired phones).
	A float64
}

// DefaultEModel: G.107 defaults, no network delay, a 60 ms jitter buffer.
func DefaultEModel() EModel { return EModel{Base: 93.2, JitterBuffer: 60} }

// Quality is what the E-model gives for a stream.
type Quality struct {
	R      float64 // transmission rating factor, 0..100
	MOS    float64 // MOS-CQE (G.107 Annex B), 1..4.5
	Ppl    float64 // packet-loss probability used, % (lost + discarded)
	BurstR float64 // burst ratio (1 for random loss)
	IeEff  float64 // effective equipment impairment
	Id     float64 // delay impairment
}

// Rate computes R and MOS: R = Base − Id − Ie,eff + A with
//
//	Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl)   (G.107 §7.4)
//	Id     = Idd(Ta), Ta = network delay + jitter buffer + codec delay
//	         (G.107 §7.3 for Ta > 100 ms; talker and listener echo taken as
//	         cancelled, their G.107 default contribution is in Base)
//	MOS    = 1 + 0.035R + R(R−60)(100−R)·7·10⁻⁶ for 0 < R < 100 (Annex B)
//
// expected, lost (negative taken as 0) and discarded are packet counts;
// runs is the number of loss bursts (for BurstR = 1/(p+q) of the
// two-state Markov model: p = runs/received, q = runs/lost).
func (m EModel) Rate(c Codec, expected uint64, lost int64, discarded uint64, runs uint64) Quality {
	var q Quality
	if lost < 0 {
		lost = 0
	}
	bad := uint64(lost) + discarded
	q.BurstR = 1
	if expected > 0 {
		if bad > expected {
			bad = expected
		}
		q.Ppl = 100 * float64(bad) / float64(expected)
		recv := expected - bad
		if runs > 0 && bad > 0 && recv > 0 {
			p := float64(runs) / float64(recv)
			qq := float64(runs) / float64(bad)
			q.BurstR = 1 / (p + qq)
		}
	}
	q.IeEff = c.Ie + (95-c.Ie)*q.Ppl/(q.Ppl/q.BurstR+c.Bpl)
	ta := m.NetworkDelay + float64(m.JitterBuffer) + c.Delay
	q.Id = idd(ta)
	q.R = m.Base - q.Id - q.IeEff + m.A
	q.MOS = MOSFromR(q.R)
	q.R = math.Max(0, math.Min(100, q.R))
	return q
}

// idd is G.107's delay impairment for a one-way delay ta in ms.
func idd(ta float64) float64 {
	if ta <= 100 {
		return 0
	}
	x := math.Log10(ta/100) / math.Log10(2)
	return 25 * (math.Pow(1+math.Pow(x, 6), 1.0/6) - 3*math.Pow(1+math.Pow(x/3, 6), 1.0/6) + 2)
}

// MOSFromR is G.107 Annex B: the estimated conversational MOS for R.
func MOSFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}
