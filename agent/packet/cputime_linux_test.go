//go:build linux

package packet

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// threadCPU locks the goroutine to its thread and returns a function that
// reports the CPU time (user+system, ns) the thread has used since, so
// benchmarks can report throughput per CPU-second on a loaded machine.
func threadCPU() (elapsed func() int64, ok bool) {
	runtime.LockOSThread()
	now := func() int64 {
		var ru unix.Rusage
		if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
			return -1
		}
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	start := now()
	if start < 0 {
		runtime.UnlockOSThread()
		return nil, false
	}
	return func() int64 {
		defer runtime.UnlockOSThread()
		return now() - start
	}, true
}
