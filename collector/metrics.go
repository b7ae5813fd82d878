package collector

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// metrics are the service's Prometheus metrics. Labelled children used
// per message are cached (here for messages, in kpiTable for the SIP and
// RTCP KPIs) so the hot path does no label lookup.
type metrics struct {
	messages     *prometheus.CounterVec // type, transport
	decodeErrors *prometheus.CounterVec // transport, reason
	dissectErrs  *prometheus.CounterVec // reason
	authRejects  prometheus.Counter
	writeErrors  prometheus.Counter
	noPayload    prometheus.Counter
	forwarded    *prometheus.CounterVec // destination
	forwardDrops *prometheus.CounterVec // destination

	// SIP KPIs (kpi.go), labelled node and peer besides what is listed.
	sipRequests    *prometheus.CounterVec   // method
	sipResponses   *prometheus.CounterVec   // method, code, class
	sipRetrans     *prometheus.CounterVec   // method
	inviteAttempts *prometheus.CounterVec   //
	inviteOutcomes *prometheus.CounterVec   // outcome
	srd            *prometheus.HistogramVec //
	rrd            *prometheus.HistogramVec //
	invite200      *prometheus.HistogramVec //
	callDuration   *prometheus.HistogramVec //
	callsActive    *prometheus.GaugeVec     //
	register       *prometheus.CounterVec   // outcome
	kpiEvicted     [numTables]prometheus.Counter
	labelOverflow  [1]prometheus.Counter // node

	// RTCP quality, by node.
	rtcpJitter  *prometheus.HistogramVec
	rtcpLoss    *prometheus.HistogramVec
	rtcpRTT     *prometheus.HistogramVec
	rtcpMOS     *prometheus.HistogramVec
	rtcpReports *prometheus.CounterVec

	// RTP quality from the agents' HEP type 34 final reports (one per stream).
	rtpMOS     prometheus.Histogram
	rtpLoss    prometheus.Histogram
	rtpReports *prometheus.CounterVec // type

	// caches: [transport][proto]
	msgC [3][256]atomic.Pointer[prometheus.Counter]

	mu       sync.Mutex
	dissectC map[string]prometheus.Counter
}

var transports = [3]string{ingest.UDP, ingest.TCP, ingest.TLS}

func transportIndex(t string) int {
	switch t {
	case ingest.TCP:
		return 1
	case ingest.TLS:
		return 2
	}
	return 0
}

