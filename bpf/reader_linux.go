//go:build linux

package bpf

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
)

// Reader reads the records the programs wrote, from the BPF ring buffer
// or from the per-CPU perf buffers, whichever the filter uses. The
// records have the same format in both ([ParseEvent]). Read, SetDeadline
// and the size methods are called from one goroutine; Close from any.
type Reader struct {
	rb    *ringbuf.Reader
	pr    *perf.Reader
	rbRec ringbuf.Record
	prRec perf.Record
	size  int
	lost  atomic.Uint64
}

// NewReader opens a reader on the filter's buffer. wakeBytes is how many
// bytes a perf buffer collects before the kernel wakes the reader (0:
// every record; the ring buffer's wakeups are set at Load with
// Config.WakeupBytes); with it set the caller must also poll with a
// deadline, as for the ring buffer.
func NewReader(f *Filter, wakeBytes int) (*Reader, error) {
	v := f.Variant()
	switch v.Buffer {
	case BufferRing:
		rb, err := ringbuf.NewReader(f.Events())
		if err != nil {
			return nil, fmt.Errorf("open ring buffer reader: %w", err)
		}
		return &Reader{rb: rb, size: rb.BufferSize()}, nil
	case BufferPerf:
		per := f.PerfBytes()
		opts := perf.ReaderOptions{}
		if wakeBytes > 0 {
			opts.Watermark = min(wakeBytes, per/2)
		}
		pr, err := perf.NewReaderWithOptions(f.PerfEvents(), per, opts)
		if err != nil {
			return nil, fmt.Errorf("open perf buffer reader: %w", err)
		}
		return &Reader{pr: pr, size: per * onlineCPUs()}, nil
	}
	return nil, fmt.Errorf("open reader: the filter writes no records (%s)", v)
}

// Read returns the next record, valid until the next Read. It blocks
// until one arrives, the deadline passes (os.ErrDeadlineExceeded) or the
// reader is closed (an error wrapping os.ErrClosed / ringbuf.ErrClosed /
// perf.ErrClosed). Records the kernel could not write into a full perf
// buffer are skipped here (the programs count them as ring drops).
func (r *Reader) Read() ([]byte, error) {
	if r.rb != nil {
		if err := r.rb.ReadInto(&r.rbRec); err != nil {
			return nil, err
		}
		return r.rbRec.RawSample, nil
	}
	for {
		if err := r.pr.ReadInto(&r.prRec); err != nil {
			return nil, err
		}
		if r.prRec.LostSamples > 0 {
			r.lost.Add(r.prRec.LostSamples)
			continue
		}
		return r.prRec.RawSample, nil
	}
}

// SetDeadline makes a blocked Read return os.ErrDeadlineExceeded at t
// once the buffer is drained.
func (r *Reader) SetDeadline(t time.Time) {
	if r.rb != nil {
		r.rb.SetDeadline(t)
		return
	}
	r.pr.SetDeadline(t)
}

// BufferSize is the size of the ring buffer, or of all perf buffers together.
func (r *Reader) BufferSize() int { return r.size }

// AvailableBytes is how much of the ring buffer is not read yet; -1 for
// perf buffers, which do not say.
func (r *Reader) AvailableBytes() int {
	if r.rb != nil {
		return r.rb.AvailableBytes()
	}
	return -1
}

// Lost is how many records the kernel reported lost in full perf buffers.
func (r *Reader) Lost() uint64 { return r.lost.Load() }

// Close unblocks Read and frees the buffer mappings.
func (r *Reader) Close() error {
	if r.rb != nil {
		return r.rb.Close()
	}
	return r.pr.Close()
}
