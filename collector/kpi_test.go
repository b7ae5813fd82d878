package collector

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/xhep/xhep/collector/alias"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtcp"

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

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

func decodeSIP(t *testing.T, b []byte) *sip.Message {
	t.Helper()
	var m sip.Message
	if err := m.DecodeFromBytes(b); err != nil {
		t.Fatal(err)
	}
	return &m
}

// sipFrom builds a SIP message with a To tag (or none) and a Via branch.
func sipFull(first, callID, cseq, toTag, branch string) []byte {
	to := "<sip:bob@b.example>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	s := first + "\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-" + branch + "\nFrom: <sip:alice@a.example>;tag=1\nTo: " + to +
		"\nCall-ID: " + callID + "\nCSeq: " + cseq + "\nContent-Length: 0\n\n"
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

// kpiEnv drives a kpiTable with messages between a phone (10.0.0.1) and
// peers.
type kpiEnv struct {
	t   *testing.T
	m   *metrics
	tab *kpiTable
	key []byte
}

func newKPIEnv(t *testing.T, cfg kpiConfig) *kpiEnv {
	if cfg.Aliases == nil {
		var err error
		cfg.Aliases, err = alias.Parse([]string{"192.0.2.0/24=trunk-a", "198.51.100.7=trunk-b", "203.0.113.0/24=trunk-c"})
		if err != nil {
			t.Fatal(err)
		}
	}
	if cfg.MaxPeers == 0 {
		cfg.MaxPeers = 64
	}
	if cfg.MaxNodes == 0 {
		cfg.MaxNodes = 64
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = time.Hour
	}
	if cfg.Max == 0 {
		cfg.Max = 1000
	}
	m := newMetrics(prometheus.NewRegistry())
	return &kpiEnv{t: t, m: m, tab: newKPITable(cfg, m)}
}

// send observes b sent from src to dst on node at at.
func (e *kpiEnv) send(node uint32, src, dst string, b []byte, at time.Time) {
	e.t.Helper()
	msg := hep.Message{SrcIP: netip.MustParseAddr(src), DstIP: netip.MustParseAddr(dst), SrcPort: 5060, DstPort: 5060, NodeID: node}
	e.key = e.tab.observe(&msg, decodeSIP(e.t, b), at, e.key)
}

func TestKPICall(t *testing.T) {
	e := newKPIEnv(t, kpiConfig{})
	t0 := time.Unix(1700000000, 0)
	const phone, trunk = "10.0.0.1", "192.0.2.2"
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	inv := sipFull("INVITE sip:b@h SIP/2.0", "c1", "1 INVITE", "", "c1")
	e.send(7, phone, trunk, inv, t0)
	e.send(7, phone, trunk, inv, at(500*time.Millisecond)) // retransmission keeps t0
	e.send(7, trunk, phone, sipFull("SIP/2.0 100 Trying", "c1", "1 INVITE", "", "c1"), at(100*time.Millisecond))
	e.send(7, trunk, phone, sipFull("SIP/2.0 180 Ringing", "c1", "1 INVITE", "x", "c1"), at(2*time.Second))
	ok := sipFull("SIP/2.0 200 OK", "c1", "1 INVITE", "x", "c1")
	e.send(7, trunk, phone, ok, at(5*time.Second))
	if got := value(e.m.callsActive.WithLabelValues("7", "trunk-a")); got != 1 {
		t.Errorf("active calls after 200 = %v, want 1", got)
	}
	e.send(7, trunk, phone, ok, at(5500*time.Millisecond)) // retransmitted 200
	e.send(7, phone, trunk, sipFull("ACK sip:b@h SIP/2.0", "c1", "1 ACK", "x", "c1a"), at(5600*time.Millisecond))
	// A re-INVITE inside the dialog is not an attempt.
	e.send(7, phone, trunk, sipFull("INVITE sip:b@h SIP/2.0", "c1", "2 INVITE", "x", "c1r"), at(10*time.Second))
	e.send(7, trunk, phone, sipFull("SIP/2.0 200 OK", "c1", "2 INVITE", "x", "c1r"), at(10100*time.Millisecond))
	e.send(7, phone, trunk, sipFull("BYE sip:b@h SIP/2.0", "c1", "3 BYE", "x", "c1b"), at(65*time.Second))
	e.send(7, trunk, phone, sipFull("SIP/2.0 200 OK", "c1", "3 BYE", "x", "c1b"), at(65100*time.Millisecond))

	// Failed calls, each to its outcome; c6 goes to a peer not in the map.
	for i, c := range []struct{ id, dst, code string }{
		{"c2", trunk, "486 Busy Here"}, {"c3", trunk, "503 Service Unavailable"},
		{"c4", trunk, "302 Moved"}, {"c5", trunk, "487 Request Terminated"}, {"c6", "10.9.9.9", "404 Not Found"},
	} {
		base := at(time.Duration(100+i) * time.Second)
		e.send(7, phone, c.dst, sipFull("INVITE sip:b@h SIP/2.0", c.id, "1 INVITE", "", c.id), base)
		e.send(7, c.dst, phone, sipFull("SIP/2.0 "+c.code, c.id, "1 INVITE", "y", c.id), base.Add(time.Second))
	}

	got := map[string]float64{}
	for _, o := range outcomeNames {
		got["outcome "+o] = value(e.m.inviteOutcomes.WithLabelValues(o, "7", "trunk-a"))
	}
	got["outcome failed other"] = value(e.m.inviteOutcomes.WithLabelValues("failed", "7", "other"))
	got["attempts"] = value(e.m.inviteAttempts.WithLabelValues("7", "trunk-a"))
	got["INVITE requests"] = value(e.m.sipRequests.WithLabelValues("INVITE", "7", "trunk-a"))
	got["INVITE retrans"] = value(e.m.sipRetrans.WithLabelValues("INVITE", "7", "trunk-a"))
	got["200 INVITE"] = value(e.m.sipResponses.WithLabelValues("INVITE", "200", "2xx", "7", "trunk-a"))
	got["200 BYE"] = value(e.m.sipResponses.WithLabelValues("BYE", "200", "2xx", "7", "trunk-a"))
	got["active"] = value(e.m.callsActive.WithLabelValues("7", "trunk-a"))
	want := map[string]float64{
		"outcome answered": 1, "outcome redirected": 1, "outcome user": 1, "outcome cancelled": 1, "outcome failed": 1,
		"outcome failed other": 1, "attempts": 5, "INVITE requests": 7, "INVITE retrans": 2, "200 INVITE": 3, "200 BYE": 1,
		"active": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	hist := func(h *prometheus.HistogramVec) []any {
		var m dto.Metric
		if err := h.WithLabelValues("7", "trunk-a").(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		return []any{m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()}
	}
	// SRD: 2 s to the 180 of c1, 1 s to each final response of c2..c5.
	if diff := cmp.Diff([]any{uint64(5), 6.0}, hist(e.m.srd)); diff != "" {
		t.Errorf("SRD (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{uint64(1), 5.0}, hist(e.m.invite200)); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{uint64(1), 60.0}, hist(e.m.callDuration)); diff != "" {
		t.Errorf("duration (-want +got):\n%s", diff)
	}
	if n := e.tab.entries(tabInvites) + e.tab.entries(tabCalls); n != 0 {
		t.Errorf("%d entries left in the tables", n)
	}
}

func TestKPIBounds(t *testing.T) {
	e := newKPIEnv(t, kpiConfig{Max: 2, MaxNodes: 1, MaxPeers: 1, CallTimeout: time.Minute})
	t0 := time.Unix(1700000000, 0)
	// Node 7 takes the only node label; node 8 folds into "other".
	e.send(7, "10.0.0.1", "192.0.2.2", sipFull("OPTIONS sip:b@h SIP/2.0", "o1", "1 OPTIONS", "", "o1"), t0)
	e.send(8, "10.0.0.1", "192.0.2.2", sipFull("OPTIONS sip:b@h SIP/2.0", "o2", "1 OPTIONS", "", "o2"), t0)
	// trunk-b is beyond --kpi-max-peers: "other".
	e.send(7, "10.0.0.1", "198.51.100.7", sipFull("OPTIONS sip:b@h SIP/2.0", "o3", "1 OPTIONS", "", "o3"), t0)
	got := map[string]float64{
		"7 trunk-a":     value(e.m.sipRequests.WithLabelValues("OPTIONS", "7", "trunk-a")),
		"other trunk-a": value(e.m.sipRequests.WithLabelValues("OPTIONS", "other", "trunk-a")),
		"7 other":       value(e.m.sipRequests.WithLabelValues("OPTIONS", "7", "other")),
		"overflow":      value(e.m.labelOverflow[0]),
	}
	if diff := cmp.Diff(map[string]float64{"7 trunk-a": 1, "other trunk-a": 1, "7 other": 1, "overflow": 1}, got); diff != "" {
		t.Errorf("label bounds (-want +got):\n%s", diff)
	}
	// Three open INVITEs in a table of two: the third is refused and counted.
	for _, c := range []string{"c3", "c4", "c5"} {
		e.send(7, "10.0.0.1", "192.0.2.2", sipFull("INVITE sip:b@h SIP/2.0", c, "1 INVITE", "", c), t0)
	}
	if n, ev := e.tab.entries(tabInvites), value(e.m.kpiEvicted[tabInvites]); n != 2 || ev != 1 {
		t.Errorf("len %d evicted %v, want 2 and 1", n, ev)
	}
	// One is answered; expiry by wall time drops the open INVITE and,
	// past the call timeout, the call without BYE.
	e.send(7, "192.0.2.2", "10.0.0.1", sipFull("SIP/2.0 200 OK", "c3", "1 INVITE", "x", "c3"), t0.Add(time.Second))
	if got := value(e.m.callsActive.WithLabelValues("7", "trunk-a")); got != 1 {
		t.Errorf("active = %v, want 1", got)
	}
	e.tab.expire(time.Now().Add(2 * time.Minute))
	if n, ev := e.tab.entries(tabInvites)+e.tab.entries(tabCalls), value(e.m.kpiEvicted[tabInvites])+value(e.m.kpiEvicted[tabCalls]); n != 0 || ev != 3 {
		t.Errorf("after expiry: %d entries, %v evicted; want 0 and 3", n, ev)
	}
	if got := value(e.m.callsActive.WithLabelValues("7", "trunk-a")); got != 0 {
		t.Errorf("active after the call timeout = %v, want 0", got)
	}
}

func TestKPIRegister(t *testing.T) {
	e := newKPIEnv(t, kpiConfig{})
	t0 := time.Unix(1700000000, 0)
	const phone, reg = "10.0.0.1", "203.0.113.5"
	ms := func(d int) time.Time { return t0.Add(time.Duration(d) * time.Millisecond) }
	// r1: challenged, then registered 800 ms after the first REGISTER.
	e.send(9, phone, reg, sipFull("REGISTER sip:h SIP/2.0", "r1", "1 REGISTER", "", "r1"), t0)
	e.send(9, reg, phone, sipFull("SIP/2.0 401 Unauthorized", "r1", "1 REGISTER", "t", "r1"), ms(100))
	e.send(9, phone, reg, sipFull("REGISTER sip:h SIP/2.0", "r1", "2 REGISTER", "", "r1b"), ms(500))
	e.send(9, reg, phone, sipFull("SIP/2.0 200 OK", "r1", "2 REGISTER", "t", "r1b"), ms(800))
	e.send(9, reg, phone, sipFull("SIP/2.0 200 OK", "r1", "2 REGISTER", "t", "r1b"), ms(900)) // retransmission: once
	// r2: refused; no RRD.
	e.send(9, phone, reg, sipFull("REGISTER sip:h SIP/2.0", "r2", "1 REGISTER", "", "r2"), t0)
	e.send(9, reg, phone, sipFull("SIP/2.0 403 Forbidden", "r2", "1 REGISTER", "t", "r2"), ms(50))
	var hm dto.Metric
	e.m.rrd.WithLabelValues("9", "trunk-c").(prometheus.Metric).Write(&hm)
	if n, sum := hm.GetHistogram().GetSampleCount(), hm.GetHistogram().GetSampleSum(); n != 1 || sum < 0.8-1e-9 || sum > 0.8+1e-9 {
		t.Errorf("RRD: %d samples, sum %v; want 1 and 0.8", n, sum)
	}
	if n := e.tab.entries(tabRegisters); n != 0 {
		t.Errorf("%d registrations left in the table", n)
	}
	got := map[string]float64{}
	for _, o := range []string{"success", "challenge", "failure"} {
		got[o] = value(e.m.register.WithLabelValues(o, "9", "trunk-c"))
	}
	if diff := cmp.Diff(map[string]float64{"success": 1, "challenge": 1, "failure": 1}, got); diff != "" {
		t.Errorf("REGISTER outcomes (-want +got):\n%s", diff)
	}
}

func TestEstimateMOS(t *testing.T) {
	for _, tc := range []struct {
		q        rtcp.Quality
		min, max float64
	}{
		{rtcp.Quality{}, 4.3, 4.45}, // perfect: R 92.95
		{rtcp.Quality{FractionLost: 0.05, Jitter: 20, RTT: 100 * time.Millisecond}, 3.9, 4.0}, // 5 % loss: R 78.2
		{rtcp.Quality{FractionLost: 0.5}, 1, 1.01},                                            // unusable
		{rtcp.Quality{RTT: 800 * time.Millisecond}, 2.5, 3.6},                                 // long delay
	} {
		if got := estimateMOS(tc.q); got < tc.min || got > tc.max {
			t.Errorf("estimateMOS(%+v) = %.3f, want %.2f..%.2f", tc.q, got, tc.min, tc.max)
		}
	}
}

// TestKPIProxyLegs: a stateful proxy keeps Call-ID and CSeq on both legs;
// each leg (its own top Via branch) is a transaction, call and peer of its
// own.
func TestKPIProxyLegs(t *testing.T) {
	e := newKPIEnv(t, kpiConfig{})
	t0 := time.Unix(1700000000, 0)
	const phone, proxy, trunk = "10.0.0.1", "10.0.0.10", "192.0.2.2"
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// A failed call: 503 from the trunk, relayed to the phone.
	e.send(1, phone, proxy, sipFull("INVITE sip:b@h SIP/2.0", "p1", "1 INVITE", "", "leg1"), t0)
	e.send(1, proxy, trunk, sipFull("INVITE sip:b@h SIP/2.0", "p1", "1 INVITE", "", "leg2"), at(10*time.Millisecond))
	e.send(1, trunk, proxy, sipFull("SIP/2.0 503 Service Unavailable", "p1", "1 INVITE", "t", "leg2"), at(time.Second))
	e.send(1, proxy, phone, sipFull("SIP/2.0 503 Service Unavailable", "p1", "1 INVITE", "t", "leg1"), at(time.Second+10*time.Millisecond))
	// An answered call through the proxy, ended by a BYE on each leg.
	e.send(1, phone, proxy, sipFull("INVITE sip:b@h SIP/2.0", "p2", "1 INVITE", "", "a1"), t0)
	e.send(1, proxy, trunk, sipFull("INVITE sip:b@h SIP/2.0", "p2", "1 INVITE", "", "a2"), t0)
	e.send(1, trunk, proxy, sipFull("SIP/2.0 200 OK", "p2", "1 INVITE", "t", "a2"), at(2*time.Second))
	e.send(1, proxy, phone, sipFull("SIP/2.0 200 OK", "p2", "1 INVITE", "t", "a1"), at(2*time.Second))
	if got := value(e.m.callsActive.WithLabelValues("1", "trunk-a")) + value(e.m.callsActive.WithLabelValues("1", "other")); got != 2 {
		t.Errorf("active calls = %v, want 2 (one per leg)", got)
	}
	e.send(1, phone, proxy, sipFull("BYE sip:b@h SIP/2.0", "p2", "2 BYE", "t", "b1"), at(12*time.Second))
	e.send(1, proxy, trunk, sipFull("BYE sip:b@h SIP/2.0", "p2", "2 BYE", "t", "b2"), at(12*time.Second))
	got := map[string]float64{}
	for _, p := range []string{"other", "trunk-a"} {
		got["attempts "+p] = value(e.m.inviteAttempts.WithLabelValues("1", p))
		got["failed "+p] = value(e.m.inviteOutcomes.WithLabelValues("failed", "1", p))
		got["answered "+p] = value(e.m.inviteOutcomes.WithLabelValues("answered", "1", p))
		got["active "+p] = value(e.m.callsActive.WithLabelValues("1", p))
	}
	want := map[string]float64{
		"attempts other": 2, "attempts trunk-a": 2, "failed other": 1, "failed trunk-a": 1,
		"answered other": 1, "answered trunk-a": 1, "active other": 0, "active trunk-a": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per leg (-want +got):\n%s", diff)
	}
	var m dto.Metric
	e.m.callDuration.WithLabelValues("1", "trunk-a").(prometheus.Metric).Write(&m)
	if n, sum := m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum(); n != 1 || sum != 10 {
		t.Errorf("trunk leg duration: %d samples, sum %v; want 1 and 10", n, sum)
	}
}

// BenchmarkKPIObserve measures the KPI tables per SIP message over whole
// calls (INVITE, 100, 180, 200, ACK, BYE, 200; unique Call-IDs, so no
// message is a retransmission): ns per message, and allocations (the
// INVITE and call entries allocate, once per call).
func BenchmarkKPIObserve(b *testing.B) {
	const calls = 2000
	type item struct {
		msg hep.Message
		sip *sip.Message
	}
	var items []item
	phone, trunk := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.2")
	for i := range calls {
		id := "bench-" + strconv.Itoa(i)
		for _, m := range []struct {
			first, cseq, tag, branch string
			req                      bool
		}{
			{"INVITE sip:b@h SIP/2.0", "1 INVITE", "", "i", true}, {"SIP/2.0 100 Trying", "1 INVITE", "", "i", false},
			{"SIP/2.0 180 Ringing", "1 INVITE", "x", "i", false}, {"SIP/2.0 200 OK", "1 INVITE", "x", "i", false},
			{"ACK sip:b@h SIP/2.0", "1 ACK", "x", "a", true}, {"BYE sip:b@h SIP/2.0", "2 BYE", "x", "b", true},
			{"SIP/2.0 200 OK", "2 BYE", "x", "b", false},
		} {
			var s sip.Message
			if err := s.DecodeFromBytes(sipFull(m.first, id, m.cseq, m.tag, m.branch+id)); err != nil {
				b.Fatal(err)
			}
			h := hep.Message{SrcIP: phone, DstIP: trunk, SrcPort: 5060, DstPort: 5060, NodeID: 1}
			if !m.req {
				h.SrcIP, h.DstIP = trunk, phone
			}
			items = append(items, item{h, &s})
		}
	}
	aliases, _ := alias.Parse([]string{"192.0.2.0/24=trunk-a"})
	cfg := kpiConfig{Aliases: aliases, MaxPeers: 64, MaxNodes: 64, Window: time.Minute, CallTimeout: time.Hour, Max: 200_000}
	m := newMetrics(prometheus.NewRegistry())
	at := time.Unix(1700000000, 0)
	var key []byte
	b.ReportAllocs()
	tab := newKPITable(cfg, m)
	i := 0
	for b.Loop() {
		if i == len(items) {
			b.StopTimer()
			tab, i = newKPITable(cfg, m), 0
			b.StartTimer()
		}
		key = tab.observe(&items[i].msg, items[i].sip, at, key)
		i++
	}
}

// TestKPIPortPeer: one host with two port aliases labels its calls as two
// peers; a port without an alias falls back to the host's port-less one.
func TestKPIPortPeer(t *testing.T) {
	am, err := alias.Parse([]string{"192.0.2.2:5080=trunk-x", "192.0.2.2:5090=trunk-y", "192.0.2.2=host"})
	if err != nil {
		t.Fatal(err)
	}
	e := newKPIEnv(t, kpiConfig{Aliases: am})
	t0 := time.Unix(1700000000, 0)
	send := func(src, dst netip.AddrPort, b []byte) {
		msg := hep.Message{SrcIP: src.Addr(), DstIP: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(), NodeID: 7}
		e.key = e.tab.observe(&msg, decodeSIP(t, b), t0, e.key)
	}
	phone := netip.MustParseAddrPort("10.0.0.1:5060")
	for i, port := range []uint16{5080, 5090, 5070} {
		id := fmt.Sprintf("pp%d", i)
		peer := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port)
		send(phone, peer, sipFull("INVITE sip:b@h SIP/2.0", id, "1 INVITE", "", id))
		send(peer, phone, sipFull("SIP/2.0 200 OK", id, "1 INVITE", "x", id))
	}
	for _, peer := range []string{"trunk-x", "trunk-y", "host"} {
		if got := value(e.m.callsActive.WithLabelValues("7", peer)); got != 1 {
			t.Errorf("active calls of %s = %v, want 1", peer, got)
		}
	}
}
