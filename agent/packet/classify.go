package packet

import (
	"bytes"
	"net/netip"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/hep/rtcp"
	"github.com/xhep/xhep/hep/sip"
)

// datagram classifies one UDP payload or SCTP user message and emits it
// (SIP tests are hep/sip's LooksLikeSIP or StartsWithStartLine on SIP
// ports and the stricter sipFirstLine elsewhere; RTCP is hep/rtcp's Valid).
// A request is SIP by its structure: RFC 3261 allows any token as the
// method, so an extension method is SIP when its request line is well
// formed; known method names only make the test cheaper.
//
//  1. either port in SIPPorts: SIP if it starts with a known method or a
//     status line, or its first line is a well-formed request line (after
//     any CR and LF bytes, which are cut off); otherwise a
//     keep-alive (only CR, LF, space or NUL bytes, or shorter than
//     tinyDatagram) or junk, counted and not emitted;
//  2. either port in DNSPorts: DNS (at least the 12-byte header);
//  3. SIPByContent and a SIP first line: SIP;
//  4. RTCP and a valid RTCP compound packet: RTCP;
//  5. otherwise Unclassified (UDP handed to Config.Unclassified if set).
func (d *Decoder) datagram(proto uint8, src, dst netip.AddrPort, b []byte, emit func(*Message)) {
	c := &d.cfg
	switch {
	case c.SIPPorts.Has(src.Port()) || c.SIPPorts.Has(dst.Port()):
		k := sip.KeepAliveLen(b) // stray line ends before a message are dropped
		switch {
		case sip.LooksLikeSIP(b[k:]) || sip.StartsWithStartLine(b[k:]):
			d.deliver(ClassSIP, proto, src, dst, d.vlan, b[k:], d.frame, emit)
		case isKeepAlive(b):
			d.st.KeepAlives++
		default:
			d.st.Junk++
		}
	case c.DNSPorts.Has(src.Port()) || c.DNSPorts.Has(dst.Port()):
		if len(b) < 12 {
			d.bad(ReasonBadDNS)
			return
		}
		d.deliver(ClassDNS, proto, src, dst, d.vlan, b, d.frame, emit)
	case c.SIPByContent && sipFirstLine(b):
		d.deliver(ClassSIP, proto, src, dst, d.vlan, b, d.frame, emit)
	case c.RTCP && rtcp.Valid(b):
		if n := rtcp.Trailing(b); n > 0 {
			d.st.RTCPTrailing++
			d.st.RTCPTrailingBytes += uint64(n)
		}
		d.deliver(ClassRTCP, proto, src, dst, d.vlan, b, d.frame, emit)
	default:
		d.st.Unclassified++
		if c.Unclassified != nil && proto == 17 && d.frame != nil {
			c.Unclassified(src, dst, b, d.frame.TS)
		}
	}
}

// deliver applies the filters and emits one message.
func (d *Decoder) deliver(class Class, proto uint8, src, dst netip.AddrPort, vlan uint16, b []byte, f *source.Frame, emit func(*Message)) {
	c := &d.cfg
	if len(c.DropIPs) > 0 {
		sa, da := src.Addr(), dst.Addr()
		for _, p := range c.DropIPs {
			if p.Contains(sa) || p.Contains(da) {
				d.st.Filtered[FilterIP]++
				return
			}
		}
	}
	if class == ClassSIP && len(c.DropMethods) > 0 {
		if m := sipMethod(b); len(m) > 0 {
			for _, dm := range c.DropMethods {
				if bytes.Equal(m, dm) {
					d.st.Filtered[FilterMethod]++
					return
				}
			}
		}
	}
	for _, s := range c.DropPayload {
		if bytes.Contains(b, s) {
			d.st.Filtered[FilterPayload]++
			return
		}
	}
	m := &d.msg
	m.TS = f.TS
	m.IPProto = proto
	m.Src, m.Dst = src, dst
	m.VLAN = vlan
	m.Class = class
	m.Payload = b
	m.Frame = f
	d.st.Messages[class]++
	emit(m)
	m.Payload, m.Frame = nil, nil
}