func newMetrics(reg prometheus.Registerer) *metrics {
	// Times in seconds: SIP set-up from 1 ms to a minute.
	setup := []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60}
	f := families{reg}
	m := &metrics{
		messages:       f.counterVec("xhep_collector_messages_total", "HEP messages decoded, by HEP payload type and transport.", "type", "transport"),
		decodeErrors:   f.counterVec("xhep_collector_decode_errors_total", "Received messages that are not valid HEP (dropped), by transport and reason.", "transport", "reason"),
		dissectErrs:    f.counterVec("xhep_collector_dissect_errors_total", "HEP payloads that did not dissect (stored with an error mark), by reason.", "reason"),
		authRejects:    f.counter("xhep_collector_auth_rejects_total", "HEP messages dropped because they lack the configured auth key."),
		writeErrors:    f.counter("xhep_collector_write_errors_total", "Rows the store refused (closed or over its bounds); the store counts its own drops too."),
		noPayload:      f.counter("xhep_collector_no_payload_total", "HEP messages without a payload chunk and empty datagrams (keep-alives, reachability probes): counted, not stored."),
		forwarded:      f.counterVec("xhep_collector_forwarded_total", "HEP messages forwarded, by destination.", "destination"),
		forwardDrops:   f.counterVec("xhep_collector_forward_drops_total", "HEP messages not forwarded (queue full or send error), by destination.", "destination"),
		sipRequests:    f.counterVec("xhep_sip_requests_total", "SIP requests seen, retransmissions included, by method (unknown methods as \"other\"), capture node and peer.", "method", "node", "peer"),
		sipResponses:   f.counterVec("xhep_sip_responses_total", "SIP responses seen, retransmissions included, by CSeq method, status code, class (1xx-6xx), capture node and peer.", "method", "code", "class", "node", "peer"),
		sipRetrans:     f.counterVec("xhep_sip_retransmissions_total", "SIP requests and responses seen again within 32 s on the same node and addresses (same Call-ID, CSeq, method or code, top Via branch), by CSeq method, node and peer.", "method", "node", "peer"),
		inviteAttempts: f.counterVec("xhep_sip_invite_attempts_total", "Initial INVITE transactions (no To tag; retransmissions once), by node and peer: the seizures of ASR.", "node", "peer"),
		inviteOutcomes: f.counterVec("xhep_sip_invite_outcomes_total", "Final responses to initial INVITEs, once per transaction, by outcome: answered (2xx), redirected (3xx), user (486/480/600/603), cancelled (487), failed (other 4xx-6xx).", "outcome", "node", "peer"),
		srd:            f.histogramVec("xhep_sip_srd_seconds", "Session request delay (RFC 6076 SRD, post-dial delay at the capture point): initial INVITE to its first 18x or final response (100 Trying excluded), by capture timestamps.", setup, "node", "peer"),
		rrd:            f.histogramVec("xhep_sip_rrd_seconds", "Registration request delay (RFC 6076 RRD): first REGISTER of a registration (same Call-ID, through 401/407 challenges) to its 2xx, by capture timestamps.", setup, "node", "peer"),
		invite200:      f.histogramVec("xhep_sip_invite_answer_seconds", "Time from an initial INVITE to its 2xx, by capture timestamps.", setup, "node", "peer"),
		callDuration:   f.histogramVec("xhep_sip_call_duration_seconds", "Session duration (RFC 6076 SDT) of answered calls: 2xx of the initial INVITE to the first BYE, by capture timestamps; sum/count is the ACD.", []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400}, "node", "peer"),
		callsActive:    f.gaugeVec("xhep_sip_calls_active", "Answered calls without BYE yet (concurrent calls), by node and peer; calls older than --kpi-call-timeout are dropped.", "node", "peer"),
		register:       f.counterVec("xhep_sip_register_responses_total", "Final responses to REGISTER (retransmissions once) by outcome: success (2xx), challenge (401/407), failure (other 3xx-6xx).", "outcome", "node", "peer"),
		rtcpJitter:     f.histogramVec("xhep_rtcp_jitter_seconds", "Interarrival jitter of the first RTCP report block, assuming an 8 kHz RTP clock, by node.", []float64{.001, .002, .005, .01, .02, .03, .05, .075, .1, .2, .5}, "node"),
		rtcpLoss:       f.histogramVec("xhep_rtcp_fraction_lost", "Fraction lost (0-1) of RTCP report blocks or XR VoIP metrics, by node.", []float64{0, .001, .005, .01, .02, .05, .1, .2, .5, 1}, "node"),
		rtcpRTT:        f.histogramVec("xhep_rtcp_rtt_seconds", "Round-trip time from RTCP LSR/DLSR (or XR round trip delay), by node.", []float64{.001, .005, .01, .025, .05, .1, .2, .5, 1, 2}, "node"),
		rtcpMOS:        f.histogramVec("xhep_rtcp_mos", "Listening quality MOS (1-4.5) per RTCP report: XR MOS-CQ when sent, else estimated by the simplified E-model from loss, jitter and RTT, by node.", []float64{1, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5}, "node"),
		rtcpReports:    f.counterVec("xhep_rtcp_reports_total", "RTCP packets with a report block or XR VoIP metrics (what the RTCP histograms observe), by node.", "node"),
		rtpMOS:         f.histogram("xhep_rtp_stream_mos", "MEAN_MOS of each RTP stream at its final HEP type 34 report (agent --rtp-stats, G.107 E-model).", []float64{1, 2, 2.5, 3, 3.5, 3.6, 3.8, 4, 4.2, 4.4, 4.5}),
		rtpLoss:        f.histogram("xhep_rtp_stream_loss_ratio", "Lost / expected packets (0-1) of each RTP stream at its final HEP type 34 report.", []float64{0, .001, .005, .01, .02, .05, .1, .2, .5, 1}),
		rtpReports:     f.counterVec("xhep_rtp_reports_total", "HEP type 34 RTP quality reports received, by TYPE (PERIODIC, HANGUP, TIMEOUT, END, invalid).", "type"),
		dissectC:       make(map[string]prometheus.Counter),
	}
	for _, t := range []string{"PERIODIC", "HANGUP", "TIMEOUT", "END", "invalid"} {
		m.rtpReports.WithLabelValues(t)
	}
	evicted := f.counterVec("xhep_sip_kpi_evicted_total", "KPI table entries dropped: INVITEs unanswered within --kpi-window, answered calls without BYE past --kpi-call-timeout, and entries refused because a table was full (--kpi-max), by table.", "table")
	for i, n := range tableNames {
		m.kpiEvicted[i] = evicted.WithLabelValues(n)
	}
	overflow := f.counterVec("xhep_sip_kpi_label_overflow_total", "SIP and RTCP messages labelled node=\"other\" because --kpi-max-nodes distinct nodes were seen already (or the node name is not a safe label value).", "label")
	m.labelOverflow[0] = overflow.WithLabelValues("node")
	// Series with a fixed label set exist at 0 from the start, so that
	// alerts and ratios never read "no data".
	for _, tr := range transports {
		for _, r := range []string{"short", "not_hep", "version", "bad_length", "bad_chunk_length",
			"bad_chunk_size", "bad_family", "too_large", "decompress", "other"} {
			m.decodeErrors.WithLabelValues(tr, r)
		}
		for _, d := range proto.All() { // every type with standard tables (hep/proto)
			if d.Standard {
				m.messages.WithLabelValues(d.Type.String(), tr)
			}
		}
	}
	for _, r := range []string{"sip_empty", "sip_malformed", "json_invalid"} {
		m.dissectErrs.WithLabelValues(r)
	}
	return m
}

