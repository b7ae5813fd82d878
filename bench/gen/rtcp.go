package gen

import (
	"encoding/binary"
	"time"
)

// RTCP compound packet (RFC 3550 section 6), as sent here: an SR or RR
// followed by an SDES with one CNAME chunk.
//
//	common header: V=2(2) P(1) count(5) | PT(8) | length(16) = 32-bit words - 1
//	SR  (PT 200): SSRC(32) NTP sec(32) NTP frac(32) RTP ts(32)
//	              packet count(32) octet count(32) then count report blocks
//	RR  (PT 201): SSRC(32) then count report blocks
//	report block: SSRC(32) fraction lost(8) cumulative lost(24, signed)
//	              extended highest seq(32) jitter(32) LSR(32) DLSR(32)
//	SDES (PT 202, count = chunks): SSRC(32), items type(8) len(8) text,
//	              END (0) and zero padding to a 32-bit boundary
//
// LSR is the middle 32 bits of the NTP time of the last SR received from
// the reported source; DLSR the delay since, in 1/65536 s.

// mediaEnd is one side of a call's audio as the SDP announced it.
type mediaEnd struct {
	host     *node
	rtpPort  uint16
	rtcpPort uint16 // where RTCP goes: RTP+1, a=rtcp:, or the RTP port with rtcp-mux
	ssrc     uint32
	seqBase  uint16
	tsBase   uint32
	cname    string
	sender   bool // sends media (SR, RTP) at this point of the call; false: receives only (RR)
	lost     uint32
	rtpSent  uint32
	lastSR   uint32    // middle 32 bits of the last SR NTP time received from the peer
	lastSRAt time.Time // when it was received
}

// media is the RTCP state of one call leg: side 0 is the SDP offerer.
type media struct {
	callID string
	pt     byte // RTP payload type: 0 PCMU or 8 PCMA
	end    [2]mediaEnd
	start  time.Time
}

// ntp converts t to a 64-bit NTP timestamp.
func ntp(t time.Time) uint64 {
	const epochOffset = 2208988800 // 1900-01-01 to 1970-01-01
	sec := uint64(t.Unix()) + epochOffset
	frac := (uint64(t.Nanosecond())<<32 + 5e8) / 1e9
	return sec<<32 | frac
}

// appendRTCP writes the compound packet side `from` sends at time now (an
// SR when it sends media, else an RR) and updates the peer's view of the
// last SR.
func (m *media) appendRTCP(b []byte, from int, sr bool, now time.Time) []byte {
	if m.start.IsZero() {
		m.start = now.Add(-2 * time.Second)
	}
	me, peer := &m.end[from], &m.end[1-from]
	elapsed := now.Sub(m.start)
	// Counts follow the RTP actually sent when there is some, else what
	// 20 ms packets since the call started would be.
	pkts, peerPkts := uint32(elapsed/(20*time.Millisecond)), uint32(elapsed/(20*time.Millisecond))
	if me.rtpSent > 0 || peer.rtpSent > 0 {
		pkts, peerPkts = me.rtpSent, peer.rtpSent
	}
	start := len(b)
	if sr {
		n := ntp(now)
		b = append(b, 0x81, 200, 0, 12) // V=2 RC=1 SR, 12 words follow
		b = binary.BigEndian.AppendUint32(b, me.ssrc)
		b = binary.BigEndian.AppendUint64(b, n)
		b = binary.BigEndian.AppendUint32(b, me.tsBase+uint32(elapsed/(125*time.Microsecond)))
		b = binary.BigEndian.AppendUint32(b, pkts)
		b = binary.BigEndian.AppendUint32(b, pkts*160)
		peer.lastSR = uint32(n >> 16)
		peer.lastSRAt = now
	} else {
		b = append(b, 0x81, 201, 0, 7) // V=2 RC=1 RR, 7 words follow
		b = binary.BigEndian.AppendUint32(b, me.ssrc)
	}
	// Report block about the peer's stream.
	frac := uint32(0)
	if peerPkts > 0 && me.lost < peerPkts/50 {
		me.lost++
		frac = 256 / 50
	}
	b = binary.BigEndian.AppendUint32(b, peer.ssrc)
	b = binary.BigEndian.AppendUint32(b, frac<<24|me.lost&0xffffff)
	b = binary.BigEndian.AppendUint32(b, uint32(peer.seqBase)+peerPkts) // cycles stay 0 for short calls
	b = binary.BigEndian.AppendUint32(b, 20+uint32(peer.ssrc%180))      // jitter, RTP timestamp units
	var dlsr uint32
	if !me.lastSRAt.IsZero() {
		dlsr = uint32(now.Sub(me.lastSRAt) * 65536 / time.Second)
	}
	b = binary.BigEndian.AppendUint32(b, me.lastSR)
	b = binary.BigEndian.AppendUint32(b, dlsr)

	// SDES with CNAME, END, padded to 32 bits.
	sdes := len(b)
	b = append(b, 0x81, 202, 0, 0)
	b = binary.BigEndian.AppendUint32(b, me.ssrc)
	b = append(b, 1, byte(len(me.cname)))
	b = append(b, me.cname...)
	b = append(b, 0)
	for (len(b)-start)%4 != 0 {
		b = append(b, 0)
	}
	binary.BigEndian.PutUint16(b[sdes+2:], uint16((len(b)-sdes)/4-1))
	return b
}

// RTP packet (RFC 3550 section 5.1), G.711 at 20 ms:
//
//	V=2(2) P(1) X(1) CC(4) | M(1) PT(7) | sequence number(16)
//	timestamp(32) SSRC(32) then 160 bytes of audio
func (m *media) appendRTP(b []byte, from int) []byte {
	me := &m.end[from]
	n := me.rtpSent
	me.rtpSent++
	marker := byte(0)
	if n == 0 {
		marker = 0x80
	}
	b = append(b, 0x80, marker|m.pt)
	b = binary.BigEndian.AppendUint16(b, me.seqBase+uint16(n))
	b = binary.BigEndian.AppendUint32(b, me.tsBase+160*n)
	b = binary.BigEndian.AppendUint32(b, me.ssrc)
	// Quiet line noise, different in every packet.
	for i := range uint32(160) {
		b = append(b, 0xf0|byte((n*7+i*13)>>2)&0x0f)
	}
	return b
}
