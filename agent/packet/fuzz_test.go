package packet

import (
	"fmt"
	"github.com/xhep/xhep/bpf"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/sip"
)

// fuzzFrames splits a fuzz input into frames: records of
//
//	+--------+--------+----------------------+
//	| len(2) | dt(1)  | frame bytes (len)    |
//	+--------+--------+----------------------+
//
// where dt advances the capture clock by dt*100 ms (so gaps, timeouts and
// idle flushes are reached). A record longer than the input takes the rest.
func fuzzFrames(link uint16, in []byte) []source.Frame {
	var fs []source.Frame
	ts := ts0
	for len(in) >= 3 {
		n := int(be16(in[0:2]))
		ts += int64(in[2]) * 100e6
		in = in[3:]
		n = min(n, len(in))
		fs = append(fs, source.Frame{Data: in[:n:n], TS: ts, LinkType: link, OrigLen: n})
		in = in[n:]
	}
	return fs
}

// fuzzRecords is the inverse of fuzzFrames, for seeds.
func fuzzRecords(frames ...source.Frame) []byte {
	var b []byte
	prev := ts0
	for _, f := range frames {
		dt := min(max((f.TS-prev)/100e6, 0), 255)
		prev += dt * 100e6
		b = append(b, u16(uint16(len(f.Data)))...)
		b = append(b, byte(dt))
		b = append(b, f.Data...)
	}
	return b
}

// fuzzSeeds are whole scenarios from the table tests: every link type,
// tunnels, fragments, TCP and WebSocket streams, SCTP.
func fuzzSeeds() [][]source.Frame {
	u := udp(5060, 5060, sipMsg("INVITE", "", 1200))
	n := len(u)
	upgrade := []byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	key := []byte{1, 2, 3, 4}
	return [][]source.Frame{
		{frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(invite)))},
		{frame(source.LinkEthernet, ts0, eth(0x88a8, cat(tag(200, 0x8100), tag(100, 0x86dd), sipUDP6(invite))))},
		{frame(source.LinkSLL, ts0, cat(u16(0), u16(1), u16(6), macA, u16(0), u16(0x0800), sipUDP4(invite)))},
		{frame(source.LinkSLL2, ts0, cat(u16(0x86dd), u16(0), u32(3), u16(1), []byte{4, 6}, macA, u16(0), sipUDP6(invite)))},
		{frame(source.LinkRaw, ts0, ip4(4, "192.0.2.1", "192.0.2.2", sipUDP4(invite)))},
		{frame(source.LinkNull, ts0, cat([]byte{2, 0, 0, 0}, sipUDP4(rtcpSRSDES)))},
		{frame(source.LinkEthernet, ts0, eth(0x8864, cat([]byte{0x11, 0, 0x12, 0x34}, u16(uint16(2+len(sipUDP4(invite)))), u16(0x0021), sipUDP4(invite))))},
		{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x88be), u32(1), u16(0x1000|55), u16(2<<11|9), u32(0), eth(0x0800, sipUDP4(invite))))))},
		{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x22eb), u32(1), u16(0x2000), u16(3), u32(12345), u16(0), []byte{2 << 2, 1}, make([]byte, 8), sipUDP4(invite)))))},
		{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "192.0.2.1", "192.0.2.2", udp(40000, 4789, cat([]byte{0x08, 0, 0, 0}, u32(100<<8), eth(0x0800, sipUDP4(invite)))))))},
		{frame(source.LinkEthernet, ts0, eth(0x86dd, ip6(0, "2001:db8::1", "2001:db8::2", ext6(43, 0, ext6(60, 1, ext6(51, 0, ah6(17, udp(5060, 5060, invite))))))))},
		v4frags(1, u, frag{1000, n}, frag{504, 1000}, frag{0, 504}),
		v6frags(7, u, true, frag{0, 504}, frag{496, 1000}, frag{1000, n + 8}),
		{tcpC(0, 5060, 1, fSYN, nil), tcpC(1, 5060, 202, fACK, cat(invite, ok200)[200:]), tcpC(2, 5060, 2, fACK, invite[:200]), tcpC(3, 5060, 2000, fFIN, nil)},
		{tcpC(0, 5060, 1, fACK, invite[300:]), tcpC(30e8, 5060, 500, fACK, ok200)},
		{tcpC(0, 8080, 1, fACK, upgrade), tcpC(1, 8080, 1+uint32(len(upgrade)), fACK, cat(wsFrame(false, 1, key, invite[:30]), wsFrame(true, 9, key, nil), wsFrame(true, 0, key, invite[30:])))},
		{tcpC(0, 53, 1, fACK, cat(u16(uint16(len(dnsQuery))), dnsQuery))},
		{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(132, "10.0.0.1", "10.0.0.2", cat(u16(5060), u16(5060), u32(1), u32(0),
			[]byte{0, 3}, u16(uint16(16+len(ok200))), u32(2), u16(0), u16(1), u32(0), ok200))))},
	}
}

