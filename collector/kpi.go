package collector

import (
	"strconv"
	"sync"
	"time"

	"github.com/xhep/xhep/hep/sip"
)

// inviteTable remembers when each INVITE transaction (Call-ID and CSeq
// number) was captured, so the first response and the 200 OK can be timed.
// It is bounded: entries expire after window and a full table refuses new
// INVITEs; both count as evicted. Times are the messages' capture times,
// so the figures are right whatever the delivery delay. Safe for
// concurrent use.
type inviteTable struct {
	mu      sync.Mutex
	m       map[string]*inviteEntry
	max     int
	window  time.Duration
	metrics *metrics
}

type inviteEntry struct {
	at        time.Time // capture time of the INVITE
	seen      time.Time // wall time it was seen, for expiry
	responded bool
}

func newInviteTable(max int, window time.Duration, m *metrics) *inviteTable {
	return &inviteTable{m: make(map[string]*inviteEntry), max: max, window: window, metrics: m}
}

// key appends the table key of a message to buf: Call-ID, a space and the
// CSeq number.
func inviteKey(buf []byte, s *sip.Message) []byte {
	buf = append(buf[:0], s.CallID...)
	buf = append(buf, ' ')
	return strconv.AppendUint(buf, uint64(s.CSeqNum), 10)
}

// observe updates the KPIs with a SIP message captured at t. key is
// scratch space; observe returns it grown, for reuse.
func (t *inviteTable) observe(s *sip.Message, at time.Time, key []byte) []byte {
	m := t.metrics
	if s.IsRequest {
		m.request(s.Method)
		if string(s.Method) != "INVITE" || len(s.CallID) == 0 {
			return key
		}
		key = inviteKey(key, s)
		t.mu.Lock()
		if _, ok := t.m[string(key)]; !ok { // a retransmission keeps the first time
			if len(t.m) < t.max {
				t.m[string(key)] = &inviteEntry{at: at, seen: time.Now()}
			} else {
				m.kpiEvicted.Inc()
			}
		}
		t.mu.Unlock()
		return key
	}
	m.response(s.StatusCode)
	switch string(s.CSeqMethod) {
	case "REGISTER":
		switch {
		case s.StatusCode >= 200 && s.StatusCode < 300:
			m.register.WithLabelValues("success").Inc()
		case s.StatusCode == 401 || s.StatusCode == 407:
			m.register.WithLabelValues("challenge").Inc()
		case s.StatusCode >= 300:
			m.register.WithLabelValues("failure").Inc()
		}
	case "INVITE":
		key = inviteKey(key, s)
		t.mu.Lock()
		e := t.m[string(key)]
		if e == nil {
			t.mu.Unlock()
			return key
		}
		d := at.Sub(e.at).Seconds()
		first := !e.responded
		e.responded = true
		final := s.StatusCode >= 200
		if final {
			delete(t.m, string(key))
		}
		t.mu.Unlock()
		if first && d >= 0 {
			m.inviteFirst.Observe(d)
		}
		if s.StatusCode == 200 && d >= 0 {
			m.invite200.Observe(d)
		}
	}
	return key
}

// expire drops entries seen longer than the window before now (wall
// time, so replayed captures expire like live traffic) and counts the
// unanswered ones.
func (t *inviteTable) expire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.m {
		if now.Sub(e.seen) > t.window {
			if !e.responded {
				t.metrics.kpiEvicted.Inc()
			}
			delete(t.m, k)
		}
	}
}

// len returns the number of INVITEs tracked.
func (t *inviteTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
