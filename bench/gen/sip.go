package gen

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
)

// hdr is one extra SIP header line.
type hdr struct{ name, value string }

// sipMsg is everything one SIP message needs; appendSIP writes it.
type sipMsg struct {
	method, ruri string // request line; method "" means a response
	status       int
	reason       string
	vias         []string // values, topmost first
	rr, route    []string
	maxFwd       int // 0: no Max-Forwards
	from, to     string
	callID       string
	cseq         uint32
	cseqMethod   string
	contact      string // full value, e.g. <sip:1001@10.1.0.5:5060>
	extra        []hdr
	ua           string
	server       bool // ua goes into Server: instead of User-Agent:
	compact      bool // compact header names where SIP has them
	// longLength keeps Content-Length long even in a compact message:
	// tshark 4.0 does not honour "l:" when it reassembles SIP over TCP,
	// so compact senders write it in full over TCP.
	longLength bool
	ctype      string
	body       []byte
}

// SIP message (RFC 3261 section 7): start line, header lines, empty line,
// body; every line ends in CRLF and Content-Length counts the body bytes.
//
//	INVITE sip:1002@voip.example.com SIP/2.0          request line
//	SIP/2.0 200 OK                                     status line
//	Via: SIP/2.0/UDP 10.1.0.5:5060;branch=z9hG4bK...   or "v:" (compact form)
//	From/f, To/t, Call-ID/i, Contact/m, Content-Type/c, Content-Length/l,
//	Supported/k are the compact names used here.
func appendSIP(b []byte, m *sipMsg) []byte {
	name := func(long, short string) string {
		if m.compact && short != "" {
			return short
		}
		return long
	}
	line := func(n, v string) {
		b = append(b, n...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	if m.method != "" {
		b = append(b, m.method...)
		b = append(b, ' ')
		b = append(b, m.ruri...)
		b = append(b, " SIP/2.0\r\n"...)
	} else {
		b = append(b, "SIP/2.0 "...)
		b = strconv.AppendInt(b, int64(m.status), 10)
		b = append(b, ' ')
		b = append(b, m.reason...)
		b = append(b, "\r\n"...)
	}
	for i, v := range m.vias {
		// Proxies write their own Via in long form on top of a compact
		// message; the originator's Via is the last one.
		if i == len(m.vias)-1 {
			line(name("Via", "v"), v)
		} else {
			line("Via", v)
		}
	}
	for _, v := range m.rr {
		line("Record-Route", v)
	}
	for _, v := range m.route {
		line("Route", v)
	}
	if m.maxFwd > 0 {
		b = append(b, "Max-Forwards: "...)
		b = strconv.AppendInt(b, int64(m.maxFwd), 10)
		b = append(b, "\r\n"...)
	}
	line(name("From", "f"), m.from)
	line(name("To", "t"), m.to)
	line(name("Call-ID", "i"), m.callID)
	b = append(b, "CSeq: "...)
	b = strconv.AppendUint(b, uint64(m.cseq), 10)
	b = append(b, ' ')
	b = append(b, m.cseqMethod...)
	b = append(b, "\r\n"...)
	if m.contact != "" {
		line(name("Contact", "m"), m.contact)
	}
	for _, h := range m.extra {
		if h.name == "Supported" {
			line(name("Supported", "k"), h.value)
			continue
		}
		line(h.name, h.value)
	}
	if m.ua != "" {
		if m.server {
			line("Server", m.ua)
		} else {
			line("User-Agent", m.ua)
		}
	}
	if len(m.body) > 0 {
		line(name("Content-Type", "c"), m.ctype)
	}
	if m.longLength {
		b = append(b, "Content-Length"...)
	} else {
		b = append(b, name("Content-Length", "l")...)
	}
	b = append(b, ": "...)
	b = strconv.AppendInt(b, int64(len(m.body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, m.body...)
}

// sdpOffer describes one side's SDP.
type sdpOffer struct {
	user     string
	sessID   uint64
	version  uint64
	addr     *node // media address
	port     uint16
	rtcpAttr uint16 // a=rtcp: port, 0 for none
	mux      bool
	dir      string // sendrecv, sendonly, recvonly, inactive
	ptime    bool
}

// SDP (RFC 4566), one audio stream:
//
//	v=0
//	o=<user> <sess-id> <sess-version> IN IP4 <addr>
//	s=<name>
//	c=IN IP4 <addr>
//	t=0 0
//	m=audio <port> RTP/AVP 0 8 101
//	a=rtpmap:... a=fmtp:101 0-16 [a=rtcp:<port>] [a=rtcp-mux] a=<direction>
func appendSDP(b []byte, o *sdpOffer) []byte {
	ipv := " IN IP4 "
	if o.addr.ip.Is6() {
		ipv = " IN IP6 "
	}
	addr := o.addr.ip.String()
	b = append(b, "v=0\r\no="...)
	b = append(b, o.user...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, o.sessID, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, o.version, 10)
	b = append(b, ipv...)
	b = append(b, addr...)
	b = append(b, "\r\ns=Talk\r\nc="...)
	b = append(b, ipv[1:]...)
	b = append(b, addr...)
	b = append(b, "\r\nt=0 0\r\nm=audio "...)
	b = strconv.AppendUint(b, uint64(o.port), 10)
	b = append(b, " RTP/AVP 0 8 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\n"+
		"a=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-16\r\n"...)
	if o.ptime {
		b = append(b, "a=ptime:20\r\n"...)
	}
	if o.rtcpAttr != 0 {
		b = append(b, "a=rtcp:"...)
		b = strconv.AppendUint(b, uint64(o.rtcpAttr), 10)
		b = append(b, "\r\n"...)
	}
	if o.mux {
		b = append(b, "a=rtcp-mux\r\n"...)
	}
	b = append(b, "a="...)
	b = append(b, o.dir...)
	return append(b, "\r\n"...)
}

// digest computes an RFC 2617 qop=auth response.
func digest(user, realm, pass, method, uri, nonce, nc, cnonce string) string {
	h := func(s string) string {
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	ha1 := h(user + ":" + realm + ":" + pass)
	ha2 := h(method + ":" + uri)
	return h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
}
