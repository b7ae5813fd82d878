//go:build linux

package source

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/bpf"
)

// ringPoll is how often the reader looks at the ring even without a
// wakeup: the programs wake it only about once per 1/ringWakeFraction of
// the ring written, so a busy reader is not woken for every frame (each
// wakeup is an IPI; at 1/64 of a 64 MiB ring they cost the programs 6-9 ns
// per 600-byte frame in BenchmarkFilter, at 1/8 about nothing), and a
// lone frame waits at most ringPoll. A ring that fills faster than an
// eighth per poll period (200 MB/s for 8 MiB) still wakes the reader.
const (
	ringPoll         = 5 * time.Millisecond
	ringWakeFraction = 8
)

// ringbufSource reads frames the XDP and TC programs copied into the BPF
// ring buffer, or into the per-CPU perf buffers on kernels without one
// (the same records). Read is called from one goroutine; Close from any.
type ringbufSource struct {
	filter *bpf.Filter
	rd     *bpf.Reader
	clock  monoClock

	bad       atomic.Uint64 // malformed records skipped
	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

func openRingbuf(cfg LiveConfig) (*ringbufSource, error) {
	fc, err := filterConfig(cfg)
	if err != nil {
		return nil, err
	}
	mode, err := xdpMode(cfg.XDPMode)
	if err != nil {
		return nil, err
	}
	idx, err := ifaceIndexes(cfg.Ifaces)
	if err != nil {
		return nil, err
	}
	if fc.RingBytes == 0 {
		fc.RingBytes = 64 << 20
	}
	fc.WakeupBytes = fc.RingBytes / ringWakeFraction
	f, err := bpf.Load(fc)
	if err != nil {
		return nil, fmt.Errorf("open ring buffer source: %w", err)
	}
	perfWake := 0
	if f.Variant().Buffer == bpf.BufferPerf {
		perfWake = f.PerfBytes() / ringWakeFraction
	}
	for i, ix := range idx {
		if err := f.AttachXDP(ix, mode); err != nil {
			f.Close()
			return nil, fmt.Errorf("open ring buffer source on %s: %w", cfg.Ifaces[i], err)
		}
		if err := f.AttachTC(ix); err != nil {
			f.Close()
			return nil, fmt.Errorf("open ring buffer source on %s: %w", cfg.Ifaces[i], err)
		}
	}
	rd, err := bpf.NewReader(f, perfWake)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s buffer: %w", f.Variant().Buffer, err)
	}
	s := &ringbufSource{filter: f, rd: rd}
	s.clock.sync()
	rd.SetDeadline(time.Now().Add(ringPoll))
	return s, nil
}

// Read blocks until a captured frame arrives. Frame.Data aliases the
// source's record buffer until the next Read.
func (s *ringbufSource) Read(f *Frame) error {
	for {
		rec, err := s.rd.Read()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The ring is drained; sleep until a wakeup or the next poll.
				s.rd.SetDeadline(time.Now().Add(ringPoll))
				continue
			}
			if s.closed.Load() || errors.Is(err, os.ErrClosed) {
				return ErrClosed
			}
			return fmt.Errorf("read ring buffer: %w", err)
		}
		h, data, err := bpf.ParseEvent(rec)
		if err != nil {
			s.bad.Add(1)
			continue
		}
		*f = Frame{
			Data:     data,
			TS:       s.clock.unix(h.MonoNS),
			LinkType: LinkEthernet,
			OrigLen:  int(h.OrigLen),
			IfIndex:  int(h.IfIndex),
			Egress:   h.Egress,
			Match:    h.Class,
		}
		return nil
	}
}

// Close detaches the programs and unblocks Read. It is idempotent.
func (s *ringbufSource) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		err1 := s.rd.Close()
		err2 := s.filter.Close()
		s.closeErr = errors.Join(err1, err2)
	})
	return s.closeErr
}

// Variant says what the loader chose on this kernel and how the programs
// are attached.
func (s *ringbufSource) Variant() bpf.Variant { return s.filter.Variant() }

// Filter is the loaded BPF filter (its RTP stream table, for agent/media).
func (s *ringbufSource) Filter() *bpf.Filter { return s.filter }

// Counters returns the kernel counters.
func (s *ringbufSource) Counters() (bpf.Counters, error) { return s.filter.Counters() }

func (s *ringbufSource) collectors() []prometheus.Collector {
	c := &bpfCollector{
		counters: s.filter.Counters,
		bad:      s.bad.Load,
		variant:  s.filter.Variant(),
		ringSize: s.rd.BufferSize(),
	}
	if s.rd.AvailableBytes() >= 0 {
		c.ringPending = s.rd.AvailableBytes
	}
	return []prometheus.Collector{c}
}
