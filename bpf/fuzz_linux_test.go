//go:build linux

package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
)

// FuzzFilter feeds arbitrary frames through the XDP and TC programs: they
// must always let the packet pass, and whatever they capture must be a
// well-formed record holding a prefix of the frame.
func FuzzFilter(f *testing.F) {
	f.Add(sipFrameUDP(300, 5060, 5060))
	f.Add(ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 0, append(ipv6Opts(44), ipv6Frag(17, 0, true, 1)...))))
	f.Add(ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47, append(greHdr(0x22eb, true), make([]byte, 12)...), v4opts{})))
	f.Add(ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(1, 2, []byte{0x80, 201, 0, 1, 0, 0, 0, 0}), v4opts{})))
	requireBPF(f)
	cfg := defaultCfg()
	cfg.Allow = nil
	filter, err := Load(cfg)
	if err != nil {
		f.Fatal(err)
	}
	defer filter.Close()
	h := &harness{f: filter}
	rd, err := newReader(filter)
	if err != nil {
		f.Fatal(err)
	}
	defer rd.Close()
	h.rd = rd
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 || len(frame) > 4000 {
			return
		}
		for _, p := range []*ebpf.Program{filter.XDPProgram(), filter.TCProgram()} {
			ret, err := p.Run(&ebpf.RunOptions{Data: frame})
			if err != nil {
				continue // the kernel's test run refused the frame (e.g. short IP header for skb)
			}
			if ret != xdpPass && ret != tcOK {
				t.Fatalf("action %d", ret)
			}
			for _, c := range h.drain(t) {
				if len(c.Frame) > len(frame) || string(c.Frame) != string(frame[:len(c.Frame)]) {
					t.Fatalf("captured bytes are not a prefix of the frame")
				}
			}
		}
	})
}
