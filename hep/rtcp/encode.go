package rtcp

import "encoding/binary"

// AppendBinary appends p as a compound RTCP packet: an SR (when
// HasSender or Type is SR) or an RR with the report blocks (at most 31,
// the header's count field), then an SDES with the items of SDESSSRC's
// chunk, then a BYE when p has SSRCs leaving. It rebuilds what arrived as
// JSON (heplify, xhep-agent) for pcap export; APP and XR sub-packets are
// not rebuilt. Wire format (RFC 3550 §6.4):
//
//	0: V=2 P RC(5) | PT | length (32-bit words - 1)
//	4: SSRC of the sender
//	8: SR only: NTP sec, NTP frac, RTP timestamp, packets, octets (20 bytes)
//	   RC report blocks of 24 bytes: source SSRC, fraction lost (8) +
//	   cumulative lost (24), highest seq, jitter, LSR, DLSR
func (p *Packet) AppendBinary(dst []byte) []byte {
	blocks := p.ReportBlocks
	if len(blocks) > 31 {
		blocks = blocks[:31]
	}
	sr := p.HasSender || p.Type == TypeSR
	start := len(dst)
	pt := byte(TypeRR)
	if sr {
		pt = TypeSR
	}
	dst = append(dst, 0x80|byte(len(blocks)), pt, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, p.SSRC)
	if sr {
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.Sender.NTPSec))
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.Sender.NTPFrac))
		dst = binary.BigEndian.AppendUint32(dst, p.Sender.RTPTimestamp)
		dst = binary.BigEndian.AppendUint32(dst, p.Sender.Packets)
		dst = binary.BigEndian.AppendUint32(dst, p.Sender.Octets)
	}
	for _, b := range blocks {
		dst = binary.BigEndian.AppendUint32(dst, b.SourceSSRC)
		dst = binary.BigEndian.AppendUint32(dst, uint32(b.FractionLost)<<24|uint32(b.PacketsLost)&0xffffff)
		dst = binary.BigEndian.AppendUint32(dst, b.HighestSeq)
		dst = binary.BigEndian.AppendUint32(dst, b.Jitter)
		dst = binary.BigEndian.AppendUint32(dst, b.LSR)
		dst = binary.BigEndian.AppendUint32(dst, b.DLSR)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16((len(dst)-start)/4-1))

	// SDES: one chunk, the items of SDESSSRC (texts up to 255 bytes),
	// ended by a zero byte and padded to a word.
	var items []SDESItem
	for _, it := range p.SDES {
		if it.SSRC == p.SDESSSRC && it.Type != 0 {
			items = append(items, it)
		}
	}
	if len(items) > 0 {
		s := len(dst)
		dst = append(dst, 0x81, TypeSDES, 0, 0)
		dst = binary.BigEndian.AppendUint32(dst, p.SDESSSRC)
		for _, it := range items {
			t := it.Text
			if len(t) > 255 {
				t = t[:255]
			}
			dst = append(dst, it.Type, byte(len(t)))
			dst = append(dst, t...)
		}
		dst = append(dst, 0)
		for (len(dst)-s)%4 != 0 {
			dst = append(dst, 0)
		}
		binary.BigEndian.PutUint16(dst[s+2:], uint16((len(dst)-s)/4-1))
	}
	if len(p.BYE) > 0 {
		s := len(dst)
		dst = append(dst, 0x80|byte(len(p.BYE)&0x1f), TypeBYE, 0, 0)
		for _, ssrc := range p.BYE[:min(len(p.BYE), 31)] {
			dst = binary.BigEndian.AppendUint32(dst, ssrc)
		}
		binary.BigEndian.PutUint16(dst[s+2:], uint16((len(dst)-s)/4-1))
	}
	return dst
}
