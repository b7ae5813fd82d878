//go:build !linux

package dissect

import "time"

// threadCPU is not available off Linux; the cpu-ns/op metric reads 0.
func threadCPU() time.Duration { return 0 }
