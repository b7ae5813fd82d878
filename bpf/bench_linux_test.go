//go:build linux

package bpf

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// BenchmarkFilter measures the in-kernel cost per packet with
// BPF_PROG_TEST_RUN (prog.Benchmark): ns/pkt is the kernel's average over
// the repeat count. Matching packets are copied into the ring buffer,
// which a goroutine drains meanwhile.
func BenchmarkFilter(b *testing.B) {
	b.Run("xdp/baseline-return-pass", func(b *testing.B) {
		// The floor on this machine: a program that only returns XDP_PASS.
		requireBPF(b)
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type:         ebpf.XDP,
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()},
			License:      "MIT",
		})
		if err != nil {
			b.Fatal(err)
		}
		defer prog.Close()
		frame := sipFrameUDP(600, 5060, 5060)
		var ds []time.Duration
		b.ReportAllocs()
		for b.Loop() {
			_, d, err := prog.Benchmark(frame, 10000, nil)
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, d)
		}
		reportPerPacket(b, ds)
	})
	rtp := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17,
		udpPkt(30000, 30002, append([]byte{0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4}, make([]byte, 160)...)), v4opts{}))
	// wake: WakeupBytes; 8 MiB is what the agent sets for its 64 MiB ring.
	cases := []struct {
		name  string
		frame []byte
		tc    bool
		wake  int
		noEx  bool // no exclude entry on the SIP port (the usual case: HEP goes to 9060)
		buf   Buffer
	}{
		{"xdp/nomatch-rtp-214B", rtp, false, 0, false, ""},
		{"xdp/sip-600B", sipFrameUDP(600, 5060, 5060), false, 0, false, ""},
		{"xdp/sip-600B/wakeup-8M", sipFrameUDP(600, 5060, 5060), false, 8 << 20, false, ""},
		{"xdp/sip-600B/wakeup-1M", sipFrameUDP(600, 5060, 5060), false, 1 << 20, false, ""},
		{"xdp/sip-600B/no-exclude-lookup", sipFrameUDP(600, 5060, 5060), false, 0, true, ""},
		{"xdp/sip-1500B", sipFrameUDP(1500, 5060, 5060), false, 0, false, ""},
		{"xdp/sip-content-600B", sipFrameUDP(600, 40000, 40002), false, 0, false, ""},
		{"tc/nomatch-rtp-214B", rtp, true, 0, false, ""},
		{"tc/sip-600B", sipFrameUDP(600, 5060, 5060), true, 0, false, ""},
		{"tc/sip-600B/wakeup-8M", sipFrameUDP(600, 5060, 5060), true, 8 << 20, false, ""},
		// The perf event array variant (kernels before 5.8, or forced).
		{"xdp/nomatch-rtp-214B/perf", rtp, false, 0, false, BufferPerf},
		{"xdp/sip-600B/perf", sipFrameUDP(600, 5060, 5060), false, 0, false, BufferPerf},
		{"xdp/sip-1500B/perf", sipFrameUDP(1500, 5060, 5060), false, 0, false, BufferPerf},
		{"tc/sip-600B/perf", sipFrameUDP(600, 5060, 5060), true, 0, false, BufferPerf},
		// A watermark, as the agent sets (an eighth of the per-CPU buffer):
		// the kernel wakes the reader once per that many bytes, not per record.
		{"xdp/sip-600B/perf-wakeup-2M", sipFrameUDP(600, 5060, 5060), false, 2 << 20, false, BufferPerf},
		{"tc/sip-600B/perf-wakeup-2M", sipFrameUDP(600, 5060, 5060), true, 2 << 20, false, BufferPerf},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			requireBPF(b)
			cfg := defaultCfg()
			if c.buf != BufferPerf {
				cfg.WakeupBytes = c.wake
			}
			if c.noEx {
				cfg.Exclude = nil
			}
			cfg.RingBytes = 64 << 20
			cfg.Buffer = c.buf
			cfg.PerfBytes = 16 << 20 // holds one iteration's records on one CPU
			f, err := Load(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			rd, err := NewReader(f, c.wake)
			if err != nil {
				b.Fatal(err)
			}
			// The reader polls like the agent's: it is not woken for every
			// record when WakeupBytes is set.
			rd.SetDeadline(time.Now().Add(5 * time.Millisecond))
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					_, err := rd.Read()
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
			prog := f.XDPProgram()
			if c.tc {
				prog = f.TCProgram()
			}
			// Each iteration runs the program repeat times in the kernel
			// once the reader has drained the ring (so no record is
			// dropped, which would make the run look cheaper).
			const repeat = 10000
			var ds []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				for t0 := time.Now(); rd.AvailableBytes() > 0 && time.Since(t0) < time.Second; {
					time.Sleep(100 * time.Microsecond)
				}
				if rd.AvailableBytes() < 0 {
					// Perf buffers do not say how full they are: give
					// the reader time to drain the last iteration.
					time.Sleep(20 * time.Millisecond)
				}
				_, d, err := prog.Benchmark(c.frame, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, d)
			}
			reportPerPacket(b, ds)
			cnt, _ := f.Counters()
			b.ReportMetric(float64(cnt.RingDrops)/float64(cnt.Seen), "ringdrop/pkt")
		})
	}
}

// reportPerPacket reports the kernel's per-packet time of the least loaded
// iteration (min-ns/pkt), the median (med-ns/pkt) and the mean (ns/pkt):
// this machine is shared and busy, so the mean is noisy.
func reportPerPacket(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	slices.Sort(ds)
	b.ReportMetric(float64(total.Nanoseconds())/float64(len(ds)), "ns/pkt")
	b.ReportMetric(float64(ds[0].Nanoseconds()), "min-ns/pkt")
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "med-ns/pkt")
}
