package gen

import (
	"encoding/binary"
	"math/rand"
	"sort"
	"time"
)

// RTPConfig describes one RTP stream and the impairments applied to it on
// the way, all drawn from Seed (the same config gives the same packets).
type RTPConfig struct {
	Seed       int64
	Start      time.Time
	Packets    int           // packets the source sends (before loss)
	PT         uint8         // payload type of the audio
	Clock      uint32        // RTP clock rate, Hz (8000 G.711/G.729/AMR, 16000, 48000 Opus)
	Ptime      time.Duration // packet interval; default 20 ms
	SSRC       uint32
	FirstSeq   uint16
	PayloadLen int // audio bytes per packet; default 160

	Loss      float64       // probability that a loss run starts at a packet
	BurstLen  int           // length of each loss run (default 1: random loss)
	Reorder   float64       // probability that a packet is swapped with the next one
	Duplicate float64       // probability that a packet arrives twice
	Jitter    time.Duration // extra delay per packet, uniform in [0, Jitter)

	// SSRCChangeAt: from this packet on the source restarts with SSRC+1
	// and a new random sequence and timestamp base (0: never).
	SSRCChangeAt int
	// DTMFAt: packets DTMFAt..DTMFAt+5 are one RFC 4733 event (payload
	// type DTMFPT, the event's start timestamp, marker on the first)
	// instead of audio (0: none).
	DTMFAt int
	DTMFPT uint8
}

// RTPPacket is one datagram of a generated stream: its arrival time and
// the RTP packet (12-byte header + payload).
type RTPPacket struct {
	At   time.Time
	Data []byte
	// Lost: generated but dropped on the way (not in GenerateRTP's output;
	// kept in Sent).
	Seq  uint16
	SSRC uint32
}

// RTPTruth is what GenerateRTP did: the packets it sent and dropped, per SSRC.
type RTPTruth struct {
	Sent, Lost, Duplicated, Reordered map[uint32]int
}

// GenerateRTP returns the stream's packets in arrival order.
func GenerateRTP(cfg RTPConfig) ([]RTPPacket, RTPTruth) {
	if cfg.Ptime == 0 {
		cfg.Ptime = 20 * time.Millisecond
	}
	if cfg.PayloadLen == 0 {
		cfg.PayloadLen = 160
	}
	if cfg.BurstLen <= 0 {
		cfg.BurstLen = 1
	}
	if cfg.Clock == 0 {
		cfg.Clock = 8000
	}
	r := rand.New(rand.NewSource(cfg.Seed))
	tr := RTPTruth{Sent: map[uint32]int{}, Lost: map[uint32]int{}, Duplicated: map[uint32]int{}, Reordered: map[uint32]int{}}
	tsStep := uint32(uint64(cfg.Clock) * uint64(cfg.Ptime) / uint64(time.Second))
	ssrc, seq, ts := cfg.SSRC, cfg.FirstSeq, uint32(r.Int31())
	var out []RTPPacket
	lossLeft := 0
	for i := 0; i < cfg.Packets; i++ {
		if cfg.SSRCChangeAt > 0 && i == cfg.SSRCChangeAt {
			ssrc, seq, ts = ssrc+1, uint16(r.Intn(65536)), uint32(r.Int31())
		}
		pt, mark, pts := cfg.PT, false, ts
		if cfg.DTMFAt > 0 && i >= cfg.DTMFAt && i < cfg.DTMFAt+6 {
			pt, mark = cfg.DTMFPT, i == cfg.DTMFAt
			pts = ts - uint32(i-cfg.DTMFAt)*tsStep // the event's start
		}
		b := make([]byte, 12+cfg.PayloadLen)
		b[0], b[1] = 0x80, pt
		if mark {
			b[1] |= 0x80
		}
		binary.BigEndian.PutUint16(b[2:], seq)
		binary.BigEndian.PutUint32(b[4:], pts)
		binary.BigEndian.PutUint32(b[8:], ssrc)
		if pt == cfg.DTMFPT && cfg.DTMFPT != 0 {
			b[12], b[13] = 5, 10 // event 5, volume 10 (RFC 4733 §2.3)
			binary.BigEndian.PutUint16(b[14:], uint16(uint32(i-cfg.DTMFAt+1)*tsStep))
		}
		sent := cfg.Start.Add(time.Duration(i) * cfg.Ptime)
		tr.Sent[ssrc]++
		seq++
		ts += tsStep
		if lossLeft == 0 && cfg.Loss > 0 && r.Float64() < cfg.Loss {
			lossLeft = cfg.BurstLen
		}
		if lossLeft > 0 {
			lossLeft--
			tr.Lost[ssrc]++
			continue
		}
		at := sent
		if cfg.Jitter > 0 {
			at = at.Add(time.Duration(r.Int63n(int64(cfg.Jitter))))
		}
		p := RTPPacket{At: at, Data: b, Seq: seq - 1, SSRC: ssrc}
		out = append(out, p)
		if cfg.Duplicate > 0 && r.Float64() < cfg.Duplicate {
			d := p
			d.At = at.Add(time.Millisecond)
			out = append(out, d)
			tr.Duplicated[ssrc]++
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	for i := 0; i+1 < len(out); i++ {
		if cfg.Reorder > 0 && r.Float64() < cfg.Reorder && out[i].SSRC == out[i+1].SSRC && out[i].Seq != out[i+1].Seq {
			out[i].Data, out[i+1].Data = out[i+1].Data, out[i].Data
			out[i].Seq, out[i+1].Seq = out[i+1].Seq, out[i].Seq
			tr.Reordered[out[i].SSRC]++
			i++
		}
	}
	return out, tr
}
