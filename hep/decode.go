package hep

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// HEP v3 message (all integers in network byte order):
//
//	0      4      6
//	+------+------+-------------------------------+
//	|"HEP3"| len  | chunk | chunk | ...           |
//	+------+------+-------------------------------+
//	len: uint16, total message length including this 6-byte header
//
// Each chunk:
//
//	0         2         4         6
//	+---------+---------+---------+------------------+
//	| vendor  | type    | length  | data             |
//	+---------+---------+---------+------------------+
//	vendor: uint16, 0 for the generic chunks of the specification
//	length: uint16, chunk length including this 6-byte header (>= 6)
//
// Fixed-size chunk data: uint8, uint16, uint32, uint64 big-endian; IPv4
// addresses 4 bytes, IPv6 addresses 16 bytes. See the Chunk* constants.
const (
	hep3HeaderLen  = 6
	chunkHeaderLen = 6
)

// DecodeFromBytes decodes one HEP message (v1, v2 or v3, told apart by the
// first bytes) from b, resetting m first. Every []byte field of m aliases b
// (a compressed payload is inflated into m's own reused buffer), so b must
// stay unchanged while m is in use. Errors are [*DecodeError] values
// wrapping one of the Err* sentinels; no input makes it panic.
//
// For v3 the declared length must equal len(b): a datagram carries one
// message; use a [Framer] to cut messages out of a stream.
func (m *Message) DecodeFromBytes(b []byte) error {
	m.Reset()
	if len(b) == 0 {
		return decodeErr(0, 0, ErrShort)
	}
	switch b[0] {
	case 1, 2:
		return m.decodeV12(b)
	case 'H':
		if len(b) < 4 {
			return decodeErr(0, 0, ErrShort)
		}
		if b[1] != 'E' || b[2] != 'P' {
			return decodeErr(0, 0, ErrNotHEP)
		}
		if b[3] != '3' {
			return decodeErr(3, 0, ErrVersion)
		}
		return m.decodeV3(b)
	}
	return decodeErr(0, 0, ErrNotHEP)
}

