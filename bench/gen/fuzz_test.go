package gen

import (
	"errors"
	"testing"
)

// FuzzGenerate: any config either fails validation with ErrConfig or
// generates frames that decode cleanly and match Truth's counts.
func FuzzGenerate(f *testing.F) {
	f.Add(int64(1), uint8(3), uint8(1), uint8(1), uint8(3), uint16(0), uint16(0), uint16(0), uint8(0))
	f.Add(int64(7), uint8(5), uint8(2), uint8(2), uint8(0x3f), uint16(576), uint16(100), uint16(200), uint8(2))
	f.Fuzz(func(t *testing.T, seed int64, calls, regs, opts, flags uint8, mtu, vlan1, vlan2 uint16, rtp uint8) {
		cfg := Config{Seed: seed, Calls: int(calls % 8), Registrations: int(regs % 4), Options: int(opts % 4),
			DNS: flags&1 != 0, RTCP: flags&2 != 0, IPv6: flags&4 != 0, TCP: flags&8 != 0,
			FragmentMTU: int(mtu), RTP: int(rtp % 4)}
		if flags&16 != 0 {
			cfg.VLAN = append(cfg.VLAN, vlan1)
		}
		if flags&32 != 0 {
			cfg.VLAN = append(cfg.VLAN, vlan2)
		}
		if flags&64 != 0 {
			cfg.VLAN = append(cfg.VLAN, vlan1)
		}
		var frames [][]byte
		tr, err := Generate(cfg, func(p Packet) error {
			frames = append(frames, append([]byte(nil), p.Data...))
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("config %+v: %v", cfg, err)
			}
			return
		}
		d := decodeFrames(t, cfg, frames)
		if len(d.sip) != tr.Stats.SIPMessages || len(d.rtcp) != tr.Stats.RTCP || len(d.dns) != tr.Stats.DNS ||
			d.rtp != tr.Stats.RTP || d.fragments != tr.Stats.Fragments || d.frames != tr.Stats.Frames {
			t.Fatalf("config %+v: decoded %d SIP, %d RTCP, %d DNS, %d RTP, %d fragments, %d frames; truth %+v",
				cfg, len(d.sip), len(d.rtcp), len(d.dns), d.rtp, d.fragments, d.frames, tr.Stats)
		}
	})
}
