package collector

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/xhep/xhep/hep/sip"
)

func histogram(t *testing.T, h prometheus.Histogram) (count uint64, sum float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func decodeSIP(t *testing.T, b []byte) *sip.Message {
	t.Helper()
	var m sip.Message
	if err := m.DecodeFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestInviteTable(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	tab := newInviteTable(2, time.Minute, m)
	t0 := time.Unix(1700000000, 0)
	var key []byte
	obs := func(b []byte, at time.Time) { key = tab.observe(decodeSIP(t, b), at, key) }

	obs(sipMsg("INVITE sip:b@h SIP/2.0", "c1", "1 INVITE"), t0)
	obs(sipMsg("INVITE sip:b@h SIP/2.0", "c1", "1 INVITE"), t0.Add(500*time.Millisecond)) // retransmission keeps t0
	obs(sipMsg("SIP/2.0 100 Trying", "c1", "1 INVITE"), t0.Add(100*time.Millisecond))
	obs(sipMsg("SIP/2.0 180 Ringing", "c1", "1 INVITE"), t0.Add(2*time.Second))
	obs(sipMsg("SIP/2.0 200 OK", "c1", "1 INVITE"), t0.Add(5*time.Second))
	obs(sipMsg("SIP/2.0 200 OK", "c1", "1 INVITE"), t0.Add(6*time.Second)) // retransmitted 200: entry gone
	obs(sipMsg("SIP/2.0 200 OK", "c1", "2 INVITE"), t0)                    // re-INVITE never seen
	n, sum := histogram(t, m.inviteFirst)
	if diff := cmp.Diff([]any{uint64(1), 0.1}, []any{n, sum}); diff != "" {
		t.Errorf("first response (-want +got):\n%s", diff)
	}
	n, sum = histogram(t, m.invite200)
	if diff := cmp.Diff([]any{uint64(1), 5.0}, []any{n, sum}); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if tab.len() != 0 {
		t.Errorf("table holds %d entries after the 200", tab.len())
	}

	// A busy call: the 486 ends the transaction, no answer time.
	obs(sipMsg("INVITE sip:b@h SIP/2.0", "c2", "1 INVITE"), t0)
	obs(sipMsg("SIP/2.0 486 Busy Here", "c2", "1 INVITE"), t0.Add(time.Second))
	if tab.len() != 0 {
		t.Errorf("486 left the entry in the table")
	}
	// The table is bounded: the third open INVITE is refused and counted.
	for _, c := range []string{"c3", "c4", "c5"} {
		obs(sipMsg("INVITE sip:b@h SIP/2.0", c, "1 INVITE"), t0)
	}
	if tab.len() != 2 || counter(t, m.kpiEvicted) != 1 {
		t.Errorf("len %d evicted %v, want 2 and 1", tab.len(), counter(t, m.kpiEvicted))
	}
	// Expiry by wall time drops the unanswered ones and counts them.
	tab.expire(time.Now().Add(2 * time.Minute))
	if tab.len() != 0 || counter(t, m.kpiEvicted) != 3 {
		t.Errorf("after expiry: len %d evicted %v, want 0 and 3", tab.len(), counter(t, m.kpiEvicted))
	}

	// REGISTER outcomes.
	obs(sipMsg("SIP/2.0 401 Unauthorized", "r1", "1 REGISTER"), t0)
	obs(sipMsg("SIP/2.0 200 OK", "r1", "2 REGISTER"), t0)
	obs(sipMsg("SIP/2.0 403 Forbidden", "r2", "1 REGISTER"), t0)
	got := map[string]float64{}
	for _, o := range []string{"success", "challenge", "failure"} {
		got[o] = counter(t, m.register.WithLabelValues(o))
	}
	if diff := cmp.Diff(map[string]float64{"success": 1, "challenge": 1, "failure": 1}, got); diff != "" {
		t.Errorf("REGISTER outcomes (-want +got):\n%s", diff)
	}
}