func (m *Message) decodeV3(b []byte) error {
	if len(b) < hep3HeaderLen {
		return decodeErr(0, 0, ErrShort)
	}
	total := int(binary.BigEndian.Uint16(b[4:6]))
	if total != len(b) {
		return decodeErr(4, 0, ErrLength)
	}
	m.Version = 3
	for off := hep3HeaderLen; off < total; {
		if total-off < chunkHeaderLen {
			return decodeErr(off, 0, ErrChunkLength)
		}
		vendor := binary.BigEndian.Uint16(b[off:])
		typ := binary.BigEndian.Uint16(b[off+2:])
		clen := int(binary.BigEndian.Uint16(b[off+4:]))
		if clen < chunkHeaderLen || clen > total-off {
			return decodeErr(off, typ, ErrChunkLength)
		}
		d := b[off+chunkHeaderLen : off+clen : off+clen]
		if vendor != 0 {
			m.Extra = append(m.Extra, Chunk{Vendor: vendor, Type: typ, Data: d})
			off += clen
			continue
		}
		// Generic chunk: check a fixed size, then one flat switch, which
		// the compiler makes a jump table.
		if int(typ) < len(chunkSize) && chunkSize[typ] != 0 && len(d) != int(chunkSize[typ]) {
			return decodeErr(off, typ, ErrChunkSize)
		}
		switch typ {
		case ChunkIPFamily:
			m.IPFamily = d[0]
		case ChunkIPProto:
			m.IPProto = d[0]
		case ChunkSrcIP4:
			m.SrcIP = netip.AddrFrom4([4]byte(d))
		case ChunkDstIP4:
			m.DstIP = netip.AddrFrom4([4]byte(d))
		case ChunkSrcIP6:
			m.SrcIP = netip.AddrFrom16([16]byte(d))
		case ChunkDstIP6:
			m.DstIP = netip.AddrFrom16([16]byte(d))
		case ChunkSrcPort:
			m.SrcPort = binary.BigEndian.Uint16(d)
		case ChunkDstPort:
			m.DstPort = binary.BigEndian.Uint16(d)
		case ChunkTsSec:
			m.TsSec = binary.BigEndian.Uint32(d)
		case ChunkTsUsec:
			m.TsUsec = binary.BigEndian.Uint32(d)
		case ChunkProtoType:
			m.Proto = ProtoType(d[0])
		case ChunkNodeID:
			m.NodeID = binary.BigEndian.Uint32(d)
		case ChunkKeepAlive:
			m.KeepAlive = binary.BigEndian.Uint16(d)
		case ChunkAuthKey:
			m.AuthKey = d
		case ChunkPayload:
			m.Payload = d
			m.Compress = false
		case ChunkCompressedPayload:
			p, err := m.inflate(d)
			if err != nil {
				return decodeErr(off, typ, err)
			}
			m.Payload = p
			m.Compress = true
		case ChunkCorrelationID:
			m.CorrelationID = d
		case ChunkVLAN:
			m.VLAN = binary.BigEndian.Uint16(d)
		case ChunkNodeName:
			m.NodeName = d
		case ChunkSrcMAC:
			m.SrcMAC = binary.BigEndian.Uint64(d)
		case ChunkDstMAC:
			m.DstMAC = binary.BigEndian.Uint64(d)
		case ChunkEthType:
			m.EthType = binary.BigEndian.Uint16(d)
		case ChunkTCPFlags:
			m.TCPFlags = d[0]
		case ChunkIPTOS:
			m.IPTOS = d[0]
		case ChunkMOS:
			m.MOS = binary.BigEndian.Uint16(d)
		case ChunkRFactor:
			m.RFactor = binary.BigEndian.Uint16(d)
		case ChunkGeoLocation:
			m.GeoLocation = d
		case ChunkJitter:
			m.Jitter = binary.BigEndian.Uint32(d)
		case ChunkTransactionType:
			m.TransactionType = d
		case ChunkPayloadJSONKeys:
			m.PayloadJSONKeys = d
		case ChunkTagsValues:
			m.TagsValues = d
		case ChunkTagType:
			m.TagType = binary.BigEndian.Uint16(d)
		case ChunkEventType:
			m.EventType = binary.BigEndian.Uint16(d)
		case ChunkGroupID:
			m.GroupID = d
		default:
			m.Extra = append(m.Extra, Chunk{Type: typ, Data: d})
			off += clen
			continue
		}
		m.present |= 1 << typ
		off += clen
	}
	return nil
}

// chunkSize is the data size of each fixed-size generic chunk; 0 for
// octet strings and types without a field.
var chunkSize = [...]uint8{
	ChunkIPFamily: 1, ChunkIPProto: 1, ChunkSrcIP4: 4, ChunkDstIP4: 4,
	ChunkSrcIP6: 16, ChunkDstIP6: 16, ChunkSrcPort: 2, ChunkDstPort: 2,
	ChunkTsSec: 4, ChunkTsUsec: 4, ChunkProtoType: 1, ChunkNodeID: 4,
	ChunkKeepAlive: 2, ChunkVLAN: 2, ChunkSrcMAC: 8, ChunkDstMAC: 8,
	ChunkEthType: 2, ChunkTCPFlags: 1, ChunkIPTOS: 1, ChunkMOS: 2,
	ChunkRFactor: 2, ChunkJitter: 4, ChunkTagType: 2, ChunkEventType: 2,
	ChunkGroupID: 0,
}

