//go:build !linux

package bench

func (s *suite) microFilter() {
	s.skip("micro", "in-kernel filter (XDP, prog.Benchmark)", "BPF needs Linux")
}
