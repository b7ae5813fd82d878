//go:build linux

package bpf

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestExclude covers both exclude paths: up to four entries are compared
// inline from .rodata, more are looked up in the exclude hash map.
func TestExclude(t *testing.T) {
	for _, n := range []int{1, 4, 5, 9} {
		t.Run(fmt.Sprintf("%d-entries", n), func(t *testing.T) {
			cfg := defaultCfg()
			cfg.Exclude = nil
			for i := range n {
				cfg.Exclude = append(cfg.Exclude, netip.MustParseAddrPort(fmt.Sprintf("10.9.9.%d:5060", i+1)))
			}
			h := newHarness(t, cfg)
			sip := sipInvite(0)
			last := fmt.Sprintf("10.9.9.%d", n)
			for _, tc := range []struct {
				name  string
				frame []byte
				class uint8
			}{
				{"to last entry", ethFrame(0x0800, ipv4Pkt("10.0.0.1", last, 17, udpPkt(40000, 5060, sip), v4opts{})), 0},
				{"from last entry", ethFrame(0x0800, ipv4Pkt(last, "10.0.0.1", 17, udpPkt(5060, 40000, sip), v4opts{})), 0},
				{"first entry, other port", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.9.9.1", 17, udpPkt(40000, 5061, sip), v4opts{})), 1},
				{"other address", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.9.8.1", 17, udpPkt(40000, 5060, sip), v4opts{})), 1},
			} {
				_, got := h.run(t, tc.frame, false)
				want := 0
				if tc.class != 0 {
					want = 1
				}
				if len(got) != want {
					t.Errorf("%s: %d records, want %d", tc.name, len(got), want)
				}
			}
		})
	}
}
