package agent

import (
	"maps"
	"time"
)

// DropWatch tells a long-running loop when to report drops while they
// happen, not only at exit: [DropWatch.Check] compares a [Summary] with the
// one last reported and returns what grew, by reason, at most once per
// Every (default 10 s), so a sustained overload gives one line every Every
// and not one per lost message. The reasons are the pipeline's own drops
// (Summary.Drops) and the senders' queue drops (queue_full, spool_full,
// spool_error, after_close). Not safe for concurrent use.
type DropWatch struct {
	Every time.Duration

	last   map[string]uint64 // counts at the last report
	lastAt time.Time
}

// DropCounts returns the summary's drops by reason (zero counts left out).
func DropCounts(s Summary) map[string]uint64 {
	out := make(map[string]uint64)
	add := func(k string, n uint64) {
		if n > 0 {
			out[k] += n
		}
	}
	for k, n := range s.Drops {
		add(k, n)
	}
	if s.Send != nil {
		for _, q := range s.Send.Queues {
			add("queue_full", q.DropQueueFull)
			add("spool_full", q.DropSpoolFull)
			add("spool_error", q.DropSpoolError)
			add("after_close", q.DropClosed)
		}
	}
	return out
}

// Check returns the drops by reason since the last report, and true, when
// some grew and the last report is at least Every old (the first growth is
// reported at once).
func (w *DropWatch) Check(now time.Time, s Summary) (map[string]uint64, bool) {
	every := w.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	cur := DropCounts(s)
	if w.last != nil && now.Sub(w.lastAt) < every {
		return nil, false
	}
	delta := make(map[string]uint64)
	for k, n := range cur {
		if d := n - w.last[k]; n > w.last[k] && d > 0 {
			delta[k] = d
		}
	}
	if len(delta) == 0 {
		if w.last == nil {
			w.last = maps.Clone(cur) // drops before the first check are not news later
		}
		return nil, false
	}
	w.last, w.lastAt = cur, now
	return delta, true
}
