//go:build !linux

package bench

import "time"

// threadCPU is not available here: 0 makes the CPU figures fall back to
// wall time.
func threadCPU() time.Duration { return 0 }
