package packet

import (
	"testing"

	"github.com/xhep/xhep/agent/source"
)

// sip600 is a 600-byte SIP INVITE.
func sip600() []byte {
	n := 600 - len(sipMsg("INVITE", "", 0))
	for len(sipMsg("INVITE", "", n)) > 600 {
		n-- // Content-Length gained digits
	}
	return sipMsg("INVITE", "", n)
}

func benchDecode(b *testing.B, frames []source.Frame, wantMsgs int) {
	d, err := NewDecoder(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	emit := func(m *Message) { n++ }
	b.ReportAllocs()
	for b.Loop() {
		for i := range frames {
			d.Decode(&frames[i], emit)
		}
	}
	b.StopTimer()
	if n < wantMsgs {
		b.Fatalf("emitted %d messages, want at least %d", n, wantMsgs)
	}
	b.ReportMetric(float64(b.N*len(frames))/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkDecodeUDPSIP: a 600-byte SIP message over Ethernet/IPv4/UDP.
func BenchmarkDecodeUDPSIP(b *testing.B) {
	p := sip600()
	if len(p) != 600 {
		b.Fatalf("payload is %d bytes", len(p))
	}
	f := frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(p)))
	benchDecode(b, []source.Frame{f}, 1)
}
