//go:build !linux

package bench

import "io"

// LiveChildEnv, when set in the environment, makes LiveChildMain the
// program.
const LiveChildEnv = "XHEP_BENCH_LIVE_AGENT"

// LiveChildMain is the live run's agent process; Linux only.
func LiveChildMain(stdin io.Reader, stdout, stderr io.Writer) int {
	io.WriteString(stderr, "xhep-bench: live capture needs Linux\n")
	return 1
}

func (s *suite) live() {
	s.skip("agent", "live ringbuf capture on veth", "live capture needs Linux")
}

func (s *suite) mixed() {
	s.skip("mixed", "mixed RTP + SIP on veth", "live capture needs Linux")
}

func (s *suite) rtpLive() {
	s.skip("rtp", "RTP statistics live on veth", "live capture needs Linux")
}
