package hep

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// unhex decodes hex written with spaces and '#' comments.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// msgOpts compares Messages by their exported fields.
var msgOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.IgnoreUnexported(Message{}),
	cmpopts.EquateEmpty(),
}

// goldenV4 is a HEP3 SIP message over IPv4 as heplify would send it.
const goldenV4 = `
48 45 50 33 00 85                     # "HEP3", total length 133
00 00 00 01 00 07 02                  # 0x01 IP family: 2 (AF_INET)
00 00 00 02 00 07 11                  # 0x02 IP protocol: 17 (UDP)
00 00 00 03 00 0a 0a 00 00 01         # 0x03 IPv4 source: 10.0.0.1
00 00 00 04 00 0a 0a 00 00 02         # 0x04 IPv4 destination: 10.0.0.2
00 00 00 07 00 08 13 c4               # 0x07 source port: 5060
00 00 00 08 00 08 13 d8               # 0x08 destination port: 5080
00 00 00 09 00 0a 65 53 f1 00         # 0x09 seconds: 1700000000
00 00 00 0a 00 0a 00 01 e2 40         # 0x0a microseconds: 123456
00 00 00 0b 00 07 01                  # 0x0b protocol type: 1 (SIP)
00 00 00 0c 00 0a 00 00 07 d1         # 0x0c capture id: 2001
00 00 00 0e 00 0b 6d 79 48 65 70      # 0x0e auth key: "myHep"
00 00 00 0f 00 0b 68 65 6c 6c 6f      # 0x0f payload: "hello"
00 00 00 11 00 0a 63 69 64 31         # 0x11 correlation id: "cid1"
00 00 00 13 00 08 6e 31               # 0x13 node name: "n1"
`

func goldenV4Msg() Message {
	return Message{
		Version: 3, IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 5060, DstPort: 5080, TsSec: 1700000000, TsUsec: 123456,
		Proto: ProtoSIP, NodeID: 2001, AuthKey: []byte("myHep"), Payload: []byte("hello"),
		CorrelationID: []byte("cid1"), NodeName: []byte("n1"),
	}
}

// goldenV6 is RTCP-as-JSON over IPv6 with a VLAN and a vendor chunk.
const goldenV6 = `
48 45 50 33 00 8d                     # "HEP3", total length 141
00 00 00 01 00 07 0a                  # 0x01 IP family: 10 (AF_INET6)
00 00 00 02 00 07 06                  # 0x02 IP protocol: 6 (TCP)
00 00 00 05 00 16 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01
                                      # 0x05 IPv6 source: 2001:db8::1
00 00 00 06 00 16 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02
                                      # 0x06 IPv6 destination: 2001:db8::2
00 00 00 07 00 08 13 c5               # 0x07 source port: 5061
00 00 00 08 00 08 13 c5               # 0x08 destination port: 5061
00 00 00 09 00 0a 00 00 00 01         # 0x09 seconds: 1
00 00 00 0a 00 0a 00 00 00 02         # 0x0a microseconds: 2
00 00 00 0b 00 07 05                  # 0x0b protocol type: 5 (RTCP)
00 00 00 0c 00 0a 00 00 00 01         # 0x0c capture id: 1
00 00 00 0f 00 08 7b 7d               # 0x0f payload: "{}"
00 00 00 12 00 08 00 64               # 0x12 VLAN: 100
00 03 00 99 00 08 61 62               # vendor 3, type 0x99: "ab"
`

func goldenV6Msg() Message {
	return Message{
		Version: 3, IPFamily: 10, IPProto: 6,
		SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("2001:db8::2"),
		SrcPort: 5061, DstPort: 5061, TsSec: 1, TsUsec: 2, Proto: ProtoRTCP, NodeID: 1,
		Payload: []byte("{}"), VLAN: 100,
		Extra: []Chunk{{Vendor: 3, Type: 0x99, Data: []byte("ab")}},
	}
}

// goldenV2 is HEP v2 over IPv4 in Kamailio's layout (x86 host order time).
const goldenV2 = `
02 1c 02 11 13 c4 13 d8               # v2, header length 28, AF_INET, UDP, ports 5060 -> 5080
0a 00 00 01 0a 00 00 02               # 10.0.0.1 -> 10.0.0.2
00 f1 53 65                           # tv_sec 1700000000, little-endian
40 e2 01 00                           # tv_usec 123456, little-endian
d1 07 00 00                           # captid 2001, little-endian, 2 bytes padding
68 65 6c 6c 6f                        # payload "hello"
`

