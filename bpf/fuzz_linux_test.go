//go:build linux

package bpf

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzFilter feeds arbitrary frames through the XDP and TC programs: they
// must always let the packet pass, and whatever they capture must be a
// well-formed record holding a prefix of the frame. A second filter that
// sends every frame through the full parser (no fast path) must return,
// capture and count exactly the same.
func FuzzFilter(f *testing.F) {
	f.Add(sipFrameUDP(300, 5060, 5060))
	f.Add(ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 0, append(ipv6Opts(44), ipv6Frag(17, 0, true, 1)...))))
	f.Add(ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47, append(greHdr(0x22eb, true), make([]byte, 12)...), v4opts{})))
	f.Add(ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(1, 2, []byte{0x80, 201, 0, 1, 0, 0, 0, 0}), v4opts{})))
	f.Add(ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(40000, 40002, []byte("INVITE sip:a@b SIP/2.0\r\n")), v4opts{})))
	requireBPF(f)
	cfg := defaultCfg()
	cfg.Allow = nil
	h := load(f, cfg)
	cfg.slowPathOnly = true
	ref := load(f, cfg)
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 || len(frame) > 4000 {
			return
		}
		for _, tc := range []bool{false, true} {
			ret, got, err := h.try(t, frame, tc)
			if err != nil {
				continue // the kernel's test run refused the frame (e.g. short IP header for skb)
			}
			if ret != xdpPass && ret != tcOK {
				t.Fatalf("action %d", ret)
			}
			for _, c := range got {
				if len(c.Frame) > len(frame) || string(c.Frame) != string(frame[:len(c.Frame)]) {
					t.Fatalf("captured bytes are not a prefix of the frame")
				}
			}
			refRet, refGot, err := ref.try(t, frame, tc)
			if err != nil {
				t.Fatalf("full parser only: %v", err)
			}
			if ret != refRet {
				t.Errorf("tc=%v: action %d, full parser only %d", tc, ret, refRet)
			}
			if diff := cmp.Diff(refGot, got); diff != "" {
				t.Errorf("tc=%v: captured (-full parser only +fast path):\n%s", tc, diff)
			}
			c1, _ := h.f.Counters()
			c2, _ := ref.f.Counters()
			if c1 != c2 {
				t.Fatalf("tc=%v: counters %+v, full parser only %+v", tc, c1, c2)
			}
		}
	})
}

func load(f *testing.F, cfg Config) *harness {
	filter, err := Load(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { filter.Close() })
	rd, err := newReader(filter)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { rd.Close() })
	return &harness{f: filter, rd: rd}
}
