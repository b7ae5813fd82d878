//go:build !unix

package send

import "time"

// processCPU is not measured here: cpu-ns/msg is not reported.
func processCPU() time.Duration { return 0 }
