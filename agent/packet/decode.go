package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
)

// Message is one application message found by a [Decoder]: a whole SIP
// message, an RTCP compound packet or a DNS message.
//
// A Message and everything it points to (Payload, Frame) belong to the
// Decoder and are valid only during the emit callback; copy what you keep.
type Message struct {
	TS      int64          // Unix ns of the frame that completed the message
	IPProto uint8          // 17 UDP, 6 TCP, 132 SCTP
	Src     netip.AddrPort // inner-most IP addresses and L4 ports
	Dst     netip.AddrPort
	// VLAN is the id of the inner-most 802.1Q/802.1ad tag seen on the way
	// to the inner-most IP header (for QinQ the customer tag, the one next
	// to the IP header; inside a tunnel, a tag on the inner Ethernet frame
	// replaces the outer one; an ERSPAN header whose frame had its tag
	// stripped contributes that tag), 0 if none.
	VLAN    uint16
	Class   Class
	Payload []byte
	// Frame is the frame that completed the message. For messages emitted
	// by [Decoder.Expire] it is a Decoder-owned Frame with nil Data and the
	// TS, IfIndex and Egress of the stream's last segment.
	Frame *source.Frame
}

// Decoder decodes frames into messages. It keeps the IP defragmentation
// and TCP reassembly state, so all frames of one capture go through one
// Decoder.
//
// A Decoder is not safe for concurrent use: Decode, Expire, Stats and Sizes
// must be called from one goroutine (the pipeline's decode goroutine), or
// under the caller's lock.
type Decoder struct {
	cfg Config
	st  Stats
	msg Message

	frame *source.Frame // frame being decoded
	vlan  uint16        // inner-most VLAN id so far
	tags  int           // VLAN tags seen in this frame
	depth int           // encapsulations entered in this frame
	// match: the kernel filter's bpf.Class* bits of the frame while they
	// describe the datagram being decoded: cleared on entering a tunnel
	// and for datagrams reassembled from fragments (see datagram).
	match uint8

	frag *defragger
	tcp  *assembler

	sctpMsgs  map[sctpKey]*sctpMsg // SCTP user messages in reassembly
	sctpBytes int
}

// maxDepth bounds nested encapsulations (tunnels, VLAN tags, MPLS labels
// and IPv6 extension headers each have their own bound).
const maxDepth = 8

// NewDecoder returns a Decoder for cfg.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new decoder: %w", err)
	}
	cfg.Rules = cfg.Rules.WithDefaults()
	d := &Decoder{cfg: cfg, sctpMsgs: make(map[sctpKey]*sctpMsg)}
	d.frag = newDefragger(&d.cfg, &d.st)
	d.tcp = newAssembler(d)
	return d, nil
}

// Stats returns a copy of the counters.
func (d *Decoder) Stats() Stats { return d.st }

// Sizes returns the sizes of the reassembly tables, for gauges: datagrams
// in defragmentation, TCP stream directions followed and the bytes they
// buffer. Fragments counts IP datagrams and SCTP user messages in
// reassembly.
func (d *Decoder) Sizes() (fragments, streams int, streamBytes int) {
	return len(d.frag.table) + len(d.sctpMsgs), len(d.tcp.streams), d.tcp.bytes
}

// Decode decodes one frame and calls emit for each message it completes
// (zero, one or several: a TCP segment may complete several SIP messages, a
// fragment may complete a datagram). Bad input is counted in
// [Stats].Errors by reason; Decode never panics on any input.
func (d *Decoder) Decode(f *source.Frame, emit func(*Message)) {
	d.st.Frames++
	d.frame = f
	d.vlan, d.tags, d.depth = 0, 0, 0
	d.match = f.Match
	if d.match&(bpf.ClassFragment|bpf.ClassFragmentEarly) != 0 {
		d.match = 0
	}
	b := f.Data
	switch f.LinkType {
	case source.LinkEthernet:
		d.st.Link[LinkEthernet]++
		d.ether(b, emit)
	case source.LinkSLL:
		d.st.Link[LinkSLL]++
		d.sll(b, emit)
	case source.LinkSLL2:
		d.st.Link[LinkSLL2]++
		d.sll2(b, emit)
	case source.LinkRaw, source.LinkIPv4, source.LinkIPv6:
		d.st.Link[LinkRaw]++
		d.ip(b, emit)
	case source.LinkNull:
		d.st.Link[LinkNull]++
		d.null(b, false, emit)
	case source.LinkLoop:
		d.st.Link[LinkLoop]++
		d.null(b, true, emit)
	default:
		d.st.Link[LinkOther]++
		d.bad(ReasonUnsupportedLink)
	}
	if d.tags > 0 {
		d.st.VLAN++
		if d.tags > 1 {
			d.st.QinQ++
		}
	}
	d.frame = nil
}

