package pcaptest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnhex(t *testing.T) {
	got := Unhex(t, `
81 c8 00 0c   // V=2, PT=200
1b0673 35     // SSRC
`)
	if diff := cmp.Diff([]byte{0x81, 0xc8, 0x00, 0x0c, 0x1b, 0x06, 0x73, 0x35}, got); diff != "" {
		t.Errorf("Unhex (-want +got):\n%s", diff)
	}
}

func TestUDPPayloadsSkipsAbsentCapture(t *testing.T) {
	var skipped bool
	t.Run("absent", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		UDPPayloads(t, "no such capture.pcap")
	})
	if !skipped {
		t.Error("UDPPayloads did not skip for an absent capture")
	}
}