// HEP v1 and v2, as Kamailio's sipcapture module reads them (hep.h):
//
//	0     1     2     3     4        6        8
//	+-----+-----+-----+-----+--------+--------+-----------------------+
//	| ver | hl  | fam | prt | sport  | dport  | src addr | dst addr   |
//	+-----+-----+-----+-----+--------+--------+-----------------------+
//	ver: 1 or 2
//	hl: header length; senders disagree on it: 8 (sizeof hep_hdr, Kamailio
//	    siptrace), or with the addresses, or with the time header (10 bytes,
//	    or 12 with its padding): any of these, nothing else
//	fam: 2 (AF_INET, 4-byte addresses) or 10 (AF_INET6, 16-byte addresses)
//	prt: IP protocol: 17 (UDP), 6 (TCP), 132 (SCTP), or 22 (IDP, which
//	     Kamailio's sipcapture reads as TLS)
//	sport, dport: network byte order
//
// v2 then has struct hep_timehdr, 12 bytes with its padding, in the
// sender's host byte order (little-endian on x86, which is what is read):
//
//	+----------+----------+--------+-----+
//	| tv_sec   | tv_usec  | captid | pad |
//	+----------+----------+--------+-----+
//	uint32      uint32     uint16   2 bytes
//
// The payload is the rest of the buffer: v1 and v2 carry no payload
// length, so a message is one datagram. The protocol type is SIP, so the
// payload starts with a letter (a method or "SIP/2.0") or a CR/LF
// keep-alive. v2's time must be plausible: 2000 or later, at most a year
// ahead of this host's clock, microseconds below 1,000,000.
//
// These checks keep random datagrams out (about one in 17,000 passed the
// version and family checks alone); they fail with [ErrV12Header] and
// [ErrV12Time].
const (
	hepV12HeaderLen = 8
	hepV2TimeLen    = 12
	v2MinTime       = 946684800       // 2000-01-01T00:00:00Z
	v2MaxAhead      = 366 * 24 * 3600 // seconds past this host's clock
)

func (m *Message) decodeV12(b []byte) error {
	if len(b) < hepV12HeaderLen {
		return decodeErr(0, 0, ErrShort)
	}
	m.Version = b[0]
	switch b[3] {
	case 17, 6, 132, 22:
	default:
		return decodeErr(3, 0, ErrV12Header)
	}
	m.IPFamily = b[2]
	m.IPProto = b[3]
	m.SrcPort = binary.BigEndian.Uint16(b[4:6])
	m.DstPort = binary.BigEndian.Uint16(b[6:8])
	off := hepV12HeaderLen
	switch m.IPFamily {
	case 2:
		if len(b) < off+8 {
			return decodeErr(off, 0, ErrShort)
		}
		m.SrcIP = netip.AddrFrom4([4]byte(b[off : off+4]))
		m.DstIP = netip.AddrFrom4([4]byte(b[off+4 : off+8]))
		off += 8
		m.present |= 1<<ChunkSrcIP4 | 1<<ChunkDstIP4
	case 10:
		if len(b) < off+32 {
			return decodeErr(off, 0, ErrShort)
		}
		m.SrcIP = netip.AddrFrom16([16]byte(b[off : off+16]))
		m.DstIP = netip.AddrFrom16([16]byte(b[off+16 : off+32]))
		off += 32
		m.present |= 1<<ChunkSrcIP6 | 1<<ChunkDstIP6
	default:
		return decodeErr(2, 0, ErrFamily)
	}
	if hl := int(b[1]); hl != hepV12HeaderLen && hl != off && hl != off+hepV2TimeLen-2 && hl != off+hepV2TimeLen {
		return decodeErr(1, 0, ErrV12Header)
	}
	if m.Version == 2 {
		if len(b) < off+hepV2TimeLen {
			return decodeErr(off, 0, ErrShort)
		}
		m.TsSec = binary.LittleEndian.Uint32(b[off:])
		m.TsUsec = binary.LittleEndian.Uint32(b[off+4:])
		if m.TsUsec >= 1_000_000 || m.TsSec < v2MinTime || int64(m.TsSec) > time.Now().Unix()+v2MaxAhead {
			return decodeErr(off, 0, ErrV12Time)
		}
		m.NodeID = uint32(binary.LittleEndian.Uint16(b[off+8:]))
		off += hepV2TimeLen
		m.present |= 1<<ChunkTsSec | 1<<ChunkTsUsec | 1<<ChunkNodeID
	}
	if len(b) == off {
		return decodeErr(off, 0, ErrV12Header)
	}
	if c := b[off] | 0x20; (c < 'a' || c > 'z') && b[off] != '\r' && b[off] != '\n' {
		return decodeErr(off, 0, ErrV12Header)
	}
	m.Proto = ProtoSIP
	m.Payload = b[off:len(b):len(b)]
	m.present |= 1<<ChunkIPFamily | 1<<ChunkIPProto | 1<<ChunkSrcPort |
		1<<ChunkDstPort | 1<<ChunkProtoType | 1<<ChunkPayload
	return nil
}
