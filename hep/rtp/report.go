package rtp

import (
	"math"
	"net/netip"
	"strconv"

	"github.com/xhep/xhep/hep/jsonw"
)

// Report types (the TYPE field).
const (
	TypePeriodic = "PERIODIC" // every --rtp-report-interval
	TypeHangup   = "HANGUP"   // the call ended (BYE, CANCEL)
	TypeTimeout  = "TIMEOUT"  // the stream went idle
	TypeEnd      = "END"      // the capture ended (end of a --read file, agent stop)
)

// Report is one HEP type 34 quality report of one stream: the figures of
// a [State] since the stream began, the E-model rating of the last
// interval and the minimum and mean over the stream's reports so far.
type Report struct {
	CallID   []byte
	Type     string
	TimeNs   int64 // wall clock of the report
	Src, Dst netip.AddrPort
	SSRC     uint32
	PT       uint8
	Codec    []byte // encoding name from the SDP, may be empty
	Dir      uint8  // 0: towards the endpoint the SDP announced, 1: from it
	Params   Params
	State    State
	Model    EModel
	Rating   Quality // of the last interval
	MinMOS   float64
	MeanMOS  float64
	MinR     float64
	MeanR    float64
}

// Reporter turns successive [State]s of one stream into [Report]s. It is
// not safe for concurrent use.
type Reporter struct {
	prev         State
	n            int
	sumMOS, sumR float64
	minMOS, minR float64
}

// Next fills r.Rating, MinMOS, MeanMOS, MinR and MeanR from r.State and
// the state of the previous call (the first call rates from the start).
func (rp *Reporter) Next(r *Report, c Codec) {
	cur, prev := &r.State, &rp.prev
	exp := uint64(cur.Expected() - prev.Expected())
	lost := cur.Lost() - prev.Lost()
	disc := uint64(cur.Discards(r.Model.JitterBuffer) - prev.Discards(r.Model.JitterBuffer))
	runs := uint64(cur.LossRuns() - prev.LossRuns())
	r.Rating = r.Model.Rate(c, exp, lost, disc, runs)
	if rp.n == 0 || r.Rating.MOS < rp.minMOS {
		rp.minMOS = r.Rating.MOS
	}
	if rp.n == 0 || r.Rating.R < rp.minR {
		rp.minR = r.Rating.R
	}
	rp.n++
	rp.sumMOS += r.Rating.MOS
	rp.sumR += r.Rating.R
	r.MinMOS, r.MinR = rp.minMOS, rp.minR
	r.MeanMOS, r.MeanR = rp.sumMOS/float64(rp.n), rp.sumR/float64(rp.n)
	rp.prev = *cur
}

