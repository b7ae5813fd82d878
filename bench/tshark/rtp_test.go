package tshark

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseRTPStreams: tshark 4.0's table (Debian 12), a v4 and a v6 row,
// a negative loss (duplicates) and the header lines that are not rows.
func TestParseRTPStreams(t *testing.T) {
	out := `========================= RTP Streams ========================
   Start time      End time     Src IP addr  Port    Dest IP addr  Port       SSRC          Payload  Pkts         Lost   Min Delta(ms)  Mean Delta(ms)   Max Delta(ms)  Min Jitter(ms) Mean Jitter(ms)  Max Jitter(ms) Problem?
     0.000000     29.980000        10.0.1.2 30000        10.0.1.1 40000 0x00001000   g711A         1493    7 (0.5%)           0.000          20.087         110.000           0.000           4.851           9.120 X
     0.010000     30.000000        2001:db8::2 30002   2001:db8::1 40002 0x00002000  g711U          401   -1 (-0.2%)          19.000          20.000          21.000           0.010           0.020           0.031
==============================================================
`
	got := ParseRTPStreams(out)
	want := map[string]RTPStream{
		Key(netip.MustParseAddrPort("10.0.1.2:30000"), netip.MustParseAddrPort("10.0.1.1:40000"), 0x1000):           {1493, 7, 9.12, 4.851},
		Key(netip.MustParseAddrPort("[2001:db8::2]:30002"), netip.MustParseAddrPort("[2001:db8::1]:40002"), 0x2000): {401, -1, 0.031, 0.02},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}
