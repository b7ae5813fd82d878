//go:build linux

package main

import (
	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
	"golang.org/x/sys/unix"
)

// kernelMedia moves the tracker's streams into the kernel when the live
// source has a BPF filter with RTP statistics (ringbuf mode). It reports
// whether it did.
func kernelMedia(t *media.Tracker, src source.Source) bool {
	f, ok := src.(interface{ Filter() *bpf.Filter })
	if t == nil || !ok || f.Filter() == nil {
		return false
	}
	t.SetKernel(bpf.RTPKernel{F: f.Filter()})
	return true
}

// monotonic is CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns.
func monotonic() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
