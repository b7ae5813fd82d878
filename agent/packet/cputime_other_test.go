//go:build !linux

package packet

// threadCPU is not available here: benchmarks report wall-clock rates only.
func threadCPU() (elapsed func() int64, ok bool) { return nil, false }
