package collector

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// metrics are the service's Prometheus metrics. Labelled children used
// per message are cached in arrays so the hot path does no label lookup.
type metrics struct {
	messages     *prometheus.CounterVec // type, transport
	decodeErrors *prometheus.CounterVec // transport, reason
	dissectErrs  *prometheus.CounterVec // reason
	authRejects  prometheus.Counter
	writeErrors  prometheus.Counter
	noPayload    prometheus.Counter
	forwarded    *prometheus.CounterVec // destination
	forwardDrops *prometheus.CounterVec // destination

	sipRequests  *prometheus.CounterVec // method
	sipResponses *prometheus.CounterVec // code
	inviteFirst  prometheus.Histogram
	invite200    prometheus.Histogram
	register     *prometheus.CounterVec // outcome
	kpiEvicted   prometheus.Counter
	rtcpJitter   prometheus.Histogram
	rtcpLoss     prometheus.Histogram
	rtcpRTT      prometheus.Histogram
	rtcpReports  prometheus.Counter

	// caches: [transport][proto]
	msgC [3][256]atomic.Pointer[prometheus.Counter]

	mu       sync.Mutex
	reqC     map[string]prometheus.Counter
	respC    [700]atomic.Pointer[prometheus.Counter]
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

// sipMethods bounds the method label: anything else counts as "other".
var sipMethods = map[string]bool{
	"INVITE": true, "ACK": true, "BYE": true, "CANCEL": true, "REGISTER": true, "OPTIONS": true,
	"PRACK": true, "SUBSCRIBE": true, "NOTIFY": true, "PUBLISH": true, "INFO": true, "REFER": true,
	"MESSAGE": true, "UPDATE": true,
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
			Help: "SIP requests seen, by method (unknown methods as \"other\").",
		}, []string{"method"}),
		sipResponses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_responses_total",
			Help: "SIP responses seen, by status code.",
		}, []string{"code"}),
		inviteFirst: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_sip_invite_first_response_seconds",
			Help:    "Time from an INVITE to its first response (any code), by capture timestamps.",
			Buckets: setup,
		}),
		invite200: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_sip_invite_answer_seconds",
			Help:    "Time from an INVITE to its 200 OK, by capture timestamps.",
			Buckets: setup,
		}),
		register: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_sip_register_responses_total",
			Help: "Responses to REGISTER by outcome: success (2xx), challenge (401/407), failure (other 3xx-6xx).",
		}, []string{"outcome"}),
		kpiEvicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_sip_kpi_evicted_total",
			Help: "INVITE transactions dropped from the timing table unanswered (expired or table full).",
		}),
		rtcpJitter: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_jitter_milliseconds",
			Help:    "Interarrival jitter of the first RTCP report block, in ms assuming an 8 kHz RTP clock.",
			Buckets: []float64{1, 2, 5, 10, 20, 30, 50, 75, 100, 200, 500},
		}),
		rtcpLoss: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_fraction_lost",
			Help:    "Fraction lost of RTCP report blocks (0-1).",
			Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2, .5, 1},
		}),
		rtcpRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "xhep_rtcp_rtt_seconds",
			Help:    "Round-trip time from RTCP LSR/DLSR.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .2, .5, 1, 2},
		}),
		rtcpReports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_rtcp_reports_total",
			Help: "RTCP packets with a report block or XR VoIP metrics (what the RTCP histograms observe).",
		}),
		reqC:     make(map[string]prometheus.Counter),
		dissectC: make(map[string]prometheus.Counter),
	}
	reg.MustRegister(m.messages, m.decodeErrors, m.dissectErrs, m.authRejects, m.writeErrors, m.noPayload,
		m.forwarded, m.forwardDrops, m.sipRequests, m.sipResponses, m.inviteFirst, m.invite200,
		m.register, m.kpiEvicted, m.rtcpJitter, m.rtcpLoss, m.rtcpRTT, m.rtcpReports)
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

// request counts a SIP request by method.
func (m *metrics) request(method []byte) {
	m.mu.Lock()
	c, ok := m.reqC[string(method)]
	if !ok {
		name := "other"
		if sipMethods[string(method)] {
			name = string(method)
		}
		c = m.sipRequests.WithLabelValues(name)
		if len(m.reqC) < 64 {
			m.reqC[string(method)] = c
		}
	}
	m.mu.Unlock()
	c.Inc()
}

// response counts a SIP response by code (100-699; others as "other").
func (m *metrics) response(code int) {
	if code < 100 || code > 699 {
		m.sipResponses.WithLabelValues("other").Inc()
		return
	}
	slot := &m.respC[code]
	c := slot.Load()
	if c == nil {
		cc := m.sipResponses.WithLabelValues(strconv.Itoa(code))
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
