package hep

// Generic chunk types (vendor id 0) of the HEP3 specification, rev 37.
// Fixed-size chunks carry their size in the comment; the rest are octet
// strings of any length.
const (
	ChunkIPFamily          uint16 = 0x0001 // uint8: 2 = AF_INET, 10 = AF_INET6
	ChunkIPProto           uint16 = 0x0002 // uint8: IP protocol number
	ChunkSrcIP4            uint16 = 0x0003 // 4 bytes
	ChunkDstIP4            uint16 = 0x0004 // 4 bytes
	ChunkSrcIP6            uint16 = 0x0005 // 16 bytes
	ChunkDstIP6            uint16 = 0x0006 // 16 bytes
	ChunkSrcPort           uint16 = 0x0007 // uint16
	ChunkDstPort           uint16 = 0x0008 // uint16
	ChunkTsSec             uint16 = 0x0009 // uint32: seconds since the epoch
	ChunkTsUsec            uint16 = 0x000a // uint32: microseconds offset
	ChunkProtoType         uint16 = 0x000b // uint8: see [ProtoType]
	ChunkNodeID            uint16 = 0x000c // uint32: capture agent id
	ChunkKeepAlive         uint16 = 0x000d // uint16: keep-alive timer
	ChunkAuthKey           uint16 = 0x000e // octet string
	ChunkPayload           uint16 = 0x000f // octet string
	ChunkCompressedPayload uint16 = 0x0010 // octet string: zlib or gzip stream
	ChunkCorrelationID     uint16 = 0x0011 // octet string
	ChunkVLAN              uint16 = 0x0012 // uint16
	ChunkNodeName          uint16 = 0x0013 // octet string (spec: group id; heplify and HOMER: node name)
	ChunkSrcMAC            uint16 = 0x0014 // uint64
	ChunkDstMAC            uint16 = 0x0015 // uint64
	ChunkEthType           uint16 = 0x0016 // uint16
	ChunkTCPFlags          uint16 = 0x0017 // uint8
	ChunkIPTOS             uint16 = 0x0018 // uint8
	ChunkMOS               uint16 = 0x0020 // uint16
	ChunkRFactor           uint16 = 0x0021 // uint16
	ChunkGeoLocation       uint16 = 0x0022 // octet string
	ChunkJitter            uint16 = 0x0023 // uint32
	ChunkTransactionType   uint16 = 0x0024 // octet string: "call", "registration", ...
	ChunkPayloadJSONKeys   uint16 = 0x0025 // octet string
	ChunkTagsValues        uint16 = 0x0026 // octet string
	ChunkTagType           uint16 = 0x0027 // uint16
	ChunkEventType         uint16 = 0x0028 // uint16: recording, interception, ...
	ChunkGroupID           uint16 = 0x0029 // octet string
)

// Has reports whether chunk (one of the Chunk* constants) was present in
// the decoded message, or was marked with [Message.Set]. Vendor chunks and
// unknown generic chunks are in [Message.Extra] instead.
func (m *Message) Has(chunk uint16) bool {
	return chunk < 64 && m.present&(1<<chunk) != 0
}

// Set marks chunk as present, so that [Message.AppendTo] writes it even
// when its field is zero (a VLAN id 0, a MOS of 0, an empty node name).
// Set on a chunk without a field in [Message] does nothing.
func (m *Message) Set(chunk uint16) {
	if chunk < 64 {
		m.present |= 1 << chunk
	}
}

// Clear removes chunk's present mark; a zero field is then not written.
func (m *Message) Clear(chunk uint16) {
	if chunk < 64 {
		m.present &^= 1 << chunk
	}
}

// Reset zeroes m for reuse, keeping the capacity of Extra and of the
// decompression buffer.
func (m *Message) Reset() {
	*m = Message{Extra: m.Extra[:0], scratch: m.scratch}
}
