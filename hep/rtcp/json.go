package rtcp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/xhep/xhep/hep/jsonw"
)

// jsonScratch owns the bytes DecodeJSON copies out of its input.
type jsonScratch struct {
	buf []byte
}

func (j *jsonScratch) reset() { j.buf = j.buf[:0] }

func (j *jsonScratch) keep(s string) []byte {
	start := len(j.buf)
	j.buf = append(j.buf, s...)
	return j.buf[start:len(j.buf):len(j.buf)]
}

// AppendJSON appends p as JSON to dst and returns the extended slice. The
// shape is heplify's (and so what heplify-server and HOMER store for HEP
// type 5):
//
//	{"sender_information":{"ntp_timestamp_sec":N,"ntp_timestamp_usec":N,
//	  "rtp_timestamp":N,"packets":N,"octets":N},
//	 "ssrc":N,"type":200,"report_count":1,
//	 "report_blocks":[{"source_ssrc":N,"fraction_lost":N,"packets_lost":N,
//	   "highest_seq_no":N,"ia_jitter":N,"lsr":N,"dlsr":N}],
//	 "report_blocks_xr":{"type":N,"id":N,"fraction_lost":N,"fraction_discard":N,
//	   "burst_density":N,"gap_density":N,"burst_duration":N,"gap_duration":N,
//	   "round_trip_delay":N,"end_system_delay":N,"r_factor":N,"mos_lq":N,"mos_cq":N},
//	 "sdes_ssrc":N}
//
// sender_information, report_blocks (possibly []) and report_blocks_xr
// (zeros when absent) are always present, as heplify writes them. Keys
// heplify does not write are added when there is something to say:
// "sdes":[{"ssrc":N,"type":N,"text":S}], "bye":{"ssrc":[N...],"reason":S}
// and "app":{"name":S,"subtype":N,"data":HEX}. packets_lost is signed
// (heplify writes the raw 24 bits). Strings are written by
// [jsonw.AppendStringUTF8]: bytes that are not valid UTF-8 become U+FFFD
// as its UTF-8 bytes, so the JSON comes back the same through
// [Packet.DecodeJSON] and AppendJSON. AppendJSON does not allocate when dst
// has room.
func (p *Packet) AppendJSON(dst []byte) []byte {
	s := &p.Sender
	dst = append(dst, `{"sender_information":{"ntp_timestamp_sec":`...)
	dst = strconv.AppendUint(dst, s.NTPSec, 10)
	dst = append(dst, `,"ntp_timestamp_usec":`...)
	dst = strconv.AppendUint(dst, s.NTPFrac, 10)
	dst = jsonw.AppendUint(dst, `,"rtp_timestamp":`, uint64(s.RTPTimestamp))
	dst = jsonw.AppendUint(dst, `,"packets":`, uint64(s.Packets))
	dst = jsonw.AppendUint(dst, `,"octets":`, uint64(s.Octets))
	dst = jsonw.AppendUint(dst, `},"ssrc":`, uint64(p.SSRC))
	dst = jsonw.AppendUint(dst, `,"type":`, uint64(p.Type))
	dst = jsonw.AppendUint(dst, `,"report_count":`, uint64(p.ReportCount))
	dst = append(dst, `,"report_blocks":[`...)
	for i := range p.ReportBlocks {
		rb := &p.ReportBlocks[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonw.AppendUint(dst, `{"source_ssrc":`, uint64(rb.SourceSSRC))
		dst = jsonw.AppendUint(dst, `,"fraction_lost":`, uint64(rb.FractionLost))
		dst = append(dst, `,"packets_lost":`...)
		dst = strconv.AppendInt(dst, int64(rb.PacketsLost), 10)
		dst = jsonw.AppendUint(dst, `,"highest_seq_no":`, uint64(rb.HighestSeq))
		dst = jsonw.AppendUint(dst, `,"ia_jitter":`, uint64(rb.Jitter))
		dst = jsonw.AppendUint(dst, `,"lsr":`, uint64(rb.LSR))
		dst = jsonw.AppendUint(dst, `,"dlsr":`, uint64(rb.DLSR))
		dst = append(dst, '}')
	}
	x := &p.XR
	dst = jsonw.AppendUint(dst, `],"report_blocks_xr":{"type":`, uint64(x.Type))
	dst = jsonw.AppendUint(dst, `,"id":`, uint64(x.SSRC))
	dst = jsonw.AppendUint(dst, `,"fraction_lost":`, uint64(x.LossRate))
	dst = jsonw.AppendUint(dst, `,"fraction_discard":`, uint64(x.DiscardRate))
	dst = jsonw.AppendUint(dst, `,"burst_density":`, uint64(x.BurstDensity))
	dst = jsonw.AppendUint(dst, `,"gap_density":`, uint64(x.GapDensity))
	dst = jsonw.AppendUint(dst, `,"burst_duration":`, uint64(x.BurstDuration))
	dst = jsonw.AppendUint(dst, `,"gap_duration":`, uint64(x.GapDuration))
	dst = jsonw.AppendUint(dst, `,"round_trip_delay":`, uint64(x.RoundTripDelay))
	dst = jsonw.AppendUint(dst, `,"end_system_delay":`, uint64(x.EndSystemDelay))
	dst = jsonw.AppendUint(dst, `,"r_factor":`, uint64(x.RFactor))
	dst = jsonw.AppendUint(dst, `,"mos_lq":`, uint64(x.MOSLQ))
	dst = jsonw.AppendUint(dst, `,"mos_cq":`, uint64(x.MOSCQ))
	dst = jsonw.AppendUint(dst, `},"sdes_ssrc":`, uint64(p.SDESSSRC))
	if len(p.SDES) > 0 {
		dst = append(dst, `,"sdes":[`...)
		for i := range p.SDES {
			it := &p.SDES[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonw.AppendUint(dst, `{"ssrc":`, uint64(it.SSRC))
			dst = jsonw.AppendUint(dst, `,"type":`, uint64(it.Type))
			dst = append(dst, `,"text":`...)
			dst = jsonw.AppendStringUTF8(dst, it.Text)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(p.BYE) > 0 || p.BYEReason != nil {
		dst = append(dst, `,"bye":{"ssrc":[`...)
		for i, s := range p.BYE {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(s), 10)
		}
		dst = append(dst, `],"reason":`...)
		dst = jsonw.AppendStringUTF8(dst, p.BYEReason)
		dst = append(dst, '}')
	}
	if p.APPName != nil {
		dst = append(dst, `,"app":{"name":`...)
		dst = jsonw.AppendStringUTF8(dst, p.APPName)
		dst = jsonw.AppendUint(dst, `,"subtype":`, uint64(p.APPSubtype))
		dst = append(dst, `,"data":"`...)
		dst = jsonw.AppendHex(dst, p.APPData)
		dst = append(dst, `"}`...)
	}
	return append(dst, '}')
}

// jsonPacket is the RTCP JSON heplify and captagent (hepgen) send as HEP
// type 5. Numbers are kept as json.Number: captagent writes "lsr" as a
// signed number and "ntp_timestamp_usec" beyond 32 bits.
type jsonPacket struct {
	SenderInformation *struct {
		NTPSec  json.Number `json:"ntp_timestamp_sec"`
		NTPFrac json.Number `json:"ntp_timestamp_usec"`
		RTPTs   json.Number `json:"rtp_timestamp"`
		Packets json.Number `json:"packets"`
		Octets  json.Number `json:"octets"`
	} `json:"sender_information"`
	SSRC         json.Number `json:"ssrc"`
	Type         json.Number `json:"type"`
	ReportCount  json.Number `json:"report_count"`
	ReportBlocks []struct {
		SourceSSRC   json.Number `json:"source_ssrc"`
		FractionLost json.Number `json:"fraction_lost"`
		PacketsLost  json.Number `json:"packets_lost"`
		HighestSeq   json.Number `json:"highest_seq_no"`
		Jitter       json.Number `json:"ia_jitter"`
		LSR          json.Number `json:"lsr"`
		DLSR         json.Number `json:"dlsr"`
	} `json:"report_blocks"`
	XR *struct {
		Type           json.Number `json:"type"`
		ID             json.Number `json:"id"`
		FractionLost   json.Number `json:"fraction_lost"`
		Discard        json.Number `json:"fraction_discard"`
		BurstDensity   json.Number `json:"burst_density"`
		GapDensity     json.Number `json:"gap_density"`
		BurstDuration  json.Number `json:"burst_duration"`
		GapDuration    json.Number `json:"gap_duration"`
		RoundTripDelay json.Number `json:"round_trip_delay"`
		EndSystemDelay json.Number `json:"end_system_delay"`
		RFactor        json.Number `json:"r_factor"`
		MOSLQ          json.Number `json:"mos_lq"`
		MOSCQ          json.Number `json:"mos_cq"`
	} `json:"report_blocks_xr"`
	SDESSSRC json.Number `json:"sdes_ssrc"`
	SDES     []struct {
		SSRC json.Number `json:"ssrc"`
		Type json.Number `json:"type"`
		Text string      `json:"text"`
	} `json:"sdes"`
	BYE *struct {
		SSRC   []json.Number `json:"ssrc"`
		Reason string        `json:"reason"`
	} `json:"bye"`
	APP *struct {
		Name    string      `json:"name"`
		Subtype json.Number `json:"subtype"`
		Data    string      `json:"data"`
	} `json:"app"`
}

// numConv converts JSON numbers, remembering the first bad one.
type numConv struct{ err error }

// u returns n as an unsigned value of the given bit width; negative
// integers wrap (captagent's signed "lsr"), fractions are truncated,
// absent numbers are 0.
func (c *numConv) u(n json.Number, bits uint) uint64 {
	if n == "" {
		return 0
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		u, err2 := strconv.ParseUint(string(n), 10, 64)
		if err2 == nil {
			v = int64(u)
		} else if f, err3 := strconv.ParseFloat(string(n), 64); err3 == nil {
			v = int64(f)
		} else {
			if c.err == nil {
				c.err = fmt.Errorf("%w: number %q", ErrJSON, string(n))
			}
			return 0
		}
	}
	if bits >= 64 {
		return uint64(v)
	}
	return uint64(v) & (1<<bits - 1)
}

func (c *numConv) i(n json.Number) int64 {
	return int64(c.u(n, 64))
}

// DecodeJSON decodes RTCP as JSON, in heplify's shape (see
// [Packet.AppendJSON]) or captagent's (the same keys, in another order,
// with a signed lsr), into p, so the collector stores one shape whichever
// agent sent it. The object must have a "type" of 200..207, otherwise
// ErrJSON is returned (wrapped with the reason). DecodeJSON allocates; its
// strings are copied into p.
func (p *Packet) DecodeJSON(b []byte) error {
	p.reset()
	var j jsonPacket
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&j); err != nil {
		return fmt.Errorf("%w: %v", ErrJSON, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrJSON)
	}
	var c numConv
	t := c.u(j.Type, 64)
	if j.Type == "" || t < TypeSR || t > TypeXR {
		return fmt.Errorf("%w: type %q not in 200-207", ErrJSON, string(j.Type))
	}
	p.Type = uint8(t)
	p.Types = 1 << (t - TypeSR)
	p.ReportCount = uint8(c.u(j.ReportCount, 5))
	p.SSRC = uint32(c.u(j.SSRC, 32))
	if si := j.SenderInformation; si != nil {
		p.Sender = SenderInfo{
			NTPSec:       c.u(si.NTPSec, 64),
			NTPFrac:      c.u(si.NTPFrac, 64),
			RTPTimestamp: uint32(c.u(si.RTPTs, 32)),
			Packets:      uint32(c.u(si.Packets, 32)),
			Octets:       uint32(c.u(si.Octets, 32)),
		}
		p.HasSender = p.Sender != (SenderInfo{}) || p.Type == TypeSR
	}
	for _, rb := range j.ReportBlocks {
		if len(p.ReportBlocks) >= MaxReportBlocks {
			p.Dropped++
			continue
		}
		p.ReportBlocks = append(p.ReportBlocks, ReportBlock{
			SourceSSRC:   uint32(c.u(rb.SourceSSRC, 32)),
			FractionLost: uint8(c.u(rb.FractionLost, 8)),
			PacketsLost:  int32(int64(c.u(rb.PacketsLost, 32)<<40) >> 40),
			HighestSeq:   uint32(c.u(rb.HighestSeq, 32)),
			Jitter:       uint32(c.u(rb.Jitter, 32)),
			LSR:          uint32(c.u(rb.LSR, 32)),
			DLSR:         uint32(c.u(rb.DLSR, 32)),
		})
	}
	if x := j.XR; x != nil {
		p.XR = XRVoIP{
			Type: uint8(c.u(x.Type, 8)), SSRC: uint32(c.u(x.ID, 32)),
			LossRate: uint8(c.u(x.FractionLost, 8)), DiscardRate: uint8(c.u(x.Discard, 8)),
			BurstDensity: uint8(c.u(x.BurstDensity, 8)), GapDensity: uint8(c.u(x.GapDensity, 8)),
			BurstDuration: uint16(c.u(x.BurstDuration, 16)), GapDuration: uint16(c.u(x.GapDuration, 16)),
			RoundTripDelay: uint16(c.u(x.RoundTripDelay, 16)), EndSystemDelay: uint16(c.u(x.EndSystemDelay, 16)),
			RFactor: uint8(c.u(x.RFactor, 8)), MOSLQ: uint8(c.u(x.MOSLQ, 8)), MOSCQ: uint8(c.u(x.MOSCQ, 8)),
		}
		p.XR.present = p.XR.Type != 0
		p.XR.isVoIP = p.XR.Type == 7
		if p.XR.present {
			p.Types |= 1 << (TypeXR - TypeSR)
		}
	}
	p.SDESSSRC = uint32(c.u(j.SDESSSRC, 32))
	for _, it := range j.SDES {
		if len(p.SDES) >= MaxSDESItems {
			p.Dropped++
			continue
		}
		p.SDES = append(p.SDES, SDESItem{SSRC: uint32(c.u(it.SSRC, 32)), Type: uint8(c.u(it.Type, 8)), Text: p.json.keep(it.Text)})
	}
	if p.SDESSSRC != 0 || len(p.SDES) > 0 {
		p.Types |= 1 << (TypeSDES - TypeSR)
	}
	if bye := j.BYE; bye != nil {
		for _, s := range bye.SSRC {
			if len(p.BYE) < MaxBYESSRCs {
				p.BYE = append(p.BYE, uint32(c.u(s, 32)))
			} else {
				p.Dropped++
			}
		}
		p.BYEReason = p.json.keep(bye.Reason)
		p.Types |= 1 << (TypeBYE - TypeSR)
	}
	if app := j.APP; app != nil {
		p.APPName = p.json.keep(app.Name)
		p.APPSubtype = uint8(c.u(app.Subtype, 5))
		data, err := hex.DecodeString(app.Data)
		if err != nil && c.err == nil {
			c.err = fmt.Errorf("%w: app data: %v", ErrJSON, err)
		}
		p.APPData = p.json.keep(string(data))
		p.Types |= 1 << (TypeAPP - TypeSR)
	}
	return c.err
}
