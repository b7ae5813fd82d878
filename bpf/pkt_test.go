package bpf

import (
	"encoding/binary"
	"net/netip"
)

// Hand-built test frames. Checksums are left zero: the filter does not
// verify them. Each builder returns a new slice: header || payload.

func be16(b []byte, v uint16) { binary.BigEndian.PutUint16(b, v) }

// ethFrame: dst mac(6) 02:00:00:00:00:02 | src mac(6) 02:00:00:00:00:01 | type(2) | payload
func ethFrame(typ uint16, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	copy(b, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	be16(b[12:], typ)
	return append(b, payload...)
}

// vlanFrame inserts 802.1Q tags (tpid, vid) after the MAC addresses of an
// Ethernet frame, outermost first.
func vlanFrame(frame []byte, tags ...[2]uint16) []byte {
	out := append([]byte{}, frame[:12]...)
	for _, t := range tags {
		out = binary.BigEndian.AppendUint16(out, t[0])
		out = binary.BigEndian.AppendUint16(out, t[1])
	}
	return append(out, frame[12:]...)
}

type v4opts struct {
	id      uint16
	mf      bool
	fragOff uint16 // in 8-byte units
	options []byte // multiple of 4 bytes
}

// ipv4Pkt: 0x45.. | tos | total len | id | flags+frag off | ttl 64 | proto | csum 0 | src | dst | options
func ipv4Pkt(src, dst string, proto uint8, payload []byte, o v4opts) []byte {
	ihl := 20 + len(o.options)
	b := make([]byte, ihl, ihl+len(payload))
	b[0] = 0x40 | byte(ihl/4)
	be16(b[2:], uint16(ihl+len(payload)))
	be16(b[4:], o.id)
	fo := o.fragOff
	if o.mf {
		fo |= 0x2000
	}
	be16(b[6:], fo)
	b[8] = 64
	b[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], o.options)
	return append(b, payload...)
}

// ipv6Pkt: 0x60000000 | payload len | next header | hop limit 64 | src(16) | dst(16) | exts+payload
// exts is a chain of already-encoded extension headers; nh the first next header.
func ipv6Pkt(src, dst string, nh uint8, rest []byte) []byte {
	b := make([]byte, 40, 40+len(rest))
	b[0] = 0x60
	be16(b[4:], uint16(len(rest)))
	b[6] = nh
	b[7] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, rest...)
}

// ipv6Opts: an 8-byte hop-by-hop or destination options header with PadN.
func ipv6Opts(next uint8) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} }

// ipv6Frag: next | 0 | offset<<3 | M | id(4)
func ipv6Frag(next uint8, off uint16, more bool, id uint32) []byte {
	b := []byte{next, 0, 0, 0, 0, 0, 0, 0}
	fo := off << 3
	if more {
		fo |= 1
	}
	be16(b[2:], fo)
	binary.BigEndian.PutUint32(b[4:], id)
	return b
}

// udpPkt: sport | dport | length | csum 0 | payload
func udpPkt(sp, dp uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	be16(b, sp)
	be16(b[2:], dp)
	be16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// tcpPkt: sport | dport | seq | ack | doff=5,flags ACK|PSH | window | csum | urg | payload
func tcpPkt(sp, dp uint16, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	be16(b, sp)
	be16(b[2:], dp)
	b[12] = 5 << 4
	b[13] = 0x18
	be16(b[14:], 65535)
	return append(b, payload...)
}

// sctpPkt: sport | dport | vtag | csum | payload (chunks)
func sctpPkt(sp, dp uint16, payload []byte) []byte {
	b := make([]byte, 12, 12+len(payload))
	be16(b, sp)
	be16(b[2:], dp)
	return append(b, payload...)
}

// greHdr: flags(1) | ver(1) | proto(2) | [seq(4) when S]
func greHdr(proto uint16, seq bool) []byte {
	b := []byte{0, 0, 0, 0}
	be16(b[2:], proto)
	if seq {
		b[0] = 0x10
		b = append(b, 0, 0, 0, 7)
	}
	return b
}

// vxlanHdr: flags 0x08 | reserved(3) | VNI 42 (3) | reserved(1)
func vxlanHdr() []byte { return []byte{0x08, 0, 0, 0, 0, 0, 42, 0} }

func sipInvite(size int) []byte {
	msg := "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n"
	b := []byte(msg)
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

// sipFrameUDP is an Ethernet/IPv4/UDP frame of exactly size bytes carrying a SIP INVITE.
func sipFrameUDP(size int, sp, dp uint16) []byte {
	return ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17,
		udpPkt(sp, dp, sipInvite(size-14-20-8)), v4opts{}))
}
