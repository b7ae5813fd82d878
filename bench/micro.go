package bench

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xhep/xhep/agent"
	"github.com/xhep/xhep/agent/correlate"
	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// sipSample returns a generated SIP message of about size bytes (the
// generated message closest to it, headers and SDP body as generated).
func sipSample(size int) ([]byte, error) {
	cfg := gen.DefaultConfig()
	cfg.Calls, cfg.Registrations, cfg.Options = 20, 5, 5
	cfg.RTCP, cfg.DNS = false, false
	_, truth, err := gen.Collect(cfg)
	if err != nil {
		return nil, fmt.Errorf("generate SIP: %w", err)
	}
	var best []byte
	for _, m := range truth.SIP {
		if best == nil || abs(len(m.Raw)-size) < abs(len(best)-size) {
			best = m.Raw
		}
	}
	if best == nil {
		return nil, fmt.Errorf("generator produced no SIP")
	}
	return best, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// sampleHEP is a HEP message carrying payload as a UDP SIP capture would.
func sampleHEP(payload []byte) *hep.Message {
	return &hep.Message{
		Version: 3, IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("10.1.0.7"), DstIP: netip.MustParseAddr("10.0.0.10"),
		SrcPort: 5060, DstPort: 5060,
		TsSec: uint32(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()), TsUsec: 123456,
		Proto: hep.ProtoSIP, NodeID: 2001, NodeName: []byte("probe-1"),
		Payload: payload,
	}
}

// benchResult is one micro benchmark: wall and on-CPU time per operation
// and allocations.
type benchResult struct {
	wall, cpu float64 // ns/op
	allocs    int64
	n         int
}

// runBench runs f with testing.Benchmark on a goroutine locked to its OS
// thread and also measures that thread's CPU time over the final run: on a
// shared machine the on-CPU time per operation is the figure that does not
// count time spent waiting for a core.
func runBench(f func(b *testing.B)) benchResult {
	var cpu time.Duration
	var n int
	r := testing.Benchmark(func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0 := threadCPU()
		f(b)
		cpu, n = threadCPU()-c0, b.N
	})
	res := benchResult{allocs: r.AllocsPerOp(), n: r.N}
	if r.N > 0 {
		res.wall = float64(r.T.Nanoseconds()) / float64(r.N)
	}
	res.cpu = res.wall
	if n > 0 && cpu > 0 {
		res.cpu = float64(cpu.Nanoseconds()) / float64(n)
	}
	return res
}

// timeNote says how the per-op figure relates to wall time.
func (r benchResult) timeNote() string {
	return fmt.Sprintf("on-CPU time of the benchmark thread; wall %.0f ns/op over %d ops", r.wall, r.n)
}

func (s *suite) micro() {
	const sec = "micro"
	payload, err := sipSample(600)
	if err != nil {
		s.skip(sec, "HEP encode/decode, SIP dissect", err.Error())
		return
	}
	m := sampleHEP(payload)
	wire, err := m.AppendTo(nil)
	if err != nil {
		s.skip(sec, "HEP encode/decode, SIP dissect", "encode: "+err.Error())
		return
	}
	size := fmt.Sprintf("%d-byte SIP", len(payload))

	// HEP encode.
	buf := make([]byte, 0, 2048)
	r := runBench(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = m.AppendTo(buf[:0])
		}
	})
	s.add(Result{Section: sec, Name: "HEP3 encode, " + size, Value: r.cpu, Unit: "ns/op", Target: "< 150 ns, 0 allocs", Note: r.timeNote()})
	s.add(Result{Section: sec, Name: "HEP3 encode allocations", Value: float64(r.allocs), Unit: "allocs/op", Target: "0"})

	// HEP decode.
	var dm hep.Message
	r = runBench(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := dm.DecodeFromBytes(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	s.add(Result{Section: sec, Name: "HEP3 decode, " + size, Value: r.cpu, Unit: "ns/op", Target: "< 150 ns, 0 allocs", Note: r.timeNote()})
	s.add(Result{Section: sec, Name: "HEP3 decode allocations", Value: float64(r.allocs), Unit: "allocs/op", Target: "0"})

	// SIP dissect on a decoded message, then decode + dissect (row built).
	d, err := dissect.New(dissect.Config{})
	if err != nil {
		s.skip(sec, "SIP dissect", err.Error())
		return
	}
	var row store.Row
	if err := dm.DecodeFromBytes(wire); err != nil {
		s.skip(sec, "SIP dissect", err.Error())
		return
	}
	r = runBench(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := d.Dissect(&dm, &row); err != nil {
				b.Fatal(err)
			}
		}
	})
	s.add(Result{Section: sec, Name: "SIP dissect into a store row, " + size, Value: r.cpu, Unit: "ns/op", Note: r.timeNote()})
	s.add(Result{Section: sec, Name: "SIP dissect allocations", Value: float64(r.allocs), Unit: "allocs/op"})
	r = runBench(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := dm.DecodeFromBytes(wire); err != nil {
				b.Fatal(err)
			}
			if err := d.Dissect(&dm, &row); err != nil {
				b.Fatal(err)
			}
		}
	})
	s.add(Result{Section: sec, Name: "HEP decode + SIP dissect + row, " + size, Value: r.cpu, Unit: "ns/op",
		Target: "< 1.5 µs, ≤ 2 allocs", Note: r.timeNote()})
	s.add(Result{Section: sec, Name: "HEP decode + SIP dissect allocations", Value: float64(r.allocs), Unit: "allocs/op", Target: "≤ 2"})

	s.microPipeline()
	s.microFilter()
}

// countSink counts what the pipeline hands to the senders.
type countSink struct{ n atomic.Uint64 }

func (c *countSink) Send(msg, key []byte) { c.n.Add(1) }

// sipFrames generates a SIP-only UDP capture in memory.
func sipFrames(calls int) ([]gen.Packet, *gen.Truth, error) {
	cfg := gen.DefaultConfig()
	cfg.Calls, cfg.Registrations, cfg.Options = calls, calls/3, calls/3
	cfg.RTCP, cfg.DNS = false, false
	cfg.CountsOnly = true
	return gen.Collect(cfg)
}

// microPipeline measures the agent's decode → classify → HEP encode per
// frame on generated SIP frames, with a sink that only counts.
func (s *suite) microPipeline() {
	const sec, name = "micro", "agent decode → classify → HEP encode, generated SIP frames"
	pkts, _, err := sipFrames(200)
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	sink := &countSink{}
	p, err := agent.New(agent.Config{NodeID: 2001, NodeName: "probe-1",
		Decoder: packet.DefaultConfig(), Correlate: correlate.DefaultConfig(), Sink: sink})
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer p.Close()
	frames := make([]source.Frame, len(pkts))
	for i, pk := range pkts {
		frames[i] = source.Frame{Data: pk.Data, LinkType: source.LinkEthernet, OrigLen: len(pk.Data)}
	}
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var i int
	r := runBench(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := &frames[i%len(frames)]
			f.TS = ts
			ts += 10_000
			i++
			p.Process(f)
		}
	})
	s.add(Result{Section: sec, Name: name, Value: 1e9 / r.cpu, Unit: "pkts/s (one core)", Target: "≥ 1,000,000 pkts/s, 0 allocs",
		Note: fmt.Sprintf("%.0f ns/pkt on CPU (wall %.0f); %d frames cycled, %d HEP out of %d frames", r.cpu, r.wall, len(frames), sink.n.Load(), i)})
	s.add(Result{Section: sec, Name: "agent pipeline allocations", Value: float64(r.allocs), Unit: "allocs/pkt", Target: "0"})
}
