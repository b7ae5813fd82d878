package dissect

import (
	"bytes"
	"errors"
	"github.com/xhep/xhep/hep/ascii"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/jsonw"
	"github.com/xhep/xhep/hep/proto"
	"github.com/xhep/xhep/hep/sip"
)

// sipReasons maps the sip package's sentinel errors to metric labels.
var sipReasons = []struct {
	err    error
	reason string
}{
	{sip.ErrMalformed, "sip_malformed"},
	{sip.ErrBadContentLength, "sip_bad_content_length"},
	{sip.ErrBodyTruncated, "sip_body_truncated"},
	{sip.ErrHeadersTruncated, "sip_truncated"},
	{errNoCallID, "sip_no_callid"},
	{sip.ErrBadHeader, "sip_bad_header"},
	{sip.ErrTooManyHeaders, "sip_too_many_headers"},
	{sip.ErrBadURI, "sip_bad_uri"},
	{sip.ErrBadCSeq, "sip_bad_cseq"},
	{sip.ErrBadVia, "sip_bad_via"},
}

func sipReason(err error) string {
	for _, r := range sipReasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "sip_other"
}

// errEmpty marks a message of a dissected type without payload.
var errEmpty = errors.New("empty payload")

// errNoCallID marks a SIP message without a Call-ID (RFC 3261 §8.1.1
// makes it mandatory): stored, routed by its CSeq, marked.
var errNoCallID = errors.New("sip: no Call-ID header")

// Class returns the table class of a SIP message with the given CSeq
// method: call for INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, REFER and INFO,
// registration for REGISTER, default for anything else.
func Class(cseqMethod []byte) proto.TableClass {
	switch string(cseqMethod) { // no allocation: the compiler compares in place
	case "INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "PRACK", "REFER", "INFO":
		return proto.Call
	case "REGISTER":
		return proto.Registration
	}
	return proto.Default
}

// sipRow dissects a SIP payload. A start line that does not decode sends
// the row to the default table with {"error": ...}; a message that decoded
// in part is routed as usual, its payload carries "error" and a
// [*PayloadError] is returned.
func (d *Dissector) sipRow(m *hep.Message, row *store.Row) (proto.TableClass, error) {
	if len(m.Payload) == 0 {
		row.ProtocolHeader = append(row.ProtocolHeader[:0], `{"transaction":"default"}`...)
		d.errorPayload(row, errEmpty, 0)
		return proto.Default, &PayloadError{Proto: m.Proto, Reason: "sip_empty", Err: errEmpty}
	}
	err := d.msg.DecodeFromBytes(m.Payload)
	if errors.Is(err, sip.ErrMalformed) {
		row.ProtocolHeader = append(row.ProtocolHeader[:0], `{"transaction":"default"}`...)
		d.errorPayload(row, err, len(m.Payload))
		return proto.Default, &PayloadError{Proto: m.Proto, Reason: "sip_malformed", Err: err}
	}
	d.sipOK = true
	s := &d.msg
	class := Class(s.CSeqMethod)
	if err == nil && len(s.CallID) == 0 {
		err = errNoCallID
	}

	// protocol_header: the searchable summary, HOMER 7 data_header names.
	// The keys the database indexes come first, in this order, so
	// JSON_VALUE, which stops at the key it looks for, finds them early.
	b := appendS(row.ProtocolHeader[:0], `{"callid":`, s.CallID)
	b = appendSNE(b, `,"callid_aleg":`, d.aleg(s))
	if s.IsRequest {
		b = appendS(b, `,"method":`, s.Method)
		b = append(b, `,"status":0`...)
	} else {
		b = jsonw.AppendInt(b, `,"method":"`, int64(s.StatusCode))
		b = jsonw.AppendInt(b, `","status":`, int64(s.StatusCode))
	}
	b = appendS(b, `,"ruri_user":`, s.RequestURI.User)
	b = appendS(b, `,"from_user":`, s.From.URI.User)
	b = appendS(b, `,"to_user":`, s.To.URI.User)
	b = d.appendSearchHeaders(b, s)
	if !s.IsRequest {
		b = appendS(b, `,"reason":`, s.Reason)
	}
	b = jsonw.AppendUint(b, `,"cseq":"`, uint64(s.CSeqNum))
	b = append(b, ' ')
	b = jsonw.AppendEscaped(b, s.CSeqMethod)
	b = appendS(b, `","cseq_method":`, s.CSeqMethod)
	b = jsonw.AppendUint(b, `,"cseq_num":`, uint64(s.CSeqNum))
	b = appendS(b, `,"ruri_domain":`, s.RequestURI.Host)
	if s.RequestURI.Port != 0 {
		b = jsonw.AppendUint(b, `,"ruri_port":`, uint64(s.RequestURI.Port))
	}
	b = appendS(b, `,"from_domain":`, s.From.URI.Host)
	b = appendS(b, `,"from_tag":`, s.From.Tag)
	b = appendS(b, `,"to_domain":`, s.To.URI.Host)
	b = appendS(b, `,"to_tag":`, s.To.Tag)
	b = appendSNE(b, `,"pid_user":`, s.PAssertedIdentity.URI.User)
	b = appendSNE(b, `,"auth_user":`, s.AuthorizationUser)
	b = appendSNE(b, `,"contact_user":`, s.Contact.URI.User)
	b = appendSNE(b, `,"diversion_user":`, s.Diversion.URI.User)
	if len(s.Via) > 0 {
		b = appendS(b, `,"via_1":`, s.Via[0].Raw)
		b = appendS(b, `,"via_1_branch":`, s.Via[0].Branch)
	} else {
		b = append(b, `,"via_1":"","via_1_branch":""`...)
	}
	b = jsonw.AppendInt(b, `,"via_count":`, int64(s.ViaCount))
	ua := s.UserAgent
	if len(ua) == 0 {
		ua = s.Server
	}
	b = appendS(b, `,"user_agent":`, ua)
	b = appendS(b, `,"content_type":`, s.ContentType)
	b = jsonw.AppendInt(b, `,"content_length":`, int64(max(s.ContentLength, len(s.Body))))
	if s.Expires >= 0 {
		b = jsonw.AppendInt(b, `,"expires":`, int64(s.Expires))
	}
	b = appendSNE(b, `,"reason_header":`, s.ReasonHeader)
	b = append(b, `,"transaction":"`...)
	b = append(b, class.String()...)
	row.ProtocolHeader = append(b, '"', '}')

	// payload: the start line, the body length and the SDP summary. The
	// header lines are not repeated here: they are in raw.
	line := m.Payload
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	w := &d.w
	w.b = appendS(row.Payload[:0], `{"start_line":`, ascii.TrimCR(line))
	w.b = jsonw.AppendInt(w.b, `,"body_length":`, int64(len(s.Body)))
	w.first = false
	if len(s.Body) > 0 && sip.IsSDP(s.ContentType) {
		d.appendSDP(s.Body)
	}
	if err != nil {
		w.str("error", append(d.errBuf[:0], err.Error()...))
	}
	w.close()
	row.Payload = w.b
	if err != nil {
		return class, &PayloadError{Proto: m.Proto, Reason: sipReason(err), Err: err}
	}
	return class, nil
}

