//go:build linux

package bpf

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
)

func TestLoad(t *testing.T) {
	requireBPF(t)
	for _, cfg := range []Config{{}, {WakeupBytes: 1 << 20}, {AFXDP: true, DropUnmatched: true}} {
		f, err := Load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("variant: %s", f.Variant())
		if os.Getenv(LegacyEnv) == "1" && f.Variant().Buffer != BufferPerf {
			t.Errorf("%s=1: buffer %s, want perf", LegacyEnv, f.Variant().Buffer)
		}
		f.Close()
	}
}

// TestBuffers runs the same frames through both record buffers (the ring
// where the kernel has one) and compares the records: the format is the
// same whichever buffer carries it.
func TestBuffers(t *testing.T) {
	requireBPF(t)
	bufs := []Buffer{BufferPerf}
	if haveRingBuf() {
		bufs = append(bufs, BufferRing)
	} else {
		t.Logf("Linux %s has no BPF ring buffer: perf only", KernelRelease())
	}
	frames := [][]byte{sipFrameUDP(100, 5060, 5060), sipFrameUDP(600, 5060, 5070), sipFrameUDP(1500, 40000, 5061),
		sipFrameUDP(3000, 5060, 5060)}
	var first []captured
	for _, b := range bufs {
		cfg := defaultCfg()
		cfg.Buffer = b
		h := newHarness(t, cfg)
		if got := h.f.Variant().Buffer; got != b {
			t.Fatalf("buffer %s: variant says %s", b, got)
		}
		var all []captured
		for _, fr := range frames {
			for _, tc := range []bool{false, true} {
				_, got := h.run(t, fr, tc)
				want := one(fr, ClassSIP, tc)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("buffer %s, %d bytes, tc %v (-want +got):\n%s", b, len(fr), tc, diff)
				}
				all = append(all, got...)
			}
		}
		if first == nil {
			first = all
		} else if diff := cmp.Diff(first, all); diff != "" {
			t.Errorf("records differ between %s and %s (-%s +%s):\n%s", bufs[0], b, bufs[0], b, diff)
		}
		c, err := h.f.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if c.Captured != uint64(2*len(frames)) || c.RingDrops != 0 {
			t.Errorf("buffer %s: captured %d, drops %d; want %d, 0", b, c.Captured, c.RingDrops, 2*len(frames))
		}
	}
}

// TestPerfDrops fills a small perf buffer nobody reads: the records that
// do not fit are counted as ring drops, not lost silently.
func TestPerfDrops(t *testing.T) {
	requireBPF(t)
	cfg := defaultCfg()
	cfg.Buffer = BufferPerf
	cfg.PerfBytes = 4096
	f, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := NewReader(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	frame := sipFrameUDP(600, 5060, 5060)
	const n = 50
	for range n {
		if _, err := f.XDPProgram().Run(&ebpf.RunOptions{Data: frame}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.Captured+c.RingDrops != n || c.RingDrops == 0 || c.Captured == 0 {
		t.Errorf("captured %d + dropped %d, want %d with some of each", c.Captured, c.RingDrops, n)
	}
}
