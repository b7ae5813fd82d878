package packet

import (
	"bytes"
	"net/netip"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
	"github.com/xhep/xhep/hep/rtcp"
	"github.com/xhep/xhep/hep/sip"
)

// datagram classifies one UDP payload or SCTP user message and emits it
// (SIP tests are hep/sip's LooksLikeSIP or StartsWithStartLine on SIP
// ports and the stricter HasStartLine elsewhere; RTCP is hep/rtcp's Valid).
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
//
// For a datagram the kernel filter classified ([source.Frame].Match, not
// reassembled, not inside a tunnel), the port tests of 1 and 2 are its
// bits, and 3 is skipped for one it matched as RTCP only.
//
// With Config.HEP every payload is HEP instead (class ClassUnknown).
func (d *Decoder) datagram(proto uint8, src, dst netip.AddrPort, b []byte, emit func(*Message)) {
	c := &d.cfg
	// The kernel filter classified this very datagram by the same Rules
	// (kernel): its port bits are the port tests. One it matched as RTCP
	// only failed the kernel's SIP start-line test first, and so fails
	// sip.HasStartLine (its first byte, version 2, is no token character):
	// the content test is skipped. Each test runs only when reached.
	m := d.match & (bpf.ClassSIP | bpf.ClassDNS | bpf.ClassSIPContent | bpf.ClassRTCP)
	kernel := m != 0
	switch {
	case c.HEP:
		if len(b) == 0 {
			d.st.KeepAlives++ // agents probe a UDP collector with an empty datagram
			return
		}
		d.deliver(ClassUnknown, proto, src, dst, d.vlan, b, d.frame, emit)
	case kernel && m&bpf.ClassSIP != 0, !kernel && (c.SIPPorts.Has(src.Port()) || c.SIPPorts.Has(dst.Port())):
		k := sip.KeepAliveLen(b) // stray line ends before a message are dropped
		switch {
		case sip.LooksLikeSIP(b[k:]) || sip.StartsWithStartLine(b[k:]):
			d.deliver(ClassSIP, proto, src, dst, d.vlan, b[k:], d.frame, emit)
		case isKeepAlive(b):
			d.st.KeepAlives++
		default:
			d.st.Junk++
		}
	case kernel && m&bpf.ClassDNS != 0, !kernel && (c.DNSPorts.Has(src.Port()) || c.DNSPorts.Has(dst.Port())):
		if len(b) < 12 {
			d.bad(ReasonBadDNS)
			return
		}
		d.deliver(ClassDNS, proto, src, dst, d.vlan, b, d.frame, emit)
	case c.SIPByContent && m != bpf.ClassRTCP && sip.HasStartLine(b):
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
		if m := sip.MethodOf(b); len(m) > 0 {
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
