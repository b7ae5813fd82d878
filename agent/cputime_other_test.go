//go:build !unix

package agent

import "time"

// cpuTime is not measured here; pkts/cpu-s then reports +Inf.
func cpuTime() time.Duration { return 0 }