func (d *Decoder) bad(r Reason) { d.st.Errors[r]++ }

// enter counts a decapsulation and reports whether the nesting bound
// allows it.
func (d *Decoder) enter(t Tunnel) bool {
	d.depth++
	d.match = 0
	if d.depth > maxDepth {
		d.bad(ReasonTunnelDepth)
		return false
	}
	d.st.Tunnels[t]++
	return true
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// ether decodes an Ethernet II header:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination MAC (6)                        |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |        Source MAC (6)         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           EtherType           |  payload (or VLAN tags)...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// An EtherType below 0x0600 is an 802.3 length (LLC frame): not IP.
func (d *Decoder) ether(b []byte, emit func(*Message)) {
	if len(b) < 14 {
		d.bad(ReasonTruncated)
		return
	}
	d.etherType(be16(b[12:14]), b[14:], emit)
}

// maxTags bounds the VLAN tags (and MPLS labels) read from one header
// stack.
const maxTags = 8

// etherType dispatches on an EtherType, first reading any VLAN tags:
//
//	802.1Q (TPID 0x8100), 802.1ad S-tag (0x88a8), old QinQ (0x9100):
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| PCP |D|       VLAN id         |     next EtherType / TPID     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	  (the TPID itself is the EtherType that announced the tag)
func (d *Decoder) etherType(et uint16, b []byte, emit func(*Message)) {
	for range maxTags + 1 {
		switch et {
		case 0x8100, 0x88a8, 0x9100:
			if len(b) < 4 {
				d.bad(ReasonTruncated)
				return
			}
			d.vlan = be16(b[0:2]) & 0x0fff
			d.tags++
			et = be16(b[2:4])
			b = b[4:]
			continue
		case 0x0800:
			d.ipv4(b, emit)
		case 0x86dd:
			d.ipv6(b, emit)
		case 0x8864:
			d.pppoe(b, emit)
		case 0x8847, 0x8848:
			d.mpls(b, emit)
		default:
			d.st.Other++
		}
		return
	}
	d.bad(ReasonBadLink)
}

// sll decodes a Linux cooked capture v1 header (16 bytes):
//
//	+---------------------------+
//	| packet type (2)           |  0 to us, 4 outgoing, ...
//	| ARPHRD type (2)           |
//	| link-layer address len (2)|
//	| link-layer address (8)    |
//	| protocol type (2)         |  an EtherType for IP
//	+---------------------------+
func (d *Decoder) sll(b []byte, emit func(*Message)) {
	if len(b) < 16 {
		d.bad(ReasonTruncated)
		return
	}
	d.etherType(be16(b[14:16]), b[16:], emit)
}

// sll2 decodes a Linux cooked capture v2 header (20 bytes):
//
//	+---------------------------+
//	| protocol type (2)         |  an EtherType for IP
//	| reserved (2)              |
//	| interface index (4)       |
//	| ARPHRD type (2)           |
//	| packet type (1)           |
//	| link-layer address len (1)|
//	| link-layer address (8)    |
//	+---------------------------+
func (d *Decoder) sll2(b []byte, emit func(*Message)) {
	if len(b) < 20 {
		d.bad(ReasonTruncated)
		return
	}
	d.etherType(be16(b[0:2]), b[20:], emit)
}

// null decodes the 4-byte BSD loopback header: the address family, in the
// capturing host's byte order (LINKTYPE_NULL, guessed: values above 0xffff
// are byte-swapped) or in network order (LINKTYPE_LOOP). AF_INET is 2;
// AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD) or 30 (macOS).
func (d *Decoder) null(b []byte, network bool, emit func(*Message)) {
	if len(b) < 4 {
		d.bad(ReasonTruncated)
		return
	}
	fam := binary.BigEndian.Uint32(b)
	if !network && fam > 0xffff {
		fam = binary.LittleEndian.Uint32(b)
	}
	switch fam {
	case 2:
		d.ipv4(b[4:], emit)
	case 24, 28, 30:
		d.ipv6(b[4:], emit)
	default:
		d.st.Other++
	}
}

// pppoe decodes a PPPoE session header and the PPP protocol field:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  VER  | TYPE  |      CODE     |          SESSION_ID           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            LENGTH             |  PPP protocol (0x0021 IPv4,   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  0x0057 IPv6)                 |
//
// VER and TYPE are 1, CODE is 0 for session data; LENGTH counts the PPP
// protocol field and what follows.
func (d *Decoder) pppoe(b []byte, emit func(*Message)) {
	if len(b) < 8 {
		d.bad(ReasonTruncated)
		return
	}
	if b[0] != 0x11 || b[1] != 0 {
		d.bad(ReasonBadLink)
		return
	}
	n := int(be16(b[4:6]))
	if n < 2 {
		d.bad(ReasonBadLink)
		return
	}
	if 6+n > len(b) {
		d.bad(ReasonTruncated)
		return
	}
	if !d.enter(TunnelPPPoE) {
		return
	}
	p := b[8 : 6+n]
	switch be16(b[6:8]) {
	case 0x0021:
		d.ipv4(p, emit)
	case 0x0057:
		d.ipv6(p, emit)
	default:
		d.st.Other++
	}
}

// mpls decodes an MPLS label stack and the IP packet under it:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Label                  | TC  |S|      TTL      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// S marks the bottom of the stack. What follows is taken as IP when its
// first nibble is 4 or 6 (pseudowires are not decoded).
func (d *Decoder) mpls(b []byte, emit func(*Message)) {
	if !d.enter(TunnelMPLS) {
		return
	}
	for range maxTags {
		if len(b) < 4 {
			d.bad(ReasonTruncated)
			return
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			if len(b) > 0 && (b[0]>>4 == 4 || b[0]>>4 == 6) {
				d.ip(b, emit)
			} else {
				d.st.Other++
			}
			return
		}
	}
	d.bad(ReasonBadLink)
}

// ip decodes an IPv4 or IPv6 packet by its version nibble.
func (d *Decoder) ip(b []byte, emit func(*Message)) {
	if len(b) < 1 {
		d.bad(ReasonTruncated)
		return
	}
	switch b[0] >> 4 {
	case 4:
		d.ipv4(b, emit)
	case 6:
		d.ipv6(b, emit)
	default:
		d.st.Other++
	}
}

// ipv4 decodes an IPv4 header (RFC 791), options skipped by IHL:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options (IHL > 5)          |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags are 0, DF, MF; the offset is in 8-byte units. Bytes after Total
// Length (Ethernet padding) are ignored. A Total Length of 0 (a TSO
// super-packet seen on egress) means "the rest of the frame". Checksums are
// not verified: offloading makes them wrong on captured egress traffic.
func (d *Decoder) ipv4(b []byte, emit func(*Message)) {
	if len(b) < 20 {
		d.bad(ReasonTruncated)
		return
	}
	ihl := int(b[0]&0x0f) * 4
	if b[0]>>4 != 4 || ihl < 20 {
		d.bad(ReasonBadIPv4)
		return
	}
	tot := int(be16(b[2:4]))
	if tot == 0 {
		tot = len(b)
	}
	if tot < ihl {
		d.bad(ReasonBadIPv4)
		return
	}
	if tot > len(b) {
		d.bad(ReasonTruncated)
		return
	}
	d.st.IPv4++
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	proto := b[9]
	p := b[ihl:tot]
	fo := be16(b[6:8])
	if fo&0x3fff != 0 { // MF set or offset non-zero: a fragment
		var k fragKey
		k.src = src.As16()
		k.dst = dst.As16()
		k.id = uint32(be16(b[4:6]))
		k.proto = proto
		d.match = 0
		dg := d.frag.add(k, int(fo&0x1fff)*8, fo&0x2000 != 0, p, d.frame.TS)
		if dg == nil {
			return
		}
		d.l4(proto, src, dst, dg.data(), emit)
		d.frag.release(dg)
		return
	}
	d.l4(proto, src, dst, p, emit)
}

// maxExtHeaders bounds the IPv6 extension headers walked in one packet.
const maxExtHeaders = 16

// ipv6 decodes an IPv6 header (RFC 8200):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Source Address (16 bytes)                    |
//	|                Destination Address (16 bytes)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// A Payload Length of 0 (jumbogram, or TSO on egress) means "the rest of
// the frame".
func (d *Decoder) ipv6(b []byte, emit func(*Message)) {
	if len(b) < 40 {
		d.bad(ReasonTruncated)
		return
	}
	if b[0]>>4 != 6 {
		d.bad(ReasonBadIPv6)
		return
	}
	n := 40 + int(be16(b[4:6]))
	if n == 40 {
		n = len(b)
	}
	if n > len(b) {
		d.bad(ReasonTruncated)
		return
	}
	d.st.IPv6++
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	d.ipv6Ext(b[6], src, dst, b[40:n], false, emit)
}

// ipv6Ext walks IPv6 extension headers from next header nh over b, then
// decodes the upper-layer protocol. Hop-by-hop (0), routing (43) and
// destination options (60) share a layout, length in 8-byte units not
// counting the first 8; AH (51) counts 4-byte units not counting the
// first 2:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |  Hdr Ext Len  |  options / data ...           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The fragment header (44) is 8 bytes:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Identification                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Everything after it is the fragmentable part; the reassembled datagram
// is walked again from the fragment header's Next Header.
func (d *Decoder) ipv6Ext(nh uint8, src, dst netip.Addr, b []byte, reassembled bool, emit func(*Message)) {
	for range maxExtHeaders {
		switch nh {
		case 0, 43, 60, 51:
			if len(b) < 8 {
				d.bad(ReasonTruncated)
				return
			}
			n := (int(b[1]) + 1) * 8
			if nh == 51 {
				n = (int(b[1]) + 2) * 4
			}
			if n > len(b) {
				d.bad(ReasonTruncated)
				return
			}
			nh = b[0]
			b = b[n:]
		case 44:
			if len(b) < 8 {
				d.bad(ReasonTruncated)
				return
			}
			if reassembled {
				d.bad(ReasonBadIPv6)
				return
			}
			next := b[0]
			fo := be16(b[2:4])
			off := int(fo &^ 7)
			more := fo&1 != 0
			if off == 0 && !more { // atomic fragment (RFC 6946)
				nh = next
				b = b[8:]
				reassembled = true
				continue
			}
			var k fragKey
			k.src = src.As16()
			k.dst = dst.As16()
			k.id = be32(b[4:8])
			k.proto = next
			k.v6 = true
			d.match = 0
			dg := d.frag.add(k, off, more, b[8:], d.frame.TS)
			if dg == nil {
				return
			}
			d.ipv6Ext(next, src, dst, dg.data(), true, emit)
			d.frag.release(dg)
			return
		case 59: // no next header
			d.st.Other++
			return
		default:
			d.l4(nh, src, dst, b, emit)
			return
		}
	}
	d.bad(ReasonBadIPv6)
}

// l4 dispatches on the IP protocol number.
func (d *Decoder) l4(proto uint8, src, dst netip.Addr, b []byte, emit func(*Message)) {
	switch proto {
	case 17:
		d.udp(src, dst, b, emit)
	case 6:
		d.tcpSegment(src, dst, b, emit)
	case 132:
		d.sctp(src, dst, b, emit)
	case 4:
		if d.enter(TunnelIPIP) {
			d.ipv4(b, emit)
		}
	case 41:
		if d.enter(TunnelIPv6IP) {
			d.ipv6(b, emit)
		}
	case 47:
		d.gre(b, emit)
	default:
		d.st.Other++
	}
}

// udp decodes a UDP header (RFC 768):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            Length             |           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts the header; 0 (IPv6 jumbogram, UDP GSO) means "the rest".
func (d *Decoder) udp(src, dst netip.Addr, b []byte, emit func(*Message)) {
	if len(b) < 8 {
		d.bad(ReasonTruncated)
		return
	}
	n := int(be16(b[4:6]))
	if n == 0 {
		n = len(b)
	}
	if n < 8 {
		d.bad(ReasonBadUDP)
		return
	}
	if n > len(b) {
		d.bad(ReasonTruncated)
		return
	}
	d.st.UDP++
	sp, dp := be16(b[0:2]), be16(b[2:4])
	p := b[8:n]
	if dp == d.cfg.VXLANPort { // decapsulated, as in the kernel filter
		d.vxlan(p, emit)
		return
	}
	d.datagram(17, netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp), p, emit)
}

// Expire drops IP fragments older than FragTimeout, skips TCP holes older
// than GapTimeout and flushes TCP streams idle for StreamIdle, all measured
// against now (Unix ns: the wall clock for live capture, the last frame's
// timestamp when reading a file). Messages that complete are emitted with a
// Decoder-owned Frame (see [Message]). Call it about once a second; call
// it with math.MaxInt64 at the end of a file to flush everything.
func (d *Decoder) Expire(now int64, emit func(*Message)) {
	d.frag.expire(now)
	d.sctpExpire(now)
	d.tcp.expire(now, emit)
}
