package dissect

import (
	"bytes"
	"errors"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtcp"
)

// rtcpReason maps the rtcp package's sentinel errors to metric labels.
func rtcpReason(err error) string {
	switch {
	case errors.Is(err, rtcp.ErrJSON):
		return "rtcp_json"
	case errors.Is(err, rtcp.ErrTruncated):
		return "rtcp_truncated"
	case errors.Is(err, rtcp.ErrVersion):
		return "rtcp_version"
	case errors.Is(err, rtcp.ErrType):
		return "rtcp_type"
	case errors.Is(err, rtcp.ErrLength):
		return "rtcp_length"
	}
	return "rtcp_other"
}

// RTCP returns the RTCP packet decoded by the last Dissect, or nil when it
// was not RTCP or did not decode. Valid until the next Dissect.
func (d *Dissector) RTCP() *rtcp.Packet {
	if !d.rtcpOK {
		return nil
	}
	return &d.rtcp
}

// rtcpRow dissects RTCP (type 5): binary RTCP, or RTCP JSON as heplify and
// captagent send it (the payload starts with '{'), both stored in the
// rtcp package's one JSON shape:
//
//	{"sender_information":{...},"ssrc":N,"type":200,"report_count":N,
//	 "report_blocks":[{"source_ssrc":N,"fraction_lost":N,"packets_lost":N,
//	 "highest_seq_no":N,"ia_jitter":N,"lsr":N,"dlsr":N}],...}
//
// protocol_header is {"ssrc":N,"type":N}.
func (d *Dissector) rtcpRow(m *hep.Message, row *store.Row) error {
	p := bytes.TrimLeft(m.Payload, " \t\r\n")
	var err error
	if len(p) > 0 && p[0] == '{' {
		err = d.rtcp.DecodeJSON(p)
	} else {
		err = d.rtcp.DecodeFromBytes(m.Payload)
	}
	if err != nil && d.rtcp.Types == 0 {
		row.ProtocolHeader = emptyObject(row.ProtocolHeader)
		d.errorPayload(row, err, len(m.Payload))
		return &PayloadError{Proto: m.Proto, Reason: rtcpReason(err), Err: err}
	}
	d.rtcpOK = true
	w := &d.w
	w.reset(row.ProtocolHeader)
	w.open()
	w.uint("ssrc", uint64(d.rtcp.SSRC))
	w.uint("type", uint64(d.rtcp.Type))
	w.close()
	row.ProtocolHeader = w.b

	row.Payload = d.rtcp.AppendJSON(row.Payload[:0])
	if err != nil {
		// Decoded in part: keep what was decoded and say why it stopped.
		row.Payload = appendErrorMember(row.Payload, err)
		return &PayloadError{Proto: m.Proto, Reason: rtcpReason(err), Err: err}
	}
	return nil
}
