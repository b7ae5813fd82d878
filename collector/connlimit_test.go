package collector

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// dialIdle opens n TCP connections from the loopback address src to addr
// and leaves them silent; they are closed at cleanup.
func dialIdle(t *testing.T, src, addr string, n int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		t.Cleanup(func() { c.Close() })
	}
}

// TestTCPConnectionLimits: thousands of idle HEP connections from one
// source and from several are held to the per-source and total limits, the
// refusals are counted, and the HTTP side (an API handler and /metrics)
// keeps answering.
func TestTCPConnectionLimits(t *testing.T) {
	s, _ := startService(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, TCPMaxConns: 1500, TCPMaxConnsPerSource: 1000, TCPEvictIdle: time.Hour})
	s.Mux().HandleFunc("/api/v1/ping", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	addr := addrOf(t, s, "tcp")

	dialIdle(t, "127.0.0.1", addr, 2500) // 1000 taken, 1500 refused (per source)
	dialIdle(t, "127.0.0.2", addr, 400)  // taken: 1400 open
	dialIdle(t, "127.0.0.3", addr, 400)  // 100 taken, 300 refused (total)
	waitMetric(t, s, func(m string) bool {
		return metricValue(m, "xhep_collector_stream_connections_accepted_total") >= 3300
	})
	waitMetric(t, s, func(m string) bool {
		return metricValue(m, "xhep_collector_stream_connections") == 1500
	})
	m := metricsText(t, s)
	if got := metricValue(m, `xhep_collector_ingest_errors_total{reason="conn_limit_source",transport="tcp"}`); got != 1500 {
		t.Errorf("per-source refusals %v, want 1500", got)
	}
	if got := metricValue(m, `xhep_collector_ingest_errors_total{reason="conn_limit_total",transport="tcp"}`); got != 300 {
		t.Errorf("total refusals %v, want 300", got)
	}
	resp, err := http.Get("http://" + s.HTTPAddr().String() + "/api/v1/ping")
	if err != nil {
		t.Fatalf("API while HEP connections are at their limit: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "pong" {
		t.Errorf("API answer %q", b)
	}
}

// TestTCPIdleEvictedUnderPressure: at the total limit a new connection
// closes the one idle longest (silent past TCPEvictIdle) instead of being
// refused; evictions are counted.
func TestTCPIdleEvictedUnderPressure(t *testing.T) {
	s, _ := startService(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, TCPMaxConns: 100, TCPEvictIdle: 50 * time.Millisecond})
	addr := addrOf(t, s, "tcp")
	dialIdle(t, "127.0.0.1", addr, 100)
	waitMetric(t, s, func(m string) bool { return metricValue(m, "xhep_collector_stream_connections") == 100 })
	time.Sleep(100 * time.Millisecond)
	dialIdle(t, "127.0.0.2", addr, 10)
	waitMetric(t, s, func(m string) bool {
		return metricValue(m, `xhep_collector_ingest_errors_total{reason="idle_evicted",transport="tcp"}`) == 10
	})
	// The evicted ones' readers return and are counted out.
	waitMetric(t, s, func(m string) bool { return metricValue(m, "xhep_collector_stream_connections") == 100 })
	m := metricsText(t, s)
	if got := metricValue(m, `xhep_collector_ingest_errors_total{reason="conn_limit_total",transport="tcp"}`); got > 0 {
		t.Errorf("%v refused although idle ones could be closed", got)
	}
}