// tinyDatagram: non-SIP datagrams on SIP ports shorter than this are
// keep-alives (e.g. the 4 NUL bytes or the 5-byte "hello" some user agents
// send), longer ones junk. The shortest real SIP message is far longer.
const tinyDatagram = 16

func isKeepAlive(b []byte) bool {
	if len(b) < tinyDatagram {
		return true
	}
	for _, c := range b {
		if c != '\r' && c != '\n' && c != ' ' && c != 0 {
			return false
		}
	}
	return true
}

// sipMethods are the request methods recognised at the start of a message
// (RFC 3261 and extensions: 3262, 6665, 3903, 6086, 3515, 3428, 3311).
var sipMethods = [...]string{
	"INVITE ", "ACK ", "BYE ", "CANCEL ", "REGISTER ", "OPTIONS ", "PRACK ",
	"SUBSCRIBE ", "NOTIFY ", "PUBLISH ", "INFO ", "REFER ", "MESSAGE ", "UPDATE ",
}

// methodLen returns the length of the known method b starts with (not
// counting the space after it), or 0.
func methodLen(b []byte) int {
	switch b[0] {
	case 'I', 'A', 'B', 'C', 'R', 'O', 'P', 'S', 'N', 'U', 'M':
	default:
		return 0
	}
	for _, m := range sipMethods {
		if len(b) >= len(m) && string(b[:len(m)]) == m {
			return len(m) - 1
		}
	}
	return 0
}

// maxFirstLine bounds the search for the end of a SIP start line.
const maxFirstLine = 2048

// sipFirstLine is the stricter content test used on ports that are not SIP
// ports: a status line "SIP/2.0 NNN " or a request line "METHOD SP URI SP
// SIP/2.0" ending in CRLF (or LF) within maxFirstLine bytes, METHOD any
// token (extension methods included).
func sipFirstLine(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	if bytes.HasPrefix(b, []byte("SIP/2.0 ")) {
		return isDigit(b[8]) && isDigit(b[9]) && isDigit(b[10]) && b[11] == ' '
	}
	if methodLen(b) == 0 {
		if c := b[0] | 0x20; c < 'a' || c > 'z' {
			return false // RTP (0x80...) and binary protocols end here
		}
		lim := b[:min(len(b), maxFirstLine)]
		return bytes.IndexByte(lim, '\n') > 0 && sip.StartsWithStartLine(lim)
	}
	lim := b
	if len(lim) > maxFirstLine {
		lim = lim[:maxFirstLine]
	}
	i := bytes.IndexByte(lim, '\n')
	if i < 0 {
		return false
	}
	line := bytes.TrimSuffix(lim[:i], []byte("\r"))
	// ABNF literals are case-insensitive: "sip/2.0" is a valid version.
	return len(line) > 8 && bytes.EqualFold(line[len(line)-8:], []byte(" SIP/2.0"))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// sipMethod returns the method of a SIP request line, or for a response
// the method of its CSeq header ("CSeq: 1 INVITE"); nil if none is found.
func sipMethod(b []byte) []byte {
	if n := methodLen(b); n > 0 {
		return b[:n]
	}
	if !bytes.HasPrefix(b, []byte("SIP/2.0 ")) && sip.StartsWithStartLine(b) {
		return b[:bytes.IndexByte(b, ' ')] // an extension method
	}
	// Find a CSeq header line (the name is case-insensitive and has no
	// compact form).
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return nil
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return nil // end of headers
		}
		if len(line) < 5 || !bytes.EqualFold(line[:4], []byte("cseq")) {
			continue
		}
		rest := bytes.TrimLeft(line[4:], " \t")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		f := bytes.Fields(rest[1:])
		if len(f) < 2 {
			return nil
		}
		return f[1]
	}
	return nil
}