// appendSDP writes "sdp": {"conn": ..., "media": [...]} into the open
// payload object, or "sdp_error" when the body does not decode. Members
// are written with their constant key prefixes, one append each.
func (d *Dissector) appendSDP(body []byte) {
	w := &d.w
	err := d.sdp.DecodeFromBytes(body)
	if err != nil && len(d.sdp.Media) == 0 {
		w.str("sdp_error", append(d.errBuf[:0], err.Error()...))
		return
	}
	b := append(w.b, `,"sdp":{`...)
	if d.sdp.Conn.IsValid() {
		b = appendA(b, `"conn":`, d.sdp.Conn)
		b = append(b, ',')
	}
	b = append(b, `"media":[`...)
	for k := range d.sdp.Media {
		md := &d.sdp.Media[k]
		pre := `{"type":`
		if k > 0 {
			pre = `,{"type":`
		}
		b = jsonw.AppendField(b, pre, md.Type)
		b = jsonw.AppendUint(b, `,"port":`, uint64(md.Port))
		b = jsonw.AppendField(b, `,"proto":`, md.Proto)
		if md.Conn.IsValid() {
			b = appendA(b, `,"conn":`, md.Conn)
		}
		if md.RTCPPort != 0 {
			b = jsonw.AppendUint(b, `,"rtcp_port":`, uint64(md.RTCPPort))
		}
		if md.RTCPConn.IsValid() {
			b = appendA(b, `,"rtcp_conn":`, md.RTCPConn)
		}
		b = jsonw.AppendBool(b, `,"rtcp_mux":`, md.RTCPMux)
		b = append(b, `,"codecs":[`...)
		for j, c := range md.Codecs {
			pre := `{"pt":`
			if j > 0 {
				pre = `,{"pt":`
			}
			b = jsonw.AppendUint(b, pre, uint64(c.PT))
			b = appendSNE(b, `,"name":`, c.Name)
			if c.Rate != 0 {
				b = jsonw.AppendInt(b, `,"rate":`, int64(c.Rate))
			}
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	w.b = append(b, "]}"...)
	w.first = false
	if err != nil {
		w.str("sdp_error", append(d.errBuf[:0], err.Error()...))
	}
}

// aleg returns the value of the first header that names the A leg.
func (d *Dissector) aleg(s *sip.Message) []byte {
	if len(d.alegPlain) == 1 && d.alegRe == nil && d.alegPlain[0] == "X-CID" {
		return s.XCID // the decoder picks X-CID out already
	}
	for _, h := range s.Headers {
		if d.isALeg(h.Name) {
			return h.Value
		}
	}
	return nil
}

func (d *Dissector) isALeg(name []byte) bool {
	for _, p := range d.alegPlain {
		if ascii.EqualFold(name, p) {
			return true
		}
	}
	if d.alegRe == nil {
		return false
	}
	if v, ok := d.nameCache[string(name)]; ok { // no allocation for the lookup
		return v
	}
	v := d.alegRe.Match(name)
	if len(d.nameCache) < d.maxCache {
		d.nameCache[string(name)] = v
	}
	return v
}
