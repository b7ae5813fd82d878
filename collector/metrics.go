package collector

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
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
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_collector_messages_total",
			Help: "HEP messages decoded, by HEP payload type and transport.",
		}, []string{"type", "transport"}),
		decodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_collector_decode_errors_total",
			Help: "Received messages that are not valid HEP (dropped), by transport and reason.",
		}, []string{"transport", "reason"}),
		dissectErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_collector_dissect_errors_total",
			Help: "HEP payloads that did not dissect (stored with an error mark), by reason.",
		}, []string{"reason"}),
		authRejects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_collector_auth_rejects_total",
			Help: "HEP messages dropped because they lack the configured auth key.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_collector_write_errors_total",
			Help: "Rows the store refused (closed or over its bounds); the store counts its own drops too.",
		}),
		noPayload: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_collector_no_payload_total",
			Help: "HEP messages without a payload chunk and empty datagrams (keep-alives, reachability probes): counted, not stored.",
		}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_collector_forwarded_total",
			Help: "HEP messages forwarded, by destination.",
		}, []string{"destination"}),
		forwardDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_collector_forward_drops_total",
			Help: "HEP messages not forwarded (queue full or send error), by destination.",
		}, []string{"destination"}),
		sipRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_requests_total",
			Help: "SIP requests seen, retransmissions included, by method (unknown methods as \"other\"), capture node and peer.",
		}, []string{"method", "node", "peer"}),
		sipResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_responses_total",
			Help: "SIP responses seen, retransmissions included, by CSeq method, status code, class (1xx-6xx), capture node and peer.",
		}, []string{"method", "code", "class", "node", "peer"}),
		sipRetrans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_retransmissions_total",
			Help: "SIP requests and responses seen again within 32 s on the same node and addresses (same Call-ID, CSeq, method or code, top Via branch), by CSeq method, node and peer.",
		}, []string{"method", "node", "peer"}),
		inviteAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_invite_attempts_total",
			Help: "Initial INVITE transactions (no To tag; retransmissions once), by node and peer: the seizures of ASR.",
		}, []string{"node", "peer"}),
		inviteOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_invite_outcomes_total",
			Help: "Final responses to initial INVITEs, once per transaction, by outcome: answered (2xx), redirected (3xx), user (486/480/600/603), cancelled (487), failed (other 4xx-6xx).",
		}, []string{"outcome", "node", "peer"}),
		srd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_sip_srd_seconds",
			Help:    "Session request delay (RFC 6076 SRD, post-dial delay at the capture point): initial INVITE to its first 18x or final response (100 Trying excluded), by capture timestamps.",
			Buckets: setup,
		}, []string{"node", "peer"}),
		rrd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_sip_rrd_seconds",
			Help:    "Registration request delay (RFC 6076 RRD): first REGISTER of a registration (same Call-ID, through 401/407 challenges) to its 2xx, by capture timestamps.",
			Buckets: setup,
		}, []string{"node", "peer"}),
		invite200: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_sip_invite_answer_seconds",
			Help:    "Time from an initial INVITE to its 2xx, by capture timestamps.",
			Buckets: setup,
		}, []string{"node", "peer"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_sip_call_duration_seconds",
			Help:    "Session duration (RFC 6076 SDT) of answered calls: 2xx of the initial INVITE to the first BYE, by capture timestamps; sum/count is the ACD.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
		}, []string{"node", "peer"}),
		callsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xhep_sip_calls_active",
			Help: "Answered calls without BYE yet (concurrent calls), by node and peer; calls older than --kpi-call-timeout are dropped.",
		}, []string{"node", "peer"}),
		register: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_register_responses_total",
			Help: "Final responses to REGISTER (retransmissions once) by outcome: success (2xx), challenge (401/407), failure (other 3xx-6xx).",
		}, []string{"outcome", "node", "peer"}),
		rtcpJitter: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_jitter_seconds",
			Help:    "Interarrival jitter of the first RTCP report block, assuming an 8 kHz RTP clock, by node.",
			Buckets: []float64{.001, .002, .005, .01, .02, .03, .05, .075, .1, .2, .5},
		}, []string{"node"}),
		rtcpLoss: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_fraction_lost",
			Help:    "Fraction lost (0-1) of RTCP report blocks or XR VoIP metrics, by node.",
			Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2, .5, 1},
		}, []string{"node"}),
		rtcpRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_rtt_seconds",
			Help:    "Round-trip time from RTCP LSR/DLSR (or XR round trip delay), by node.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .2, .5, 1, 2},
		}, []string{"node"}),
		rtcpMOS: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_mos",
			Help:    "Listening quality MOS (1-4.5) per RTCP report: XR MOS-CQ when sent, else estimated by the simplified E-model from loss, jitter and RTT, by node.",
			Buckets: []float64{1, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.4, 4.5},
		}, []string{"node"}),
		rtcpReports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_rtcp_reports_total",
			Help: "RTCP packets with a report block or XR VoIP metrics (what the RTCP histograms observe), by node.",
		}, []string{"node"}),
		rtpMOS: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_rtp_stream_mos",
			Help:    "MEAN_MOS of each RTP stream at its final HEP type 34 report (agent --rtp-stats, G.107 E-model).",
			Buckets: []float64{1, 2, 2.5, 3, 3.5, 3.6, 3.8, 4, 4.2, 4.4, 4.5},
		}),
		rtpLoss: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_rtp_stream_loss_ratio",
			Help:    "Lost / expected packets (0-1) of each RTP stream at its final HEP type 34 report.",
			Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2, .5, 1},
		}),
		rtpReports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_rtp_reports_total",
			Help: "HEP type 34 RTP quality reports received, by TYPE (PERIODIC, HANGUP, TIMEOUT, END, invalid).",
		}, []string{"type"}),
		dissectC: make(map[string]prometheus.Counter),
	}
	for _, t := range []string{"PERIODIC", "HANGUP", "TIMEOUT", "END", "invalid"} {
		m.rtpReports.WithLabelValues(t)
	}
	evicted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xhep_sip_kpi_evicted_total",
		Help: "KPI table entries dropped: INVITEs unanswered within --kpi-window, answered calls without BYE past --kpi-call-timeout, and entries refused because a table was full (--kpi-max), by table.",
	}, []string{"table"})
	for i, n := range tableNames {
		m.kpiEvicted[i] = evicted.WithLabelValues(n)
	}
	overflow := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "xhep_sip_kpi_label_overflow_total",
		Help: "SIP and RTCP messages labelled node=\"other\" because --kpi-max-nodes distinct nodes were seen already (or the node name is not a safe label value).",
	}, []string{"label"})
	m.labelOverflow[0] = overflow.WithLabelValues("node")
	// Series with a fixed label set exist at 0 from the start, so that
	// alerts and ratios never read "no data".
	for _, tr := range transports {
		for _, r := range []string{"short", "not_hep", "version", "bad_length", "bad_chunk_length",
			"bad_chunk_size", "bad_family", "too_large", "decompress", "other"} {
			m.decodeErrors.WithLabelValues(tr, r)
		}
		for _, p := range []hep.ProtoType{hep.ProtoSIP, hep.ProtoRTCP, hep.ProtoDNS, hep.ProtoLog} {
			m.messages.WithLabelValues(p.String(), tr)
		}
	}
	for _, r := range []string{"sip_empty", "sip_malformed", "json_invalid"} {
		m.dissectErrs.WithLabelValues(r)
	}
	reg.MustRegister(m.messages, m.decodeErrors, m.dissectErrs, m.authRejects, m.writeErrors, m.noPayload,
		m.forwarded, m.forwardDrops, m.sipRequests, m.sipResponses, m.sipRetrans, m.inviteAttempts,
		m.inviteOutcomes, m.srd, m.rrd, m.invite200, m.callDuration, m.callsActive, m.register, evicted, overflow,
		m.rtcpJitter, m.rtcpLoss, m.rtcpRTT, m.rtcpMOS, m.rtcpReports, m.rtpMOS, m.rtpLoss, m.rtpReports)
	return m
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