// families makes the collector's metric families: the one constructor,
// which registers each family as it makes it, so a family is its name,
// help, labels (and buckets) and none can be made and left unregistered.
type families struct{ reg prometheus.Registerer }

func (f families) counter(name, help string) prometheus.Counter {
	return register(f.reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

func (f families) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(f.reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

func (f families) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return register(f.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

func (f families) histogram(name, help string, buckets []float64) prometheus.Histogram {
	return register(f.reg, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

func (f families) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(f.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	reg.MustRegister(c)
	return c
}

// message counts one decoded HEP message.
func (m *metrics) message(transport string, p hep.ProtoType) {
	slot := &m.msgC[transportIndex(transport)][p]
	c := slot.Load()
	if c == nil {
		cc := m.messages.WithLabelValues(p.String(), transport)
		c = &cc
		slot.Store(c)
	}
	(*c).Inc()
}

// dissectError counts a payload that did not dissect.
func (m *metrics) dissectError(reason string) {
	m.mu.Lock()
	c, ok := m.dissectC[reason]
	if !ok {
		c = m.dissectErrs.WithLabelValues(reason)
		m.dissectC[reason] = c
	}
	m.mu.Unlock()
	c.Inc()
}

// rtpReport is what the RTP histograms read of a HEP type 34 report.
type rtpReport struct {
	Type     string  `json:"TYPE"`
	MeanMOS  float64 `json:"MEAN_MOS"`
	Expected float64 `json:"EXPECTED_PK"`
	Lost     float64 `json:"PACKET_LOSS"`
}

// observeRTP counts one HEP type 34 report; a final one (not PERIODIC)
// feeds the per-stream MOS and loss histograms. Reports are rare (one per
// stream every few seconds): decoding them with encoding/json is fine.
func (m *metrics) observeRTP(payload []byte) {
	var r rtpReport
	if json.Unmarshal(payload, &r) != nil || r.Type == "" {
		m.rtpReports.WithLabelValues("invalid").Inc()
		return
	}
	switch r.Type {
	case "PERIODIC", "HANGUP", "TIMEOUT", "END":
	default:
		m.rtpReports.WithLabelValues("invalid").Inc()
		return
	}
	m.rtpReports.WithLabelValues(r.Type).Inc()
	if r.Type == "PERIODIC" {
		return
	}
	if r.MeanMOS >= 1 && r.MeanMOS <= 5 {
		m.rtpMOS.Observe(r.MeanMOS)
	}
	if r.Expected > 0 {
		m.rtpLoss.Observe(min(max(r.Lost/r.Expected, 0), 1))
	}
}
