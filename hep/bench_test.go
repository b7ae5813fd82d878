package hep

import (
	"net/netip"
	"strings"
	"testing"
)

// sipMsg is a 600-byte SIP INVITE wrapped as heplify sends it.
func sipMsg() Message {
	invite := "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>\r\n" +
		"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
		"CSeq: 314159 INVITE\r\n" +
		"Contact: <sip:alice@pc33.atlanta.example.com>\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: 142\r\n\r\n" +
		"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\n"
	invite += strings.Repeat("x", 600-len(invite))
	return Message{
		IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("192.0.2.101"), DstIP: netip.MustParseAddr("192.0.2.201"),
		SrcPort: 5060, DstPort: 5060, TsSec: 1700000000, TsUsec: 123456,
		Proto: ProtoSIP, NodeID: 2001, AuthKey: []byte("myHep"), NodeName: []byte("agent-1"),
		Payload: []byte(invite),
	}
}

func BenchmarkEncode(b *testing.B) {
	m := sipMsg()
	buf := make([]byte, 0, 2048)
	out, _ := m.AppendTo(buf[:0])
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	src := sipMsg()
	in, err := src.AppendTo(nil)
	if err != nil {
		b.Fatal(err)
	}
	var m Message
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.DecodeFromBytes(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeCompressed(b *testing.B) {
	m := sipMsg()
	m.Compress = true
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(m.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = m.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCompressed(b *testing.B) {
	src := sipMsg()
	src.Compress = true
	in, err := src.AppendTo(nil)
	if err != nil {
		b.Fatal(err)
	}
	var m Message
	b.SetBytes(int64(len(src.Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.DecodeFromBytes(in); err != nil {
			b.Fatal(err)
		}
	}
}
