package packet

import (
	"net/netip"
	"time"
)

// sctp decodes an SCTP packet (RFC 9260) and emits the user data of each
// user message carried in DATA chunks: a chunk with both B (first) and E
// (last) flags holds a whole message; other chunks are fragments that
// sctpFrag reassembles:
//
//	Common header:
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Source Port Number        |     Destination Port Number   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Verification Tag                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           Checksum                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	Chunks, each padded to 4 bytes:
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Type (0)    | Res |I|U|B|E|       Length (incl. header)     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                              TSN                              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Stream Identifier        |   Stream Sequence Number      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Payload Protocol Identifier                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 User Data (Length - 16 bytes)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
func (d *Decoder) sctp(src, dst netip.Addr, b []byte, emit func(*Message)) {
	if len(b) < 12 {
		d.bad(ReasonTruncated)
		return
	}
	d.st.SCTP++
	s := netip.AddrPortFrom(src, be16(b[0:2]))
	t := netip.AddrPortFrom(dst, be16(b[2:4]))
	b = b[12:]
	for len(b) > 0 {
		if len(b) < 4 {
			d.bad(ReasonTruncated)
			return
		}
		n := int(be16(b[2:4]))
		if n < 4 {
			d.bad(ReasonBadSCTP)
			return
		}
		if n > len(b) {
			d.bad(ReasonTruncated)
			return
		}
		if b[0] == 0 {
			if n < 16 {
				d.bad(ReasonBadSCTP)
				return
			}
			d.st.SCTPChunks++
			if b[1]&3 == 3 {
				d.datagram(132, s, t, b[16:n], emit)
			} else {
				d.sctpFrag(s, t, b[1], be32(b[4:8]), be16(b[8:10]), b[16:n], emit)
			}
		}
		pad := (n + 3) &^ 3
		if pad > len(b) {
			pad = len(b)
		}
		b = b[pad:]
	}
}

// sctpKey identifies a user message being reassembled: the direction, the
// stream and whether it is unordered (U flag).
type sctpKey struct {
	src, dst  netip.AddrPort
	sid       uint16
	unordered bool
}

// sctpMsg is a user message being reassembled: its fragments must come
// with consecutive TSNs (RFC 9260 §6.9); a fragment that does not follow
// the last one drops the message.
type sctpMsg struct {
	first   int64  // timestamp of the first fragment
	nextTSN uint32 // TSN the next fragment must have
	buf     []byte
}

// sctpFrag adds one DATA chunk fragment (flags: B 0x02 first, E 0x01 last)
// to its user message, and classifies the message when the last fragment
// completes it. In-progress messages share the IP defragmentation bounds
// (MaxFragments, MaxFragBytes, FragTimeout); what is dropped is counted in
// SCTPDropped.
func (d *Decoder) sctpFrag(src, dst netip.AddrPort, flags uint8, tsn uint32, sid uint16, p []byte, emit func(*Message)) {
	d.st.SCTPFragments++
	k := sctpKey{src, dst, sid, flags&0x04 != 0}
	m := d.sctpMsgs[k]
	if flags&0x02 != 0 { // first fragment
		if m != nil {
			d.st.SCTPDropped++ // the previous one never ended
			d.sctpDrop(k, m)
		}
		if len(d.sctpMsgs) >= d.cfg.MaxFragments || d.sctpBytes+len(p) > d.cfg.MaxFragBytes {
			d.st.SCTPDropped++
			return
		}
		m = &sctpMsg{first: d.frame.TS, nextTSN: tsn + 1, buf: append([]byte(nil), p...)}
		d.sctpMsgs[k] = m
		d.sctpBytes += len(p)
		return
	}
	if m == nil {
		d.st.SCTPDropped++ // its start was not seen
		return
	}
	if tsn != m.nextTSN {
		if seqLT(tsn, m.nextTSN) {
			return // retransmission of a fragment already held
		}
		d.st.SCTPDropped++
		d.sctpDrop(k, m)
		return
	}
	if d.sctpBytes+len(p) > d.cfg.MaxFragBytes || len(m.buf)+len(p) > maxDatagram*16 {
		d.st.SCTPDropped++
		d.sctpDrop(k, m)
		return
	}
	m.buf = append(m.buf, p...)
	m.nextTSN++
	d.sctpBytes += len(p)
	if flags&0x01 != 0 { // last fragment
		d.sctpDrop(k, m)
		d.st.SCTPReassembled++
		d.datagram(132, src, dst, m.buf, emit)
	}
}

func (d *Decoder) sctpDrop(k sctpKey, m *sctpMsg) {
	delete(d.sctpMsgs, k)
	d.sctpBytes -= len(m.buf)
}

// sctpExpire drops user messages older than FragTimeout.
func (d *Decoder) sctpExpire(now int64) {
	limit := int64(d.cfg.FragTimeout / time.Nanosecond)
	for k, m := range d.sctpMsgs {
		if now-m.first > limit {
			d.st.SCTPDropped++
			d.sctpDrop(k, m)
		}
	}
}
