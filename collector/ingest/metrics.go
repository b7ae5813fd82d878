package ingest

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descMessages = prometheus.NewDesc("xhep_collector_received_messages_total",
		"HEP messages received, by transport.", []string{"transport"}, nil)
	descBytes = prometheus.NewDesc("xhep_collector_received_bytes_total",
		"HEP message bytes received, by transport.", []string{"transport"}, nil)
	descErrors = prometheus.NewDesc("xhep_collector_ingest_errors_total",
		"Listener errors (framing, read, truncated datagrams, idle timeouts, TLS handshakes), by transport and reason.",
		[]string{"transport", "reason"}, nil)
	descUDPDrops = prometheus.NewDesc("xhep_collector_udp_socket_drops_total",
		"Datagrams the kernel dropped on the collector's UDP sockets (receive buffer full), from SO_MEMINFO.", nil, nil)
	descAccepted = prometheus.NewDesc("xhep_collector_stream_connections_accepted_total",
		"TCP and TLS connections accepted, including those then refused by the connection limits (counted in ingest_errors_total).", nil, nil)
	descOpen = prometheus.NewDesc("xhep_collector_stream_connections",
		"TCP and TLS connections open now.", nil, nil)
	descSkipped = prometheus.NewDesc("xhep_collector_stream_skipped_bytes_total",
		"Bytes of TCP and TLS streams skipped as not part of a HEP message.", nil, nil)
	descRcvBuf = prometheus.NewDesc("xhep_collector_udp_rcvbuf_bytes",
		"Receive buffer the kernel granted a UDP listener socket (as getsockopt SO_RCVBUF reports it).",
		[]string{"addr"}, nil)
)

// Collector returns a Prometheus collector that exports [Server.Stats]
// and each UDP listener's receive buffer. Register it once.
func (s *Server) Collector() prometheus.Collector { return (*collector)(s) }

type collector Server

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descBytes, descErrors, descUDPDrops, descAccepted, descOpen, descSkipped, descRcvBuf} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	st := s.Stats()
	for t, v := range st.Messages {
		ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(v), t)
	}
	for t, v := range st.Bytes {
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(v), t)
	}
	for k, v := range st.Errors {
		t, reason, _ := strings.Cut(k, "/")
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(v), t, reason)
	}
	ch <- prometheus.MustNewConstMetric(descUDPDrops, prometheus.CounterValue, float64(st.UDPDrops))
	ch <- prometheus.MustNewConstMetric(descAccepted, prometheus.CounterValue, float64(st.Accepted))
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(st.OpenConns))
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(st.Skipped))
	for _, g := range s.udp {
		ch <- prometheus.MustNewConstMetric(descRcvBuf, prometheus.GaugeValue, float64(g.status.RcvBuf), g.status.Addr.String())
	}
}
