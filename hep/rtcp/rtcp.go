package rtcp

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Packet types (RFC 3550 §12.1, RFC 3611, RFC 4585).
const (
	TypeSR    = 200
	TypeRR    = 201
	TypeSDES  = 202
	TypeBYE   = 203
	TypeAPP   = 204
	TypeRTPFB = 205
	TypePSFB  = 206
	TypeXR    = 207
)

// Limits on what a Packet keeps; what is beyond them is counted in
// Packet.Dropped and otherwise ignored.
const (
	MaxReportBlocks = 64 // over all SR/RR sub-packets of a compound
	MaxSDESItems    = 32
	MaxBYESSRCs     = 31
)

// Errors returned by [Packet.DecodeFromBytes] and [Packet.DecodeJSON];
// sentinels, returned unwrapped by the binary decoder.
var (
	ErrTruncated = errors.New("rtcp: truncated packet")
	ErrVersion   = errors.New("rtcp: version is not 2")
	ErrType      = errors.New("rtcp: packet type not in 200-207")
	ErrLength    = errors.New("rtcp: sub-packet length does not fit the compound")
	ErrJSON      = errors.New("rtcp: invalid RTCP JSON")
)

// SenderInfo is the sender information of an SR.
//
// NTPSec and NTPFrac are the two words of the 64-bit NTP timestamp (in
// heplify's JSON "ntp_timestamp_sec" and "ntp_timestamp_usec", the latter
// a misnomer for the raw fraction word). They are 64 bits wide because
// captagent's JSON puts a larger computed value into ntp_timestamp_usec and
// [Packet.DecodeJSON] keeps it as sent.
type SenderInfo struct {
	NTPSec       uint64
	NTPFrac      uint64
	RTPTimestamp uint32
	Packets      uint32
	Octets       uint32
}

// ReportBlock is one reception report (RFC 3550 §6.4.1).
type ReportBlock struct {
	SourceSSRC   uint32
	FractionLost uint8  // fraction lost since the last report, in 1/256
	PacketsLost  int32  // cumulative number lost (24-bit signed on the wire)
	HighestSeq   uint32 // extended highest sequence number received
	Jitter       uint32 // interarrival jitter, in RTP timestamp units
	LSR          uint32 // middle 32 bits of the last SR's NTP time, 0 if none
	DLSR         uint32 // delay since that SR, in 1/65536 s
}

// SDESItem is one item of an SDES chunk (RFC 3550 §6.5): Type 1 CNAME,
// 2 NAME, 3 EMAIL, 4 PHONE, 5 LOC, 6 TOOL, 7 NOTE, 8 PRIV.
type SDESItem struct {
	SSRC uint32
	Type uint8
	Text []byte
}

// XRVoIP is the VoIP Metrics report block of RTCP XR (RFC 3611 §4.7),
// heplify's "report_blocks_xr". Type is the XR block type of the first XR
// block (7 for VoIP Metrics); the metric fields are set only for type 7.
type XRVoIP struct {
	Type            uint8
	SSRC            uint32 // SSRC of the source the metrics are about
	LossRate        uint8  // fraction lost, in 1/256
	DiscardRate     uint8
	BurstDensity    uint8
	GapDensity      uint8
	BurstDuration   uint16 // ms
	GapDuration     uint16 // ms
	RoundTripDelay  uint16 // ms
	EndSystemDelay  uint16 // ms
	RFactor         uint8  // 127 = unavailable
	MOSLQ           uint8  // MOS x 10, 127 = unavailable
	MOSCQ           uint8  // MOS x 10, 127 = unavailable
	present, isVoIP bool
}

// Packet is a decoded compound RTCP packet.
//
// Ownership: byte fields (SDES texts, BYE reason, APP name and data)
// alias the decoded input after [Packet.DecodeFromBytes], and Packet-owned
// storage after [Packet.DecodeJSON]; the next decode overwrites them. The
// slices keep their capacity, so binary decoding does not allocate in
// steady state. A Packet is not safe for concurrent use.
type Packet struct {
	// Type and ReportCount are those of the first SR or RR of the
	// compound, or of its first sub-packet when it has neither.
	Type        uint8
	ReportCount uint8
	SSRC        uint32 // SSRC of the SR/RR sender (or of the first sub-packet)
	HasSender   bool   // Sender holds an SR's sender information
	Sender      SenderInfo

	ReportBlocks []ReportBlock // of every SR and RR, in order
	SDESSSRC     uint32        // SSRC of the first SDES chunk ("sdes_ssrc")
	SDES         []SDESItem
	BYE          []uint32 // SSRCs leaving
	BYEReason    []byte
	APPName      []byte // 4 ASCII bytes
	APPSubtype   uint8
	APPData      []byte
	XR           XRVoIP
	Types        uint32 // bit t-200 set for each sub-packet type 200..207 seen
	Dropped      int    // report blocks, SDES items and BYE SSRCs beyond the limits
	Trailing     int    // bytes (1 to 3) after the last sub-packet, ignored (see [Valid])

	reportSeen bool
	json       jsonScratch // storage for DecodeJSON
}

