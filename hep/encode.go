package hep

import (
	"encoding/binary"
	"fmt"
)

// MaxMessageLen is the largest HEP3 message: its length field is 16 bits.
const MaxMessageLen = 65535

// AppendTo appends m encoded as HEP v3 to dst and returns the extended
// slice. Whatever version m was decoded from, v3 is written.
//
// Which chunks are written, in ascending type order, then Extra in order:
//   - always: 0x01 family, 0x02 IP protocol, 0x07/0x08 ports, 0x09/0x0a
//     time, 0x0b protocol type, 0x0c node id;
//   - addresses when the netip.Addr is valid: 0x03/0x04 for IPv4,
//     0x05/0x06 for anything else (an IPv4-mapped IPv6 address stays IPv6);
//   - every other fixed-size chunk when its field is non-zero or its
//     present bit is set (by decoding or by [Message.Set]);
//   - octet-string chunks when the field is non-empty or present;
//   - the payload in 0x0f, or zlib-compressed in 0x10 when m.Compress is
//     set, when it is non-empty or one of the two was present.
//
// A message over [MaxMessageLen] bytes returns dst unchanged and an error
// wrapping [ErrPayloadTooLarge]. AppendTo does not allocate when dst has
// room (compression uses pooled writers).
func (m *Message) AppendTo(dst []byte) ([]byte, error) {
	start := len(dst)
	b := append(dst, 'H', 'E', 'P', '3', 0, 0)

	b = appendU8(b, ChunkIPFamily, m.IPFamily)
	b = appendU8(b, ChunkIPProto, m.IPProto)
	if m.SrcIP.Is4() {
		a := m.SrcIP.As4()
		b = appendBytes(b, ChunkSrcIP4, a[:])
	}
	if m.DstIP.Is4() {
		a := m.DstIP.As4()
		b = appendBytes(b, ChunkDstIP4, a[:])
	}
	if m.SrcIP.IsValid() && !m.SrcIP.Is4() {
		a := m.SrcIP.As16()
		b = appendBytes(b, ChunkSrcIP6, a[:])
	}
	if m.DstIP.IsValid() && !m.DstIP.Is4() {
		a := m.DstIP.As16()
		b = appendBytes(b, ChunkDstIP6, a[:])
	}
	b = appendU16(b, ChunkSrcPort, m.SrcPort)
	b = appendU16(b, ChunkDstPort, m.DstPort)
	b = appendU32(b, ChunkTsSec, m.TsSec)
	b = appendU32(b, ChunkTsUsec, m.TsUsec)
	b = appendU8(b, ChunkProtoType, uint8(m.Proto))
	b = appendU32(b, ChunkNodeID, m.NodeID)
	if m.KeepAlive != 0 || m.Has(ChunkKeepAlive) {
		b = appendU16(b, ChunkKeepAlive, m.KeepAlive)
	}
	b = m.appendStr(b, ChunkAuthKey, m.AuthKey)
	if len(m.Payload) > 0 || m.Has(ChunkPayload) || m.Has(ChunkCompressedPayload) {
		if m.Compress {
			var err error
			if b, err = appendCompressed(b, m.Payload); err != nil {
				return dst[:start], fmt.Errorf("encode HEP3 compressed payload: %w", err)
			}
		} else {
			b = appendBytes(b, ChunkPayload, m.Payload)
		}
	}
	b = m.appendStr(b, ChunkCorrelationID, m.CorrelationID)
	if m.VLAN != 0 || m.Has(ChunkVLAN) {
		b = appendU16(b, ChunkVLAN, m.VLAN)
	}
	b = m.appendStr(b, ChunkNodeName, m.NodeName)
	if m.SrcMAC != 0 || m.Has(ChunkSrcMAC) {
		b = appendU64(b, ChunkSrcMAC, m.SrcMAC)
	}
	if m.DstMAC != 0 || m.Has(ChunkDstMAC) {
		b = appendU64(b, ChunkDstMAC, m.DstMAC)
	}
	if m.EthType != 0 || m.Has(ChunkEthType) {
		b = appendU16(b, ChunkEthType, m.EthType)
	}
	if m.TCPFlags != 0 || m.Has(ChunkTCPFlags) {
		b = appendU8(b, ChunkTCPFlags, m.TCPFlags)
	}
	if m.IPTOS != 0 || m.Has(ChunkIPTOS) {
		b = appendU8(b, ChunkIPTOS, m.IPTOS)
	}
	if m.MOS != 0 || m.Has(ChunkMOS) {
		b = appendU16(b, ChunkMOS, m.MOS)
	}
	if m.RFactor != 0 || m.Has(ChunkRFactor) {
		b = appendU16(b, ChunkRFactor, m.RFactor)
	}
	b = m.appendStr(b, ChunkGeoLocation, m.GeoLocation)
	if m.Jitter != 0 || m.Has(ChunkJitter) {
		b = appendU32(b, ChunkJitter, m.Jitter)
	}
	b = m.appendStr(b, ChunkTransactionType, m.TransactionType)
	b = m.appendStr(b, ChunkPayloadJSONKeys, m.PayloadJSONKeys)
	b = m.appendStr(b, ChunkTagsValues, m.TagsValues)
	if m.TagType != 0 || m.Has(ChunkTagType) {
		b = appendU16(b, ChunkTagType, m.TagType)
	}
	if m.EventType != 0 || m.Has(ChunkEventType) {
		b = appendU16(b, ChunkEventType, m.EventType)
	}
	b = m.appendStr(b, ChunkGroupID, m.GroupID)
	for i := range m.Extra {
		c := &m.Extra[i]
		b = appendChunk(b, c.Vendor, c.Type, c.Data)
	}

	n := len(b) - start
	if n > MaxMessageLen {
		return dst[:start], fmt.Errorf("encode HEP3: message would be %d bytes: %w", n, ErrPayloadTooLarge)
	}
	binary.BigEndian.PutUint16(b[start+4:], uint16(n))
	return b, nil
}

// appendChunk writes one chunk. A length over 65535 is written truncated;
// AppendTo then rejects the whole message as too large.
func appendChunk(b []byte, vendor, typ uint16, data []byte) []byte {
	n := chunkHeaderLen + len(data)
	b = append(b, byte(vendor>>8), byte(vendor), byte(typ>>8), byte(typ), byte(n>>8), byte(n))
	return append(b, data...)
}

func appendBytes(b []byte, typ uint16, data []byte) []byte {
	return appendChunk(b, 0, typ, data)
}

func (m *Message) appendStr(b []byte, typ uint16, data []byte) []byte {
	if len(data) == 0 && !m.Has(typ) {
		return b
	}
	return appendChunk(b, 0, typ, data)
}

func appendU8(b []byte, typ uint16, v uint8) []byte {
	return append(b, 0, 0, byte(typ>>8), byte(typ), 0, 7, v)
}

func appendU16(b []byte, typ uint16, v uint16) []byte {
	return append(b, 0, 0, byte(typ>>8), byte(typ), 0, 8, byte(v>>8), byte(v))
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	b = append(b, 0, 0, byte(typ>>8), byte(typ), 0, 10)
	return binary.BigEndian.AppendUint32(b, v)
}

func appendU64(b []byte, typ uint16, v uint64) []byte {
	b = append(b, 0, 0, byte(typ>>8), byte(typ), 0, 14)
	return binary.BigEndian.AppendUint64(b, v)
}
