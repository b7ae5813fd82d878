//go:build linux

package main

import (
	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
	"golang.org/x/sys/unix"
)

// kernelMedia moves the tracker's streams into the kernel when the live
// source has BPF filters with RTP statistics (ringbuf: one filter; afxdp:
// one per interface). It reports whether it did; afpacket has none, and
// its RTP reaches the tracker in userspace (the socket filter passes RTP).
func kernelMedia(t *media.Tracker, src source.Source) bool {
	if t == nil {
		return false
	}
	k := bpf.RTPKernelOf(src)
	if len(k) == 0 {
		return false
	}
	t.SetKernel(k)
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
