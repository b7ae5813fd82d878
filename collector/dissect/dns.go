package dissect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/dns"
)

// dnsReason maps the dns package's sentinel errors to metric labels.
func dnsReason(err error) string {
	switch {
	case errors.Is(err, dns.ErrJSON):
		return "dns_json"
	case errors.Is(err, dns.ErrTruncated):
		return "dns_truncated"
	case errors.Is(err, dns.ErrName):
		return "dns_name"
	case errors.Is(err, dns.ErrPointer):
		return "dns_pointer"
	}
	return "dns_other"
}

// dnsRow dissects DNS (type 53): a binary message (with or without the
// two-byte length prefix of DNS over TCP) into the dns package's JSON, or
// DNS that arrives as JSON (the payload starts with '{'), validated and
// stored as sent. protocol_header is
//
//	{"id":N,"qr":B,"qname":S,"qtype":N,"rcode":N}
//
// with qname and qtype from the first question, when there is one.
func (d *Dissector) dnsRow(m *hep.Message, row *store.Row) error {
	p := bytes.TrimLeft(m.Payload, " \t\r\n")
	isJSON := len(p) > 0 && p[0] == '{'
	var err error
	if isJSON {
		err = d.dns.DecodeJSON(p)
	} else {
		b := m.Payload
		// DNS over TCP: a length prefix equal to the rest of the payload.
		if m.IPProto == 6 && len(b) >= 14 && int(binary.BigEndian.Uint16(b)) == len(b)-2 {
			b = b[2:]
		}
		err = d.dns.DecodeFromBytes(b)
		if err != nil && len(b) < 12 {
			// Not even a header: nothing decoded.
			row.ProtocolHeader = emptyObject(row.ProtocolHeader)
			d.errorPayload(row, err, len(m.Payload))
			return &PayloadError{Proto: m.Proto, Reason: dnsReason(err), Err: err}
		}
	}
	if isJSON && err != nil {
		row.ProtocolHeader = emptyObject(row.ProtocolHeader)
		d.errorPayload(row, err, len(m.Payload))
		return &PayloadError{Proto: m.Proto, Reason: dnsReason(err), Err: err}
	}

	w := &d.w
	w.reset(row.ProtocolHeader)
	w.open()
	w.uint("id", uint64(d.dns.ID))
	w.bool("qr", d.dns.QR)
	if len(d.dns.Questions) > 0 {
		w.str("qname", d.dns.Questions[0].Name)
		w.uint("qtype", uint64(d.dns.Questions[0].Type))
	}
	w.uint("rcode", uint64(d.dns.Rcode))
	w.close()
	row.ProtocolHeader = w.b

	if isJSON && utf8.Valid(p) {
		row.Payload = append(row.Payload[:0], p...)
		return nil
	}
	row.Payload = d.dns.AppendJSON(row.Payload[:0])
	if err != nil {
		// Decoded in part: keep what was decoded and say why it stopped.
		row.Payload = appendErrorMember(row.Payload, err)
		return &PayloadError{Proto: m.Proto, Reason: dnsReason(err), Err: err}
	}
	return nil
}