// Valid reports whether b is plausibly a (compound) RTCP packet: version 2
// and a packet type 200..207 in every sub-packet, and sub-packet lengths
// that walk to the end of b, or to 1 to 3 bytes before it: sub-packets are
// whole 32-bit words, so such a tail cannot start another one, and
// Wireshark decodes the packet and shows the tail (seen in a real capture:
// lengths summing to 2 bytes less than the datagram). [Trailing] counts
// them. It is the agent classifier's test and does not allocate. SRTCP
// (with its trailing 4-byte index and tag) is not valid.
func Valid(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	end := len(b) &^ 3
	for off := 0; off < end; {
		if b[off]>>6 != 2 || b[off+1] < TypeSR || b[off+1] > TypeXR {
			return false
		}
		off += (int(binary.BigEndian.Uint16(b[off+2:])) + 1) * 4
		if off > end {
			return false
		}
	}
	return true
}

// Trailing returns the number of bytes after the last whole sub-packet of
// a packet [Valid] accepted (0 to 3).
func Trailing(b []byte) int { return len(b) & 3 }

func (p *Packet) reset() {
	rb, sdes, bye, js := p.ReportBlocks[:0], p.SDES[:0], p.BYE[:0], p.json
	js.reset()
	*p = Packet{ReportBlocks: rb, SDES: sdes, BYE: bye, json: js}
}

