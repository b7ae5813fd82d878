//go:build linux

package bpf

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFilterSIPByStructure: off the SIP ports the kernel recognises a SIP
// request by its structure (token method of 1..32 chars, SP, a sip:,
// sips: or tel: URI), not by a list of method names, and keeps HTTP, RTP
// and random data out. Each case runs on the fast path and the full
// parser (a VLAN tag), XDP and TC.
func TestFilterSIPByStructure(t *testing.T) {
	req := func(line string) []byte {
		return []byte(line + "\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nCall-ID: x@y\r\nCSeq: 1 " +
			strings.Fields(line)[0] + "\r\nContent-Length: 0\r\n\r\n")
	}
	method20 := strings.Repeat("ABCDEFGHIJ", 2)
	method32 := strings.Repeat("ABCDEFGH", 4)
	method33 := method32 + "X"
	random := []byte{0x5a, 0x41, 0x3c, 0x9e, 0x11, 0x52, 0x00, 0xfe, 0x7b, 0x30, 0x20, 0x73, 0x69, 0x70, 0x3a, 0x01}
	rtp := append([]byte{0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4}, []byte("INVITE sip:a@b SIP/2.0\r\n")...)
	tests := []struct {
		name    string
		payload []byte
		match   bool
	}{
		{"invented method", []byte("FOO sip:a@b SIP/2.0\r\n\r\n"), true},
		{"invented method, full request", req("FOO sip:a@b SIP/2.0"), true},
		{"20-char method", req(method20 + " sip:alice@example.com SIP/2.0"), true},
		{"32-char method", req(method32 + " sips:alice@example.com SIP/2.0"), true},
		{"33-char method", req(method33 + " sip:alice@example.com SIP/2.0"), false},
		{"one-char method", req("X sip:a@b SIP/2.0"), true},
		{"token punctuation", req("X-FOO.BAR!%*_+`'~ sip:a@b SIP/2.0"), true},
		{"lowercase method (a token: the agent keeps it too)", req("foo sip:a@b SIP/2.0"), true},
		{"INVITE", sipInvite(0), true},
		{"REGISTER sips", req("REGISTER sips:example.com SIP/2.0"), true},
		{"tel uri", req("INVITE tel:+15551234567 SIP/2.0"), true},
		{"scheme upper case", req("OPTIONS SIP:a@b SIP/2.0"), true},
		{"status line", []byte("SIP/2.0 180 Ringing\r\n\r\n"), true},
		{"http get", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), false},
		{"http absolute uri", []byte("GET http://example.com/ HTTP/1.1\r\n\r\n"), false},
		{"rtsp", []byte("OPTIONS rtsp://example.com/a RTSP/1.0\r\nCSeq: 1\r\n\r\n"), false},
		{"http connect", []byte("CONNECT sipx.example.com:443 HTTP/1.1\r\n\r\n"), false},
		{"http response", []byte("HTTP/1.1 200 OK\r\n\r\n"), false},
		{"space first", []byte(" INVITE sip:a@b SIP/2.0\r\n\r\n"), false},
		{"two spaces", []byte("FOO  sip:a@b SIP/2.0\r\n\r\n"), false},
		{"control in method", []byte("FO\x01O sip:a@b SIP/2.0\r\n\r\n"), false},
		{"separator in method", []byte("FO:O sip:a@b SIP/2.0\r\n\r\n"), false},
		{"sipx scheme", []byte("FOO sipx:a@b SIP/2.0\r\n\r\n"), false},
		{"scheme cut short", []byte("FOO sip"), false},
		{"method cut short", []byte("ABCDEFGHIJK"), false},
		{"rtp", rtp, false},
		{"random", random, false},
		{"zeros", make([]byte, 64), false},
	}
	for _, slow := range []bool{false, true} {
		cfg := defaultCfg()
		cfg.slowPathOnly = slow
		h := newHarness(t, cfg)
		for i, tc := range tests {
			// Ports of their own per case: a match starts a flow, whose
			// later packets match as MATCH_FLOW whatever they hold.
			sport, dport := uint16(41000+2*i), uint16(42000+2*i)
			for _, l4 := range []uint8{17, 6} {
				var seg []byte
				if l4 == 17 {
					seg = udpPkt(sport, dport, tc.payload)
				} else {
					seg = tcpPkt(sport, dport, tc.payload)
				}
				frames := map[string][]byte{
					"plain": ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", l4, seg, v4opts{})),
					"vlan":  vlanFrame(ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", l4, seg, v4opts{})), [2]uint16{0x8100, 7}),
					"ipv6":  ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", l4, seg)),
				}
				for fname, frame := range frames {
					for _, egress := range []bool{false, true} {
						_, got := h.run(t, frame, egress)
						var want []captured
						if tc.match {
							want = one(frame, ClassSIPContent, egress)
						}
						if diff := cmp.Diff(want, got); diff != "" {
							t.Errorf("%s (slow=%v l4=%d %s egress=%v): captured (-want +got):\n%s",
								tc.name, slow, l4, fname, egress, diff)
						}
					}
				}
			}
		}
	}
}
