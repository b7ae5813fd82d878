//go:build linux

package bench

import (
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xhep/xhep/bpf"
)

// microFilter measures the capture filter's in-kernel cost per packet with
// BPF_PROG_TEST_RUN (prog.Benchmark on the XDP program the bpf package
// loads; bpf has no benchmark hook of its own, so this drives
// Filter.XDPProgram). Matching frames are copied into the ring buffer, which
// a goroutine drains meanwhile.
func (s *suite) microFilter() {
	const sec = "micro"
	cfg := bpf.Config{Rules: bpf.DefaultRules(), RingBytes: 64 << 20}
	f, err := bpf.Load(cfg)
	if err != nil {
		s.skip(sec, "in-kernel filter (XDP, prog.Benchmark)", "BPF not permitted or not supported here: "+err.Error())
		return
	}
	defer f.Close()
	rd, err := ringbuf.NewReader(f.Events())
	if err != nil {
		s.skip(sec, "in-kernel filter (XDP, prog.Benchmark)", "ring buffer reader: "+err.Error())
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var rec ringbuf.Record
		for {
			err := rd.ReadInto(&rec)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				rd.SetDeadline(time.Now().Add(5 * time.Millisecond))
				continue
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { rd.Close(); <-done }()
	repeat := s.pick(200_000, 1_000_000)
	for _, c := range []struct {
		name, target string
		frame        []byte
	}{
		{"in-kernel filter, non-matching RTP frame (214 B), XDP", "≤ 40 ns", rtpFrame()},
		{"in-kernel filter, matching SIP frame (600 B) incl. ring buffer copy, XDP", "≤ 150 ns", sipFrame(600, 1)},
	} {
		// Three runs, the best kept: the machine is shared.
		var best time.Duration
		for range 3 {
			_, d, err := f.XDPProgram().Benchmark(c.frame, repeat, nil)
			if err != nil {
				s.skip(sec, c.name, "BPF_PROG_TEST_RUN: "+err.Error())
				best = -1
				break
			}
			if best == 0 || d < best {
				best = d
			}
		}
		if best < 0 {
			continue
		}
		s.add(Result{Section: sec, Name: c.name, Value: float64(best.Nanoseconds()), Unit: "ns/pkt", Target: c.target,
			Note: "prog.Benchmark, best of 3 × " + FormatValue(float64(repeat), "repeats")})
	}
	if k, err := f.Counters(); err == nil && k.RingDrops > 0 {
		s.logf("  (ring drops during the filter benchmark: %d of %d captured)", k.RingDrops, k.Captured+k.RingDrops)
	}
}