// DecodeFromBytes decodes the compound RTCP packet b, resetting p first.
//
// Every sub-packet starts with the common header
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|  RC/SC  |      PT       |     length (32-bit words - 1) |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// SR (200): SSRC, sender info (NTP sec, NTP frac, RTP ts, packet count,
// octet count: 5 words), then RC report blocks. RR (201): SSRC, RC report
// blocks. A report block is 6 words:
//
//	| SSRC of source                                                |
//	| fraction lost |  cumulative number of packets lost (signed)   |
//	| extended highest sequence number received                     |
//	| interarrival jitter                                           |
//	| last SR (LSR)                                                 |
//	| delay since last SR (DLSR)                                    |
//
// SDES (202): SC chunks of SSRC + items (type, length, text) ended by a
// zero type and padded to a word. BYE (203): SC SSRCs, optional length +
// reason. APP (204): SSRC, 4-byte name, data. XR (207): SSRC, blocks of
// (BT, type-specific, block length in words) — VoIP Metrics (BT 7) decoded.
// RTPFB/PSFB (205/206) are recognised and skipped.
//
// The first structural error ends decoding and is returned; what was
// decoded before it stays in p. DecodeFromBytes never panics.
func (p *Packet) DecodeFromBytes(b []byte) error {
	p.reset()
	if len(b) < 8 { // the smallest packet: an empty RR, header and SSRC
		return ErrTruncated
	}
	first := true
	// Bytes after the last whole word are padding (see Valid).
	p.Trailing = len(b) & 3
	b = b[:len(b)-p.Trailing]
	for off := 0; off < len(b); {
		h := b[off:]
		if h[0]>>6 != 2 {
			return ErrVersion
		}
		pt, count := h[1], h[0]&0x1f
		if pt < TypeSR || pt > TypeXR {
			return ErrType
		}
		n := (int(binary.BigEndian.Uint16(h[2:])) + 1) * 4
		if n > len(h) {
			return ErrLength
		}
		body := h[4:n]
		if h[0]&0x20 != 0 && off+n == len(b) && len(body) > 0 {
			// Padding: the last octet counts the padding octets.
			pad := int(body[len(body)-1])
			if pad == 0 || pad > len(body) {
				return ErrLength
			}
			body = body[:len(body)-pad]
		}
		off += n
		p.Types |= 1 << (pt - TypeSR)
		if first {
			p.Type, p.ReportCount = pt, count
			if len(body) >= 4 {
				p.SSRC = binary.BigEndian.Uint32(body)
			}
			first = false
		}
		var err error
		switch pt {
		case TypeSR, TypeRR:
			err = p.decodeReport(pt, count, body)
		case TypeSDES:
			err = p.decodeSDES(count, body)
		case TypeBYE:
			err = p.decodeBYE(count, body)
		case TypeAPP:
			if len(body) < 8 {
				return ErrTruncated
			}
			p.APPSubtype = count
			p.APPName, p.APPData = body[4:8], body[8:]
		case TypeXR:
			err = p.decodeXR(body)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Packet) decodeReport(pt, count uint8, body []byte) error {
	need := 4 + int(count)*24
	if pt == TypeSR {
		need += 20
	}
	if len(body) < need {
		return ErrTruncated
	}
	if !p.reportSeen {
		// The first SR/RR of the compound names the packet.
		p.reportSeen = true
		p.Type, p.ReportCount = pt, count
		p.SSRC = binary.BigEndian.Uint32(body)
	}
	rb := body[4:]
	if pt == TypeSR && !p.HasSender {
		p.HasSender = true
		p.Sender = SenderInfo{
			NTPSec:       uint64(binary.BigEndian.Uint32(body[4:])),
			NTPFrac:      uint64(binary.BigEndian.Uint32(body[8:])),
			RTPTimestamp: binary.BigEndian.Uint32(body[12:]),
			Packets:      binary.BigEndian.Uint32(body[16:]),
			Octets:       binary.BigEndian.Uint32(body[20:]),
		}
	}
	if pt == TypeSR {
		rb = body[24:]
	}
	for i := 0; i < int(count); i++ {
		if len(p.ReportBlocks) >= MaxReportBlocks {
			p.Dropped += int(count) - i
			break
		}
		r := rb[i*24:]
		// 24-bit two's complement cumulative loss.
		lost := int32(binary.BigEndian.Uint32(r[4:])<<8) >> 8
		p.ReportBlocks = append(p.ReportBlocks, ReportBlock{
			SourceSSRC:   binary.BigEndian.Uint32(r),
			FractionLost: r[4],
			PacketsLost:  lost,
			HighestSeq:   binary.BigEndian.Uint32(r[8:]),
			Jitter:       binary.BigEndian.Uint32(r[12:]),
			LSR:          binary.BigEndian.Uint32(r[16:]),
			DLSR:         binary.BigEndian.Uint32(r[20:]),
		})
	}
	return nil
}

func (p *Packet) decodeSDES(count uint8, body []byte) error {
	for c := 0; c < int(count); c++ {
		if len(body) < 4 {
			return ErrTruncated
		}
		ssrc := binary.BigEndian.Uint32(body)
		if c == 0 && p.SDESSSRC == 0 {
			p.SDESSSRC = ssrc
		}
		i := 4
		for {
			if i >= len(body) {
				return ErrTruncated
			}
			t := body[i]
			if t == 0 {
				// End of items; the chunk is padded to a 32-bit boundary.
				i = (i + 4) &^ 3
				break
			}
			if i+2 > len(body) || i+2+int(body[i+1]) > len(body) {
				return ErrTruncated
			}
			text := body[i+2 : i+2+int(body[i+1])]
			if len(p.SDES) < MaxSDESItems {
				p.SDES = append(p.SDES, SDESItem{SSRC: ssrc, Type: t, Text: text})
			} else {
				p.Dropped++
			}
			i += 2 + len(text)
		}
		if i > len(body) {
			i = len(body)
		}
		body = body[i:]
	}
	return nil
}

func (p *Packet) decodeBYE(count uint8, body []byte) error {
	if len(body) < 4*int(count) {
		return ErrTruncated
	}
	for i := 0; i < int(count); i++ {
		if len(p.BYE) < MaxBYESSRCs {
			p.BYE = append(p.BYE, binary.BigEndian.Uint32(body[i*4:]))
		} else {
			p.Dropped++
		}
	}
	rest := body[4*int(count):]
	if len(rest) > 0 {
		n := int(rest[0])
		if 1+n > len(rest) {
			return ErrTruncated
		}
		p.BYEReason = rest[1 : 1+n]
	}
	return nil
}

// decodeXR decodes the XR blocks (RFC 3611 §3):
//
//	| BT            | type-specific |         block length          |
//
// VoIP Metrics (BT=7, block length 8):
//
//	| SSRC of source                                                |
//	| loss rate     | discard rate  | burst density | gap density   |
//	|       burst duration          |         gap duration          |
//	|     round trip delay          |       end system delay        |
//	| signal level  |  noise level  |     RERL      |     Gmin      |
//	|   R factor    | ext. R factor |    MOS-LQ     |    MOS-CQ     |
//	|   RX config   |   reserved    |          JB nominal           |
//	|          JB maximum           |          JB abs max           |
func (p *Packet) decodeXR(body []byte) error {
	if len(body) < 4 {
		return ErrTruncated
	}
	blocks := body[4:]
	for len(blocks) >= 4 {
		bt := blocks[0]
		n := 4 + int(binary.BigEndian.Uint16(blocks[2:]))*4
		if n > len(blocks) {
			return ErrTruncated
		}
		blk := blocks[4:n]
		if !p.XR.present {
			p.XR.present = true
			p.XR.Type = bt
		}
		if bt == 7 && !p.XR.isVoIP && len(blk) >= 32 {
			p.XR = XRVoIP{
				Type: bt, SSRC: binary.BigEndian.Uint32(blk),
				LossRate: blk[4], DiscardRate: blk[5], BurstDensity: blk[6], GapDensity: blk[7],
				BurstDuration:  binary.BigEndian.Uint16(blk[8:]),
				GapDuration:    binary.BigEndian.Uint16(blk[10:]),
				RoundTripDelay: binary.BigEndian.Uint16(blk[12:]),
				EndSystemDelay: binary.BigEndian.Uint16(blk[14:]),
				RFactor:        blk[20], MOSLQ: blk[22], MOSCQ: blk[23],
				present: true, isVoIP: true,
			}
		}
		blocks = blocks[n:]
	}
	return nil
}

// Quality is the receive quality one RTCP packet reports, from its first
// report block (or, without one, from an XR VoIP Metrics block).
type Quality struct {
	// Jitter is the interarrival jitter in milliseconds assuming an 8 kHz
	// RTP clock (G.711, G.729 and most narrow-band codecs): the report's
	// jitter in timestamp units divided by 8. JitterUnits is the raw value
	// for other clock rates.
	Jitter      float64
	JitterUnits uint32
	// FractionLost is the fraction of packets lost since the previous
	// report, 0..1 (the 8-bit field / 256).
	FractionLost float64
	// CumulativeLost is the total number of packets lost (may be negative
	// with duplicates).
	CumulativeLost int32
	// RTT is the round-trip time from LSR and DLSR, computed only when the
	// packet is an SR whose first report block has a non-zero LSR:
	// RTT = NTP(this SR) - LSR - DLSR. It uses the SR's own send time in
	// place of the receive time, so it assumes both ends' clocks agree; it
	// is 0 when not computable or when the result is negative or above
	// 60 s. For XR-only packets it is the XR round trip delay.
	RTT time.Duration
	// Valid is false when the packet carries neither a report block nor
	// XR VoIP metrics.
	Valid bool
}

// Quality returns the quality figures of p.
func (p *Packet) Quality() Quality {
	if len(p.ReportBlocks) == 0 {
		if p.XR.isVoIP {
			return Quality{
				FractionLost: float64(p.XR.LossRate) / 256,
				RTT:          time.Duration(p.XR.RoundTripDelay) * time.Millisecond,
				Valid:        true,
			}
		}
		return Quality{}
	}
	rb := p.ReportBlocks[0]
	q := Quality{
		Jitter:         float64(rb.Jitter) / 8,
		JitterUnits:    rb.Jitter,
		FractionLost:   float64(rb.FractionLost) / 256,
		CumulativeLost: rb.PacketsLost,
		Valid:          true,
	}
	if p.HasSender && rb.LSR != 0 && p.Sender.NTPFrac <= math.MaxUint32 {
		// Middle 32 bits of the NTP timestamp, units of 1/65536 s.
		a := uint32(p.Sender.NTPSec&0xffff)<<16 | uint32(p.Sender.NTPFrac>>16)
		rtt := int64(int32(a - rb.LSR - rb.DLSR))
		if rtt > 0 && rtt <= 60*65536 {
			q.RTT = time.Duration(rtt * int64(time.Second) / 65536)
		}
	}
	return q
}