// FuzzDecode decodes arbitrary frame sequences: it must never panic, must
// emit only sane messages, and a final Expire must empty every table.
func FuzzDecode(f *testing.F) {
	for _, fs := range fuzzSeeds() {
		f.Add(fs[0].LinkType, fuzzRecords(fs...))
	}
	f.Fuzz(func(t *testing.T, link uint16, in []byte) {
		cfg := DefaultConfig()
		cfg.WebSocketPorts = bpf.MustParsePorts("8080")
		cfg.MaxFragBytes = 64 << 10
		cfg.MaxStreamBytes = 16 << 10
		cfg.MaxTotalStreamBytes = 64 << 10
		d, err := NewDecoder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		check := func(m *Message) {
			switch m.Class {
			case ClassSIP:
				if !sip.LooksLikeSIP(m.Payload) {
					t.Errorf("SIP message does not look like SIP: %q", m.Payload)
				}
			case ClassDNS:
				if len(m.Payload) < 12 {
					t.Errorf("DNS message of %d bytes", len(m.Payload))
				}
			case ClassRTCP:
			default:
				t.Errorf("message of class %v", m.Class)
			}
			if m.Frame == nil || !m.Src.IsValid() || !m.Dst.IsValid() {
				t.Errorf("message without frame or addresses: %+v", m)
			}
		}
		fs := fuzzFrames(link, in)
		for i := range fs {
			d.Decode(&fs[i], check)
			if _, _, b := d.Sizes(); b > cfg.MaxTotalStreamBytes {
				t.Fatalf("stream bytes %d above MaxTotalStreamBytes", b)
			}
		}
		d.Expire(math.MaxInt64, check)
		if fr, s, b := d.Sizes(); fr != 0 || s != 0 || b != 0 {
			t.Fatalf("Sizes after final Expire = %d, %d, %d", fr, s, b)
		}
	})
}

// TestWriteFuzzCorpus writes the seeds to testdata/fuzz/FuzzDecode when
// XHEP_WRITE_CORPUS is set (the committed corpus comes from it).
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("XHEP_WRITE_CORPUS") == "" {
		t.Skip("set XHEP_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzDecode")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, fs := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\nuint16(%d)\n[]byte(%q)\n", fs[0].LinkType, fuzzRecords(fs...))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTruncatedEverywhere cuts every seed frame at every length: nothing
// panics and whatever is emitted is sane (FuzzDecode's checks).
func TestTruncatedEverywhere(t *testing.T) {
	for _, fs := range fuzzSeeds() {
		for i := range fs {
			for n := 0; n < len(fs[i].Data); n++ {
				cut := append([]source.Frame(nil), fs...)
				cut[i].Data = cut[i].Data[:n]
				_, _, d := run(t, nil, cut...)
				d.Expire(math.MaxInt64, func(*Message) {})
				if fr, s, b := d.Sizes(); fr != 0 || s != 0 || b != 0 {
					t.Fatalf("Sizes after final Expire = %d, %d, %d", fr, s, b)
				}
			}
		}
	}
}

// FuzzDecodeHEP is FuzzDecode in the HEP mode of the collector's --read:
// no panic, every message non-empty, every TCP one a whole HEP3 message
// (magic and length), and a final Expire empties every table.
func FuzzDecodeHEP(f *testing.F) {
	m := cat([]byte("HEP3"), u16(12), []byte("chunks"))
	seeds := append(fuzzSeeds(),
		[]source.Frame{tcpC(0, 9061, 1, fSYN, nil), tcpC(1, 9061, 2, fACK, cat([]byte("xHE"), m, m[:5])), tcpC(2, 9061, 5+uint32(len(m)), fACK, m[5:])},
		[]source.Frame{tcpC(0, 9061, 7, fACK, m[3:]), tcpC(30e8, 9061, 100, fACK, m), frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(1, 2, m))))},
	)
	for _, fs := range seeds {
		f.Add(fs[0].LinkType, fuzzRecords(fs...))
	}
	f.Fuzz(func(t *testing.T, link uint16, in []byte) {
		cfg := DefaultConfig()
		cfg.HEP = true
		cfg.MaxFragBytes = 64 << 10
		cfg.MaxStreamBytes = 16 << 10
		cfg.MaxTotalStreamBytes = 64 << 10
		d, err := NewDecoder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		check := func(m *Message) {
			if m.Class != ClassUnknown || len(m.Payload) == 0 || m.Frame == nil || !m.Src.IsValid() || !m.Dst.IsValid() {
				t.Errorf("bad HEP-mode message: %+v", m)
			}
			if m.IPProto == 6 {
				if n, err := hep.FrameLength(m.Payload, 0); err != nil || n != len(m.Payload) {
					t.Errorf("TCP message is not one whole HEP3 message (%d, %v): %q", n, err, m.Payload)
				}
			}
		}
		fs := fuzzFrames(link, in)
		for i := range fs {
			d.Decode(&fs[i], check)
			if _, _, b := d.Sizes(); b > cfg.MaxTotalStreamBytes {
				t.Fatalf("stream bytes %d above MaxTotalStreamBytes", b)
			}
		}
		d.Expire(math.MaxInt64, check)
		if fr, s, b := d.Sizes(); fr != 0 || s != 0 || b != 0 {
			t.Fatalf("Sizes after final Expire = %d, %d, %d", fr, s, b)
		}
	})
}