// AppendJSON appends the report as the rtpagent JSON heplify-server and
// homer-app read for HEP type 34, with xhep's own figures after them:
//
//	{"CORRELATION_ID":S,"RTP_SIP_CALL_ID":S,"REPORT_TS":secs,"TYPE":"PERIODIC",
//	 "TL_BYTE":N,"TOTAL_PK":N,"EXPECTED_PK":N,"PACKET_LOSS":N,"SEQ":N,
//	 "JITTER":ms,"MAX_JITTER":ms,"MEAN_JITTER":ms,"DELTA":ms,"MAX_DELTA":ms,
//	 "MOS":x,"MIN_MOS":x,"MEAN_MOS":x,"RFACTOR":x,"MIN_RFACTOR":x,"MEAN_RFACTOR":x,
//	 "SRC_IP":S,"SRC_PORT":N,"DST_IP":S,"DST_PORT":N,"OUT_ORDER":N,"SSRC_CHG":N,
//	 "CODEC_PT":N,"CLOCK":N,"CODEC_NAME":S,"DIR":N,"REPORT_NAME":S,"PARTY":N,
//	 "SSRC":N,"DUPLICATES":N,"SEQ_RESETS":N,"PT_CHANGES":N,"MARKERS":N,
//	 "DTMF_EVENTS":N,"LOSS_BURSTS":[10 × N],"DV_HIST":[11 × N],"JB_MS":N,
//	 "DISCARDS":N,"PPL":pct,"BURST_R":x,"FIRST_NS":N,"LAST_NS":N,"MODEL":"G.107"}
//
// JITTER is the RFC 3550 interarrival jitter at the end of the stream so
// far, DELTA the mean and MAX_DELTA the largest gap between arrivals, all
// in ms. PACKET_LOSS is RFC 3550's cumulative lost (expected − received).
// SKEW, MAX_SKEW and the MAC addresses of rtpagent are not measured and
// not written. SSRC_CHG is filled by the caller in State-independent
// bookkeeping (the number of SSRCs seen before this one on the 5-tuple).
func (r *Report) AppendJSON(dst []byte, ssrcChanges uint32) []byte {
	s, p := &r.State, &r.Params
	dst = append(dst, `{"CORRELATION_ID":`...)
	dst = jsonw.AppendString(dst, r.CallID)
	dst = append(dst, `,"RTP_SIP_CALL_ID":`...)
	dst = jsonw.AppendString(dst, r.CallID)
	dst = append(dst, `,"REPORT_TS":`...)
	dst = strconv.AppendFloat(dst, float64(r.TimeNs)/1e9, 'f', 6, 64)
	dst = append(dst, `,"TYPE":"`...)
	dst = append(dst, r.Type...)
	dst = append(dst, '"')
	dst = appendU(dst, `,"TL_BYTE":`, s.Bytes)
	dst = appendU(dst, `,"TOTAL_PK":`, s.Packets)
	dst = appendU(dst, `,"EXPECTED_PK":`, uint64(s.Expected()))
	dst = append(dst, `,"PACKET_LOSS":`...)
	dst = strconv.AppendInt(dst, s.Lost(), 10)
	dst = appendU(dst, `,"SEQ":`, uint64(s.ExtMaxSeq()))
	dst = appendF(dst, `,"JITTER":`, s.JitterMS(p))
	dst = appendF(dst, `,"MAX_JITTER":`, s.MaxJitterMS(p))
	dst = appendF(dst, `,"MEAN_JITTER":`, s.MeanJitterMS(p))
	delta := 0.0
	if s.Packets > 1 {
		delta = float64(s.LastNs-s.FirstNs) / float64(s.Packets-1) / 1e6
	}
	dst = appendF(dst, `,"DELTA":`, delta)
	dst = appendF(dst, `,"MAX_DELTA":`, float64(s.MaxDelta)/1e6)
	dst = appendF(dst, `,"MOS":`, r.Rating.MOS)
	dst = appendF(dst, `,"MIN_MOS":`, r.MinMOS)
	dst = appendF(dst, `,"MEAN_MOS":`, r.MeanMOS)
	dst = appendF(dst, `,"RFACTOR":`, r.Rating.R)
	dst = appendF(dst, `,"MIN_RFACTOR":`, r.MinR)
	dst = appendF(dst, `,"MEAN_RFACTOR":`, r.MeanR)
	dst = appendAddr(dst, `,"SRC_IP":`, `,"SRC_PORT":`, r.Src)
	dst = appendAddr(dst, `,"DST_IP":`, `,"DST_PORT":`, r.Dst)
	dst = appendU(dst, `,"OUT_ORDER":`, uint64(s.OutOfOrder))
	dst = appendU(dst, `,"SSRC_CHG":`, uint64(ssrcChanges))
	dst = appendU(dst, `,"CODEC_PT":`, uint64(r.PT))
	dst = appendU(dst, `,"CLOCK":`, uint64(s.ClockHz(p)))
	dst = append(dst, `,"CODEC_NAME":`...)
	dst = jsonw.AppendString(dst, r.Codec)
	dst = appendU(dst, `,"DIR":`, uint64(r.Dir))
	dst = append(dst, `,"REPORT_NAME":"`...)
	dst = r.Src.AppendTo(dst)
	dst = append(dst, '"')
	dst = appendU(dst, `,"PARTY":`, uint64(r.Dir))
	dst = appendU(dst, `,"SSRC":`, uint64(r.SSRC))
	dst = appendU(dst, `,"DUPLICATES":`, uint64(s.Duplicates))
	dst = appendU(dst, `,"SEQ_RESETS":`, uint64(s.SeqResets))
	dst = appendU(dst, `,"PT_CHANGES":`, uint64(s.PTChanges))
	dst = appendU(dst, `,"MARKERS":`, uint64(s.Markers))
	dst = appendU(dst, `,"DTMF_EVENTS":`, uint64(s.DTMFEvents))
	dst = append(dst, `,"LOSS_BURSTS":[`...)
	for i, b := range s.Bursts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(b), 10)
	}
	dst = append(dst, `],"DV_HIST":[`...)
	for i, b := range s.DV {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(b), 10)
	}
	dst = append(dst, ']')
	dst = appendU(dst, `,"JB_MS":`, uint64(r.Model.JitterBuffer))
	dst = appendU(dst, `,"DISCARDS":`, uint64(s.Discards(r.Model.JitterBuffer)))
	dst = appendF(dst, `,"PPL":`, r.Rating.Ppl)
	dst = appendF(dst, `,"BURST_R":`, r.Rating.BurstR)
	dst = appendU(dst, `,"FIRST_NS":`, s.FirstNs)
	dst = appendU(dst, `,"LAST_NS":`, s.LastNs)
	return append(dst, `,"MODEL":"G.107"}`...)
}

func appendU(dst []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(dst, key...), v, 10)
}

func appendF(dst []byte, key string, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.AppendFloat(append(dst, key...), v, 'f', 3, 64)
}

func appendAddr(dst []byte, ipKey, portKey string, a netip.AddrPort) []byte {
	dst = append(dst, ipKey...)
	dst = append(dst, '"')
	if a.IsValid() {
		dst = a.Addr().AppendTo(dst)
	}
	dst = append(dst, '"')
	return appendU(dst, portKey, uint64(a.Port()))
}
