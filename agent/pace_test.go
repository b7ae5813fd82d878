package agent

import (
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xhep/xhep/agent/source"
)

// sliceSource hands out frames from memory.
type sliceSource struct {
	frames []source.Frame
	i      int
	closed atomic.Bool // Close may come from another goroutine
}

func (s *sliceSource) Read(f *source.Frame) error {
	if s.closed.Load() {
		return source.ErrClosed
	}
	if s.i == len(s.frames) {
		return io.EOF
	}
	*f = s.frames[s.i]
	s.i++
	return nil
}

func (s *sliceSource) Close() error { s.closed.Store(true); return nil }

// TestPaced checks the lower bound only (a loaded machine may be slower,
// never faster): frames 0, 60 and 120 ms apart in capture time take at
// least 120 ms at speed 1 and at least 12 ms at speed 10; time going
// backwards is not waited for.
func TestPaced(t *testing.T) {
	const ms = int64(time.Millisecond)
	frames := []source.Frame{{TS: 1000 * ms}, {TS: 1060 * ms}, {TS: 1000 * ms}, {TS: 1120 * ms}}
	for _, tc := range []struct {
		speed float64
		least time.Duration
	}{{1, 120 * time.Millisecond}, {10, 12 * time.Millisecond}} {
		src := Paced(&sliceSource{frames: frames}, tc.speed)
		start := time.Now()
		var f source.Frame
		n := 0
		for src.Read(&f) == nil {
			n++
		}
		if d := time.Since(start); d < tc.least || n != len(frames) {
			t.Errorf("speed %v: %d frames in %v, want %d in at least %v", tc.speed, n, d, len(frames), tc.least)
		}
	}
	// Close ends a wait.
	src := Paced(&sliceSource{frames: []source.Frame{{TS: 0}, {TS: int64(time.Hour)}}}, 1)
	var f source.Frame
	src.Read(&f)
	go func() { time.Sleep(10 * time.Millisecond); src.Close() }()
	if err := src.Read(&f); !errors.Is(err, source.ErrClosed) {
		t.Errorf("Read during Close = %v, want ErrClosed", err)
	}
}