// goldenV1 is HEP v1 over IPv6: no time header.
const goldenV1 = `
01 28 0a 06 13 c4 13 c4               # v1, header length 40, AF_INET6, TCP, ports 5060 -> 5060
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01   # 2001:db8::1
20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02   # 2001:db8::2
68 69                                 # payload "hi"
`

func TestDecodeGolden(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"v3 ipv4", goldenV4, goldenV4Msg()},
		{"v3 ipv6 vendor chunk", goldenV6, goldenV6Msg()},
		{"v2 ipv4", goldenV2, Message{
			Version: 2, IPFamily: 2, IPProto: 17,
			SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
			SrcPort: 5060, DstPort: 5080, TsSec: 1700000000, TsUsec: 123456,
			Proto: ProtoSIP, NodeID: 2001, Payload: []byte("hello"),
		}},
		{"v1 ipv6", goldenV1, Message{
			Version: 1, IPFamily: 10, IPProto: 6,
			SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("2001:db8::2"),
			SrcPort: 5060, DstPort: 5060, Proto: ProtoSIP, Payload: []byte("hi"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := m.DecodeFromBytes(unhex(t, tt.in)); err != nil {
				t.Fatalf("DecodeFromBytes: %v", err)
			}
			if diff := cmp.Diff(tt.want, m, msgOpts); diff != "" {
				t.Errorf("decoded message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"v3 ipv4", goldenV4Msg(), goldenV4},
		{"v3 ipv6 vendor chunk", goldenV6Msg(), goldenV6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			got, err := tt.msg.AppendTo(prefix)
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if !bytes.HasPrefix(got, []byte("keep")) {
				t.Fatalf("AppendTo overwrote dst: %q", got[:4])
			}
			if diff := cmp.Diff(hex.Dump(unhex(t, tt.want)), hex.Dump(got[4:])); diff != "" {
				t.Errorf("encoded bytes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestV12ReencodesAsV3 checks that a v2 message is forwarded as v3 with the
// same fields.
func TestV12ReencodesAsV3(t *testing.T) {
	for _, in := range []string{goldenV1, goldenV2} {
		var m1, m2 Message
		if err := m1.DecodeFromBytes(unhex(t, in)); err != nil {
			t.Fatal(err)
		}
		b, err := m1.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.DecodeFromBytes(b); err != nil {
			t.Fatal(err)
		}
		if m2.Version != 3 {
			t.Errorf("re-encoded version %d, want 3", m2.Version)
		}
		m2.Version = m1.Version
		if diff := cmp.Diff(m1, m2, msgOpts); diff != "" {
			t.Errorf("v%d re-encoded as v3 (-want +got):\n%s", m1.Version, diff)
		}
	}
}

// fullMsg sets every field of every generic chunk.
func fullMsg() Message {
	return Message{
		Version: 3, IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 1, DstPort: 2, TsSec: 3, TsUsec: 4, Proto: ProtoDNS, NodeID: 5, KeepAlive: 6,
		AuthKey: []byte("key"), Payload: []byte("payload"), CorrelationID: []byte("corr"),
		VLAN: 7, NodeName: []byte("node"), SrcMAC: 0x0000_0102_0304_0506, DstMAC: 0x0000_0a0b_0c0d_0e0f,
		EthType: 0x0800, TCPFlags: 0x18, IPTOS: 0xb8, MOS: 439, RFactor: 93,
		GeoLocation: []byte("52.5,13.4"), Jitter: 12, TransactionType: []byte("call"),
		PayloadJSONKeys: []byte("a,b"), TagsValues: []byte("x=y"), TagType: 8, EventType: 9,
		GroupID: []byte("grp"),
		Extra: []Chunk{
			{Vendor: 0, Type: 0x0050, Data: []byte("unknown generic")},
			{Vendor: 0x1234, Type: 0x0001, Data: []byte("vendor")},
			{Vendor: 0x1234, Type: 0x0002, Data: nil},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	v6 := fullMsg()
	v6.IPFamily, v6.SrcIP, v6.DstIP = 10, netip.MustParseAddr("2001:db8::a"), netip.MustParseAddr("::ffff:192.0.2.9")
	compressed := fullMsg()
	compressed.Compress = true
	compressed.Payload = bytes.Repeat([]byte("INVITE sip:bob@example.com SIP/2.0\r\n"), 100)
	big := fullMsg()
	big.Compress = true
	big.Payload = bytes.Repeat([]byte("a"), 200000) // over 64 KiB, fits once compressed
	tests := []struct {
		name string
		msg  Message
		has  []uint16
	}{
		{"every chunk ipv4", fullMsg(), []uint16{ChunkSrcIP4, ChunkDstIP4, ChunkPayload, ChunkGroupID, ChunkMOS}},
		{"every chunk ipv6", v6, []uint16{ChunkSrcIP6, ChunkDstIP6}},
		{"compressed", compressed, []uint16{ChunkCompressedPayload}},
		{"compressed over 64k", big, []uint16{ChunkCompressedPayload}},
		{"only mandatory", Message{Version: 3}, []uint16{ChunkIPFamily, ChunkIPProto, ChunkSrcPort, ChunkDstPort, ChunkTsSec, ChunkTsUsec, ChunkProtoType, ChunkNodeID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.msg.AppendTo(nil)
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			var got Message
			if err := got.DecodeFromBytes(b); err != nil {
				t.Fatalf("DecodeFromBytes: %v", err)
			}
			if diff := cmp.Diff(tt.msg, got, msgOpts); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			for _, c := range tt.has {
				if !got.Has(c) {
					t.Errorf("Has(0x%02x) = false after decode", c)
				}
			}
		})
	}
}

// TestRoundTripEachChunk sets one optional chunk at a time, to zero with
// Set, and checks that exactly it comes back.
func TestRoundTripEachChunk(t *testing.T) {
	optional := []uint16{
		ChunkKeepAlive, ChunkAuthKey, ChunkPayload, ChunkCorrelationID, ChunkVLAN, ChunkNodeName,
		ChunkSrcMAC, ChunkDstMAC, ChunkEthType, ChunkTCPFlags, ChunkIPTOS, ChunkMOS, ChunkRFactor,
		ChunkGeoLocation, ChunkJitter, ChunkTransactionType, ChunkPayloadJSONKeys, ChunkTagsValues,
		ChunkTagType, ChunkEventType, ChunkGroupID,
	}
	for _, c := range optional {
		var m Message
		if b, _ := m.AppendTo(nil); bytes.Contains(b, []byte{0, 0, byte(c >> 8), byte(c)}) && c > 0x10 {
			t.Fatalf("chunk 0x%02x written while unset", c)
		}
		m.Set(c)
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got Message
		if err := got.DecodeFromBytes(b); err != nil {
			t.Fatal(err)
		}
		if !got.Has(c) {
			t.Errorf("chunk 0x%02x set to zero did not come back", c)
		}
		for _, o := range optional {
			if o != c && got.Has(o) {
				t.Errorf("set 0x%02x, decoded also 0x%02x", c, o)
			}
		}
	}
}

func TestCompressedPayloadFormats(t *testing.T) {
	payload := []byte("REGISTER sip:example.com SIP/2.0\r\nCall-ID: abc\r\n\r\n")
	tests := []struct {
		name string
		data string // compressed stream of payload, made with Python's zlib/gzip
	}{
		// zlib.compress(payload)
		{"zlib", "789c0b7275f70c0e710d5228ce2cb04aad48cc2dc849d54bcecf5508f60cd037d233e0e5724eccc9d1f574b152484c4ae6e5e2e502008eae0e2b"},
		// gzip.compress(payload, mtime=0), Python 3
		{"gzip", "1f8b08000000000002030b7275f70c0e710d5228ce2cb04aad48cc2dc849d54bcecf5508f60cd037d233e0e5724eccc9d1f574b152484c4ae6e5e2e502001686547232000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := unhex(t, tt.data)
			m := goldenV4Msg()
			m.Payload = nil
			m.Extra = []Chunk{}
			b, err := m.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			b = appendChunk(b, 0, ChunkCompressedPayload, data)
			b[4], b[5] = byte(len(b)>>8), byte(len(b))
			var got Message
			if err := got.DecodeFromBytes(b); err != nil {
				t.Fatalf("DecodeFromBytes: %v", err)
			}
			if diff := cmp.Diff(string(payload), string(got.Payload)); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			if !got.Compress || !got.Has(ChunkCompressedPayload) {
				t.Errorf("Compress = %v, Has(0x10) = %v; want both true", got.Compress, got.Has(ChunkCompressedPayload))
			}
		})
	}
}

// v3 builds a HEP3 message from raw chunk bytes, with a correct length.
func v3(chunks ...[]byte) []byte {
	b := []byte("HEP3\x00\x00")
	for _, c := range chunks {
		b = append(b, c...)
	}
	b[4], b[5] = byte(len(b)>>8), byte(len(b))
	return b
}

func TestDecodeMalformed(t *testing.T) {
	bomb := func() []byte {
		m := Message{Compress: true, Payload: make([]byte, MaxDecompressed+1)}
		var tmp Message
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tmp.DecodeFromBytes(b); err == nil {
			t.Fatal("bomb decoded")
		}
		return b
	}()
	badLen := v3(appendU8(nil, ChunkIPFamily, 2))
	badLen[5]++
	tests := []struct {
		name   string
		in     []byte
		err    error
		reason string
		offset int
		chunk  uint16
	}{
		{"empty", nil, ErrShort, "short", 0, 0},
		{"HEP only", []byte("HEP"), ErrShort, "short", 0, 0},
		{"no length", []byte("HEP3\x00"), ErrShort, "short", 0, 0},
		{"HEP4", []byte("HEP4\x00\x06"), ErrVersion, "version", 3, 0},
		{"not hep", []byte("GET / HTTP/1.1\r\n"), ErrNotHEP, "not_hep", 0, 0},
		{"HEX3", []byte("HEX3\x00\x06"), ErrNotHEP, "not_hep", 0, 0},
		{"length above buffer", badLen, ErrLength, "bad_length", 4, 0},
		{"length below buffer", append(v3(appendU8(nil, ChunkIPFamily, 2)), 0), ErrLength, "bad_length", 4, 0},
		{"chunk length 0", v3([]byte{0, 0, 0, 1, 0, 0, 2}), ErrChunkLength, "bad_chunk_length", 6, ChunkIPFamily},
		{"chunk length 5", v3([]byte{0, 0, 0, 1, 0, 5, 2}), ErrChunkLength, "bad_chunk_length", 6, ChunkIPFamily},
		{"chunk past end", v3(appendU8(nil, ChunkIPFamily, 2), []byte{0, 0, 0, 0x0f, 0, 50, 'x'}), ErrChunkLength, "bad_chunk_length", 13, ChunkPayload},
		{"truncated chunk header", v3(appendU8(nil, ChunkIPFamily, 2), []byte{0, 0, 0}), ErrChunkLength, "bad_chunk_length", 13, 0},
		{"family 2 bytes", v3(appendU16(nil, ChunkIPFamily, 2)), ErrChunkSize, "bad_chunk_size", 6, ChunkIPFamily},
		{"port 1 byte", v3(appendU8(nil, ChunkSrcPort, 2)), ErrChunkSize, "bad_chunk_size", 6, ChunkSrcPort},
		{"time 2 bytes", v3(appendU16(nil, ChunkTsSec, 2)), ErrChunkSize, "bad_chunk_size", 6, ChunkTsSec},
		{"ipv4 16 bytes", v3(appendChunk(nil, 0, ChunkSrcIP4, make([]byte, 16))), ErrChunkSize, "bad_chunk_size", 6, ChunkSrcIP4},
		{"ipv6 4 bytes", v3(appendChunk(nil, 0, ChunkDstIP6, make([]byte, 4))), ErrChunkSize, "bad_chunk_size", 6, ChunkDstIP6},
		{"mac 6 bytes", v3(appendChunk(nil, 0, ChunkSrcMAC, make([]byte, 6))), ErrChunkSize, "bad_chunk_size", 6, ChunkSrcMAC},
		{"compressed not zlib", v3(appendChunk(nil, 0, ChunkCompressedPayload, []byte("plain text"))), ErrDecompress, "decompress", 6, ChunkCompressedPayload},
		{"compressed truncated", v3(appendChunk(nil, 0, ChunkCompressedPayload, []byte{0x78, 0x9c, 0x0b, 0x72})), ErrDecompress, "decompress", 6, ChunkCompressedPayload},
		{"compressed bad checksum", v3(appendChunk(nil, 0, ChunkCompressedPayload, unhex(t, "789c cb48cdc9c90700062c0214"))), ErrDecompress, "decompress", 6, ChunkCompressedPayload},
		{"compression bomb", bomb, ErrDecompress, "decompress", 0, ChunkCompressedPayload},
		{"v1 short", []byte{1, 0, 2, 17}, ErrShort, "short", 0, 0},
		{"v1 family 7", []byte{1, 0, 7, 17, 0, 1, 0, 2, 1, 2, 3, 4}, ErrFamily, "bad_family", 2, 0},
		{"v1 ipv4 short addrs", []byte{1, 0, 2, 17, 0, 1, 0, 2, 1, 2, 3, 4}, ErrShort, "short", 8, 0},
		{"v1 ipv6 short addrs", append([]byte{1, 0, 10, 17, 0, 1, 0, 2}, make([]byte, 31)...), ErrShort, "short", 8, 0},
		{"v2 short time", append([]byte{2, 8, 2, 17, 0, 1, 0, 2}, make([]byte, 8+11)...), ErrShort, "short", 16, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.DecodeFromBytes(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("DecodeFromBytes = %v, want %v", err, tt.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if tt.name != "compression bomb" && de.Offset != tt.offset {
				t.Errorf("Offset = %d, want %d", de.Offset, tt.offset)
			}
			if de.Chunk != tt.chunk {
				t.Errorf("Chunk = 0x%02x, want 0x%02x", de.Chunk, tt.chunk)
			}
			if got := ErrorReason(err); got != tt.reason {
				t.Errorf("ErrorReason = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestEncodeTooLarge(t *testing.T) {
	tests := []struct {
		name    string
		payload int
		wantErr bool
	}{
		{"fits exactly", MaxMessageLen - 6 - (7 + 7 + 8 + 8 + 10 + 10 + 7 + 10) - 6, false},
		{"one byte over", MaxMessageLen - 6 - (7 + 7 + 8 + 8 + 10 + 10 + 7 + 10) - 5, true},
		{"64 KiB", 64 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{Payload: make([]byte, tt.payload)}
			dst := []byte("x")
			got, err := m.AppendTo(dst)
			if tt.wantErr {
				if !errors.Is(err, ErrPayloadTooLarge) || ErrorReason(err) != "too_large" {
					t.Fatalf("AppendTo error = %v, want ErrPayloadTooLarge", err)
				}
				if string(got) != "x" {
					t.Errorf("dst changed on error: %d bytes", len(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendTo: %v", err)
			}
			if len(got)-1 != MaxMessageLen {
				t.Errorf("encoded %d bytes, want %d", len(got)-1, MaxMessageLen)
			}
		})
	}
}

func TestProtoTypeString(t *testing.T) {
	got := []string{ProtoSIP.String(), ProtoRTCP.String(), ProtoDNS.String(), ProtoLog.String(), ProtoSIPJSON.String(), ProtoType(0x99).String()}
	want := []string{"sip", "rtcp", "dns", "log", "sip_json", "proto_153"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestTime(t *testing.T) {
	m := goldenV4Msg()
	if got, want := m.Time().Format("2006-01-02T15:04:05.000000Z07:00"), "2023-11-14T22:13:20.123456Z"; got != want {
		t.Errorf("Time = %s, want %s", got, want)
	}
}

// TestDecodeReuse checks that a reused Message carries nothing over.
func TestDecodeReuse(t *testing.T) {
	var m Message
	if err := m.DecodeFromBytes(unhex(t, goldenV6)); err != nil {
		t.Fatal(err)
	}
	if err := m.DecodeFromBytes(unhex(t, goldenV4)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenV4Msg(), m, msgOpts); diff != "" {
		t.Errorf("reused decode (-want +got):\n%s", diff)
	}
	if m.Has(ChunkVLAN) {
		t.Error("Has(VLAN) carried over from the previous message")
	}
}
