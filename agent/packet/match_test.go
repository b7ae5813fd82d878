package packet

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
)

// TestKernelMatch: a frame the kernel filter classified (Frame.Match) is
// not classified by port again: the kernel's port bits decide which
// branch a datagram takes. Each case is decoded twice, with the kernel's
// bits and without (as from a file); ports outside the decoder's Rules
// make the difference visible. Bits do not carry over into a tunnel or
// into a datagram reassembled from fragments.
func TestKernelMatch(t *testing.T) {
	keepAlive := []byte("\r\n\r\n")
	dnsQ := cat(u16(0x1234), u16(0x0100), u16(1), u16(0), u16(0), u16(0), []byte{3, 'f', 'o', 'o', 0}, u16(1), u16(1))
	plain := func(p []byte) []byte { return eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(40000, 40002, p))) }
	tests := []struct {
		name     string
		b        []byte
		match    uint8
		withBits map[string]uint64
		without  map[string]uint64
	}{
		{"sip port bit: keep-alive on 40000 counted as on a SIP port", plain(keepAlive), bpf.ClassSIP,
			map[string]uint64{"KeepAlives": 1, "Unclassified": 0}, map[string]uint64{"KeepAlives": 0, "Unclassified": 1}},
		{"dns port bit: query on 40000 is DNS", plain(dnsQ), bpf.ClassDNS,
			map[string]uint64{"Messages.dns": 1, "Unclassified": 0}, map[string]uint64{"Messages.dns": 0, "Unclassified": 1}},
		{"rtcp bit: RTCP, content test skipped", plain(rtcpSRSDES), bpf.ClassRTCP,
			map[string]uint64{"Messages.rtcp": 1}, map[string]uint64{"Messages.rtcp": 1}},
		{"sip content bit: the start line is still checked", plain([]byte("INVITE sip:x nonsense\r\n\r\n")), bpf.ClassSIPContent,
			map[string]uint64{"Messages.sip": 0, "Unclassified": 1}, map[string]uint64{"Messages.sip": 0, "Unclassified": 1}},
		{"inside ipip the bits are not used", eth(0x0800, ip4(4, "192.168.0.1", "192.168.0.2", ip4(17, "10.0.0.1", "10.0.0.2", udp(40000, 40002, keepAlive)))), bpf.ClassSIP,
			map[string]uint64{"KeepAlives": 0, "Unclassified": 1}, map[string]uint64{"KeepAlives": 0, "Unclassified": 1}},
		{"fragment bit: not used", plain(keepAlive), bpf.ClassSIP | bpf.ClassFragment,
			map[string]uint64{"KeepAlives": 0, "Unclassified": 1}, map[string]uint64{"KeepAlives": 0, "Unclassified": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := frame(source.LinkEthernet, ts0, tt.b)
			f.Match = tt.match
			_, st, _ := run(t, nil, f)
			if diff := cmp.Diff(tt.withBits, counters(st, tt.withBits)); diff != "" {
				t.Errorf("with the kernel's bits (-want +got):\n%s", diff)
			}
			f.Match = 0
			_, st, _ = run(t, nil, f)
			if diff := cmp.Diff(tt.without, counters(st, tt.without)); diff != "" {
				t.Errorf("without (-want +got):\n%s", diff)
			}
		})
	}
}
