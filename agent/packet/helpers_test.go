package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/agent/source"
)

// Packet builders. Each returns a fresh slice: header followed by payload.
// The layouts are the ones written out beside the decoding code.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

// eth: dst MAC, src MAC, EtherType.
func eth(et uint16, p []byte) []byte { return cat(macB, macA, u16(et), p) }

// tag: one VLAN tag (TCI, next EtherType) as it follows a TPID.
func tag(vid, next uint16) []byte { return cat(u16(vid&0x0fff|5<<13), u16(next)) }

// ip4 builds an IPv4 header with no options, no fragmentation.
func ip4(proto uint8, src, dst string, p []byte) []byte {
	return ip4x(proto, src, dst, 0, 0, nil, p)
}

// ip4x builds an IPv4 header with identification id, flags+offset field
// fo and options opts (a multiple of 4 bytes).
func ip4x(proto uint8, src, dst string, id, fo uint16, opts, p []byte) []byte {
	ihl := 20 + len(opts)
	h := []byte{byte(0x40 | ihl/4), 0}
	h = append(h, u16(uint16(ihl+len(p)))...)
	h = append(h, u16(id)...)
	h = append(h, u16(fo)...)
	h = append(h, 64, proto, 0, 0)
	h = append(h, netip.MustParseAddr(src).AsSlice()...)
	h = append(h, netip.MustParseAddr(dst).AsSlice()...)
	return cat(h, opts, p)
}

// ip6 builds an IPv6 header; p starts with whatever nh announces.
func ip6(nh uint8, src, dst string, p []byte) []byte {
	h := []byte{0x60, 0, 0, 0}
	h = append(h, u16(uint16(len(p)))...)
	h = append(h, nh, 64)
	h = append(h, netip.MustParseAddr(src).AsSlice()...)
	h = append(h, netip.MustParseAddr(dst).AsSlice()...)
	return cat(h, p)
}

// ext6 builds an IPv6 extension header (hop-by-hop, routing, destination
// options) of 8*(1+n) bytes, padded with zeros.
func ext6(next uint8, n int, p []byte) []byte {
	h := make([]byte, 8*(1+n))
	h[0], h[1] = next, byte(n)
	return cat(h, p)
}

// ah6 builds an AH header with a 12-byte ICV (length field 4).
func ah6(next uint8, p []byte) []byte {
	h := make([]byte, 24)
	h[0], h[1] = next, 4
	return cat(h, p)
}

// frag6 builds an IPv6 fragment header.
func frag6(next uint8, off int, more bool, id uint32, p []byte) []byte {
	fo := uint16(off)
	if more {
		fo |= 1
	}
	return cat([]byte{next, 0}, u16(fo), u32(id), p)
}

// udp builds a UDP header (checksum 0).
func udp(sp, dp uint16, p []byte) []byte {
	return cat(u16(sp), u16(dp), u16(uint16(8+len(p))), u16(0), p)
}

// tcp builds a TCP header with no options.
func tcp(sp, dp uint16, seq uint32, flags uint8, p []byte) []byte {
	return cat(u16(sp), u16(dp), u32(seq), u32(0), []byte{5 << 4, flags}, u16(65535), u16(0), u16(0), p)
}

// sipMsg returns a SIP request (method) or response (method = "200 OK",
// cseq its CSeq method) with a body of bodyLen bytes.
func sipMsg(method, cseq string, bodyLen int) []byte {
	var sb strings.Builder
	if method[0] >= '0' && method[0] <= '9' {
		fmt.Fprintf(&sb, "SIP/2.0 %s\r\n", method)
	} else {
		fmt.Fprintf(&sb, "%s sip:bob@example.com SIP/2.0\r\n", method)
		cseq = method
	}
	sb.WriteString("Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n")
	sb.WriteString("Max-Forwards: 70\r\n")
	sb.WriteString("To: Bob <sip:bob@example.com>\r\n")
	sb.WriteString("From: Alice <sip:alice@example.com>;tag=1928301774\r\n")
	sb.WriteString("Call-ID: a84b4c76e66710@pc33.example.com\r\n")
	fmt.Fprintf(&sb, "CSeq: 314159 %s\r\n", cseq)
	sb.WriteString("Contact: <sip:alice@10.0.0.1>\r\n")
	fmt.Fprintf(&sb, "Content-Length: %d\r\n\r\n", bodyLen)
	sb.WriteString(strings.Repeat("v", bodyLen))
	return []byte(sb.String())
}

// got is what the tests compare of an emitted Message.
type got struct {
	Class   string
	Proto   uint8
	Src     string
	Dst     string
	VLAN    uint16
	TS      int64
	Payload string
}

func summarize(m *Message) got {
	return got{m.Class.String(), m.IPProto, m.Src.String(), m.Dst.String(), m.VLAN, m.TS, string(m.Payload)}
}

// run decodes the frames through a fresh decoder (cfg, or the default)
// and returns what was emitted and the counters.
func run(t testing.TB, cfg *Config, frames ...source.Frame) ([]got, Stats, *Decoder) {
	t.Helper()
	c := DefaultConfig()
	if cfg != nil {
		c = *cfg
	}
	d, err := NewDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []got
	for i := range frames {
		d.Decode(&frames[i], func(m *Message) {
			if m.Frame != &frames[i] || m.TS != frames[i].TS {
				t.Errorf("message Frame %p TS %d, want the decoded frame %p TS %d", m.Frame, m.TS, &frames[i], frames[i].TS)
			}
			out = append(out, summarize(m))
		})
	}
	return out, d.Stats(), d
}

// counters returns the named counters (as Stats.Each names them) that are
// in want, plus every non-zero error counter, so a test fails on any error
// it did not expect.
func counters(st Stats, want map[string]uint64) map[string]uint64 {
	g := map[string]uint64{}
	st.Each(func(name string, v uint64) {
		if _, ok := want[name]; ok || (strings.HasPrefix(name, "Errors.") && v != 0) {
			g[name] = v
		}
	})
	return g
}

func frame(link uint16, ts int64, b []byte) source.Frame {
	return source.Frame{Data: b, TS: ts, LinkType: link, OrigLen: len(b)}
}

// check compares emitted messages and the counters named in stats (plus
// every error counter, see counters).
func check(t *testing.T, want, out []got, stats map[string]uint64, st Stats) {
	t.Helper()
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if stats == nil {
		stats = map[string]uint64{}
	}
	if diff := cmp.Diff(stats, counters(st, stats)); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}
