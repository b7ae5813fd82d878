//go:build linux

package bpf

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
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
		var total, least time.Duration
		b.ReportAllocs()
		for b.Loop() {
			_, d, err := prog.Benchmark(frame, 10000, nil)
			if err != nil {
				b.Fatal(err)
			}
			total += d
			if least == 0 || d < least {
				least = d
			}
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/pkt")
		b.ReportMetric(float64(least.Nanoseconds()), "min-ns/pkt")
	})
	rtp := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17,
		udpPkt(30000, 30002, append([]byte{0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4}, make([]byte, 160)...)), v4opts{}))
	cases := []struct {
		name  string
		frame []byte
		tc    bool
		copy  bool
		wake  int
		noEx  bool // no exclude entry on the SIP port (the usual case: HEP goes to 9060)
	}{
		{"xdp/nomatch-rtp-214B", rtp, false, false, 0, false},
		{"xdp/sip-600B/reserve", sipFrameUDP(600, 5060, 5060), false, false, 0, false},
		{"xdp/sip-600B/output", sipFrameUDP(600, 5060, 5060), false, true, 0, false},
		{"xdp/sip-600B/output/no-exclude-lookup", sipFrameUDP(600, 5060, 5060), false, true, 0, true},
		{"xdp/sip-1500B/reserve", sipFrameUDP(1500, 5060, 5060), false, false, 0, false},
		{"xdp/sip-1500B/output", sipFrameUDP(1500, 5060, 5060), false, true, 0, false},
		{"xdp/sip-content-600B/output", sipFrameUDP(600, 40000, 40002), false, true, 0, false},
		{"xdp/sip-600B/reserve/wakeup-256K", sipFrameUDP(600, 5060, 5060), false, false, 256 << 10, false},
		{"xdp/sip-600B/output/wakeup-256K", sipFrameUDP(600, 5060, 5060), false, true, 256 << 10, false},
		{"tc/sip-600B/reserve/wakeup-256K", sipFrameUDP(600, 5060, 5060), true, false, 256 << 10, false},
		{"tc/nomatch-rtp-214B", rtp, true, false, 0, false},
		{"tc/sip-600B/reserve", sipFrameUDP(600, 5060, 5060), true, false, 0, false},
		{"tc/sip-600B/output", sipFrameUDP(600, 5060, 5060), true, true, 0, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			requireBPF(b)
			cfg := defaultCfg()
			cfg.CopyReserve = !c.copy
			cfg.WakeupBytes = c.wake
			if c.noEx {
				cfg.Exclude = nil
			}
			cfg.RingBytes = 64 << 20
			f, err := Load(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			rd, err := ringbuf.NewReader(f.Events())
			if err != nil {
				b.Fatal(err)
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
			prog := f.XDPProgram()
			if c.tc {
				prog = f.TCProgram()
			}
			// Each iteration runs the program repeat times in the kernel;
			// ns/pkt is the mean over iterations, min-ns/pkt the least
			// loaded iteration (this machine is shared and busy).
			const repeat = 10000
			var total, least time.Duration
			b.ReportAllocs()
			for b.Loop() {
				_, d, err := prog.Benchmark(c.frame, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				total += d
				if least == 0 || d < least {
					least = d
				}
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/pkt")
			b.ReportMetric(float64(least.Nanoseconds()), "min-ns/pkt")
			cnt, _ := f.Counters()
			b.ReportMetric(float64(cnt.RingDrops)/float64(cnt.Seen), "ringdrop/pkt")
		})
	}
}
