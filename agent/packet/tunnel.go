package packet

// gre decodes a GRE header (RFC 2784, key and sequence number RFC 2890):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|C|R|K|S|    Reserved0    | Ver |         Protocol Type         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Checksum (if C)          |       Reserved1 (if C)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Key (if K)                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Sequence Number (if S)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Only version 0 is decoded (version 1 is PPTP's enhanced GRE), and not
// the RFC 1701 routing option (R). Protocol Type is an EtherType: IPv4,
// IPv6, 0x6558 (transparent Ethernet bridging), 0x88be (ERSPAN type II, or
// type I when S is clear: a bare Ethernet frame), 0x22eb (ERSPAN type III),
// or anything etherType decodes (VLAN, MPLS).
func (d *Decoder) gre(b []byte, emit func(*Message)) {
	if len(b) < 4 {
		d.bad(ReasonTruncated)
		return
	}
	flags := be16(b[0:2])
	if flags&7 != 0 || flags&0x4000 != 0 {
		d.bad(ReasonBadTunnel)
		return
	}
	off := 4
	if flags&0x8000 != 0 {
		off += 4
	}
	if flags&0x2000 != 0 {
		off += 4
	}
	seq := flags&0x1000 != 0
	if seq {
		off += 4
	}
	if len(b) < off {
		d.bad(ReasonTruncated)
		return
	}
	proto := be16(b[2:4])
	b = b[off:]
	switch proto {
	case 0x88be:
		if !seq { // ERSPAN type I: no ERSPAN header
			if d.enter(TunnelERSPAN2) {
				d.ether(b, emit)
			}
			return
		}
		d.erspan2(b, emit)
	case 0x22eb:
		d.erspan3(b, emit)
	case 0x6558:
		if d.enter(TunnelGRE) {
			d.ether(b, emit)
		}
	default:
		if d.enter(TunnelGRE) {
			d.etherType(proto, b, emit)
		}
	}
}

// erspan2 decodes an ERSPAN type II header and the mirrored Ethernet frame
// after it:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Ver  |          VLAN         | COS | En|T|    Session ID     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Reserved         |                  Index                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Ver is 1. En 0b10 says the original 802.1Q tag was stripped and VLAN
// holds its id; a tag left in the frame (En 0b11) is read from the frame.
func (d *Decoder) erspan2(b []byte, emit func(*Message)) {
	if len(b) < 8 {
		d.bad(ReasonTruncated)
		return
	}
	if b[0]>>4 != 1 {
		d.bad(ReasonBadTunnel)
		return
	}
	if !d.enter(TunnelERSPAN2) {
		return
	}
	if (b[2]>>3)&3 == 2 {
		if v := be16(b[0:2]) & 0x0fff; v != 0 {
			d.vlan = v
		}
	}
	d.ether(b[8:], emit)
}

// erspan3 decodes an ERSPAN type III header and the frame after it:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                          Timestamp                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Platform Specific Subheader (8 bytes, if O) ...           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Ver is 2. FT (frame type) 0 is Ethernet, 2 is an IP packet.
func (d *Decoder) erspan3(b []byte, emit func(*Message)) {
	if len(b) < 12 {
		d.bad(ReasonTruncated)
		return
	}
	if b[0]>>4 != 2 {
		d.bad(ReasonBadTunnel)
		return
	}
	off := 12
	if b[11]&1 != 0 {
		off += 8
	}
	if len(b) < off {
		d.bad(ReasonTruncated)
		return
	}
	ft := (b[10] >> 2) & 0x1f
	if ft != 0 && ft != 2 {
		d.bad(ReasonBadTunnel)
		return
	}
	if !d.enter(TunnelERSPAN3) {
		return
	}
	if ft == 0 {
		d.ether(b[off:], emit)
	} else {
		d.ip(b[off:], emit)
	}
}

// vxlan decodes a VXLAN header (RFC 7348) and the Ethernet frame after it:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|R|R|R|I|R|R|R|            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                VXLAN Network Identifier (VNI) |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The I flag (valid VNI) must be set.
func (d *Decoder) vxlan(b []byte, emit func(*Message)) {
	if len(b) < 8 {
		d.bad(ReasonTruncated)
		return
	}
	if b[0]&0x08 == 0 {
		d.bad(ReasonBadTunnel)
		return
	}
	if d.enter(TunnelVXLAN) {
		d.ether(b[8:], emit)
	}
}
