package agent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/agent/send"
)

func TestDropWatch(t *testing.T) {
	sum := func(queueFull, ring uint64) Summary {
		return Summary{Drops: map[string]uint64{"queue": ring},
			Send: &send.Stats{Queues: []send.QueueStats{{DropQueueFull: queueFull}, {DropSpoolFull: ring}}}}
	}
	t0 := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	w := DropWatch{Every: 10 * time.Second}
	steps := []struct {
		at     time.Duration
		s      Summary
		want   map[string]uint64
		report bool
	}{
		{0, sum(0, 0), nil, false},
		{time.Second, sum(100, 0), map[string]uint64{"queue_full": 100}, true}, // first growth: at once
		{2 * time.Second, sum(500, 3), nil, false},                             // within Every: held back
		{11 * time.Second, sum(900, 3), map[string]uint64{"queue_full": 800, "queue": 3, "spool_full": 3}, true},
		{30 * time.Second, sum(900, 3), nil, false}, // nothing new
		{31 * time.Second, sum(901, 3), map[string]uint64{"queue_full": 1}, true},
	}
	for i, st := range steps {
		got, ok := w.Check(t0.Add(st.at), st.s)
		if ok != st.report {
			t.Fatalf("step %d: reported %v, want %v", i, ok, st.report)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Fatalf("step %d: drops (-want +got):\n%s", i, diff)
		}
	}
}
