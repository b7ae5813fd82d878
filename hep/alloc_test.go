package hep

import "testing"

// TestZeroAllocs checks the steady state of the hot paths: decoding (with
// vendor chunks reusing Extra's capacity, and with a compressed payload
// reusing the scratch buffer) and encoding into a buffer with room.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	sip := sipMsg()
	plain, err := sip.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	sip.Compress = true
	compressed, err := sip.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	vendor := unhex(t, goldenV6)
	enc := sipMsg()
	var m Message
	buf := make([]byte, 0, 4096)
	tests := []struct {
		name string
		f    func()
	}{
		{"decode sip", func() { _ = m.DecodeFromBytes(plain) }},
		{"decode vendor chunk", func() { _ = m.DecodeFromBytes(vendor) }},
		{"decode compressed", func() { _ = m.DecodeFromBytes(compressed) }},
		{"encode sip", func() { buf, _ = enc.AppendTo(buf[:0]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f() // warm up: grow Extra, scratch, pools
			if got := testing.AllocsPerRun(100, tt.f); got != 0 {
				t.Errorf("%v allocations per run, want 0", got)
			}
		})
	}
}
