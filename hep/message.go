package hep

import "net/netip"

// ProtoType is the HEP "protocol type" (chunk 0x000b): what the payload carries.
type ProtoType uint8

// Protocol types from the HEP3 specification (rev 37) and what HOMER and heplify use.
const (
	ProtoReserved ProtoType = 0x00
	ProtoSIP      ProtoType = 0x01
	ProtoXMPP     ProtoType = 0x02
	ProtoSDP      ProtoType = 0x03
	ProtoRTP      ProtoType = 0x04
	ProtoRTCP     ProtoType = 0x05 // binary RTCP, or RTCP as JSON (heplify, captagent)
	ProtoMGCP     ProtoType = 0x06
	ProtoMEGACO   ProtoType = 0x07
	ProtoM2UA     ProtoType = 0x08
	ProtoM3UA     ProtoType = 0x09
	ProtoIAX      ProtoType = 0x0a
	ProtoH3222    ProtoType = 0x0b
	ProtoH321     ProtoType = 0x0c
	ProtoM2PA     ProtoType = 0x0d
	ProtoMOSFull  ProtoType = 0x22
	ProtoMOSShort ProtoType = 0x23
	ProtoSIPJSON  ProtoType = 0x32
	ProtoDNS      ProtoType = 0x35 // 53: binary DNS or DNS as JSON
	ProtoM3UAJSON ProtoType = 0x36
	ProtoRTSP     ProtoType = 0x37
	ProtoDiameter ProtoType = 0x38
	ProtoGSMMAP   ProtoType = 0x39
	ProtoRTCPPion ProtoType = 0x3a
	ProtoCDR      ProtoType = 0x3c
	ProtoVerto    ProtoType = 0x3d
	ProtoLog      ProtoType = 0x64 // 100: text log lines
)

// Chunk is one HEP3 chunk kept as raw bytes: vendor chunks (vendor id != 0)
// and generic chunks this package has no field for.
// Data aliases the decoded input.
type Chunk struct {
	Vendor uint16
	Type   uint16
	Data   []byte
}

// Message is one HEP message (v1, v2 or v3) in decoded form.
//
// After DecodeFromBytes every []byte field aliases the input buffer (or the
// Message's own decompression scratch buffer for a compressed payload) and
// is valid only as long as that buffer is; copy what you keep. Fields of
// chunks that were absent are zero. A Message is not safe for concurrent use.
type Message struct {
	Version uint8 // 1, 2 or 3: the wire version it was decoded from (AppendTo always writes v3)

	IPFamily  uint8      // chunk 0x01: 2 = AF_INET, 10 = AF_INET6
	IPProto   uint8      // chunk 0x02: 6 TCP, 17 UDP, 132 SCTP, ...
	SrcIP     netip.Addr // chunk 0x03 (IPv4) or 0x05 (IPv6)
	DstIP     netip.Addr // chunk 0x04 (IPv4) or 0x06 (IPv6)
	SrcPort   uint16     // chunk 0x07
	DstPort   uint16     // chunk 0x08
	TsSec     uint32     // chunk 0x09: capture time, seconds since the epoch
	TsUsec    uint32     // chunk 0x0a: microseconds offset
	Proto     ProtoType  // chunk 0x0b
	NodeID    uint32     // chunk 0x0c: capture agent id
	KeepAlive uint16     // chunk 0x0d
	AuthKey   []byte     // chunk 0x0e
	Payload   []byte     // chunk 0x0f, or 0x10 decompressed
	// Compress: on decode, the payload arrived in chunk 0x10; on encode, write
	// the payload compressed into chunk 0x10 instead of chunk 0x0f.
	Compress        bool
	CorrelationID   []byte // chunk 0x11
	VLAN            uint16 // chunk 0x12
	NodeName        []byte // chunk 0x13 (heplify and HOMER send the node name here)
	SrcMAC          uint64 // chunk 0x14
	DstMAC          uint64 // chunk 0x15
	EthType         uint16 // chunk 0x16
	TCPFlags        uint8  // chunk 0x17
	IPTOS           uint8  // chunk 0x18
	MOS             uint16 // chunk 0x20
	RFactor         uint16 // chunk 0x21
	GeoLocation     []byte // chunk 0x22
	Jitter          uint32 // chunk 0x23
	TransactionType []byte // chunk 0x24 ("call", "registration", ...)
	PayloadJSONKeys []byte // chunk 0x25
	TagsValues      []byte // chunk 0x26
	TagType         uint16 // chunk 0x27
	EventType       uint16 // chunk 0x28
	GroupID         []byte // chunk 0x29

	// Extra holds vendor chunks and unknown generic chunks, in wire order.
	// Encoding writes them back unchanged.
	Extra []Chunk

	// present is a bit set of the fixed-size chunks that were present, so
	// that a zero value and an absent chunk can be told apart.
	present uint64
	scratch []byte // reused decompression buffer
}
