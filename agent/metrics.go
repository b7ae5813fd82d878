package agent

import (
	"strings"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/agent/send"
)

// Collector returns a Prometheus collector of every stage's counters: frames
// read, the decoder's counters (decoded, defragmented, reassembled,
// classified, filtered, bad input by reason), HEP messages by class, RTCP
// correlation, the pipeline's drops by reason, per-collector deliveries,
// per-queue depth, spool and drops by reason, and the sizes of the
// reassembly and correlation tables. Values are read on scrape.
func (p *Pipeline) Collector() prometheus.Collector { return &metrics{p: p} }

type metrics struct{ p *Pipeline }

// Describe sends nothing: the collector is "unchecked", because the decoder's
// counter set is enumerated at scrape time.
func (m *metrics) Describe(chan<- *prometheus.Desc) {}

const ns = "xhep_agent_"

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.p.Summary()
	counter := func(name, help string, v uint64, labels ...string) {
		var names, values []string
		for i := 0; i+1 < len(labels); i += 2 {
			names = append(names, labels[i])
			values = append(values, labels[i+1])
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(ns+name, help, names, nil), prometheus.CounterValue, float64(v), values...)
	}
	gauge := func(name, help string, v float64, labels ...string) {
		var names, values []string
		for i := 0; i+1 < len(labels); i += 2 {
			names = append(names, labels[i])
			values = append(values, labels[i+1])
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(ns+name, help, names, nil), prometheus.GaugeValue, v, values...)
	}

	counter("frames_read_total", "Frames read from the source.", s.Frames)
	counter("bytes_read_total", "Captured bytes read from the source.", s.Bytes)

	// The decoder's counters: the scalar ones as one family labelled by
	// counter name ("TCPOutOfOrder" → counter="tcp_out_of_order"), the
	// arrays as a family each.
	s.Decoder.Each(func(name string, v uint64) {
		field, label, arr := strings.Cut(name, ".")
		if !arr {
			counter("decoder_total", decoderHelp, v, "counter", snake(field))
			return
		}
		f := decoderArrays[field]
		counter(f.name, f.help, v, f.label, label)
	})
	if t := m.p.cfg.Media; t != nil {
		ms := t.Stats()
		gauge("rtp_endpoints", "SDP media endpoints tracked for RTP statistics (--rtp-stats).", float64(ms.Endpoints))
		gauge("rtp_streams", "RTP streams being reported (kernel and userspace).", float64(ms.Streams))
		counter("rtp_reports_total", "HEP type 34 RTP quality reports sent.", m.p.mediaReports.Load())
		counter("rtp_packets_total", "RTP packets counted in userspace (--read and afpacket mode; live in ringbuf and afxdp mode the kernel counts them).", ms.Packets)
		const ev = "RTP statistics events by kind: endpoints evicted for room, streams refused (--rtp-max-streams), datagrams to an endpoint that were not RTP of an announced type, kernel map errors, kernel streams dropped unreported, payload types given the default clock (more than 4 clock rates in one m= line)."
		counter("rtp_events_total", ev, ms.EndpointsEvicted, "event", "endpoint_evicted")
		counter("rtp_events_total", ev, ms.StreamsRefused, "event", "stream_refused")
		counter("rtp_events_total", ev, ms.NotRTP, "event", "not_rtp")
		counter("rtp_events_total", ev, ms.KernelErrors, "event", "kernel_error")
		counter("rtp_events_total", ev, ms.KernelOrphans, "event", "kernel_orphan")
		counter("rtp_events_total", ev, ms.ClocksRefused, "event", "clock_refused")
	}
	gauge("defrag_datagrams", "Datagrams in IP defragmentation.", float64(s.Fragments))
	gauge("tcp_streams", "TCP stream directions followed.", float64(s.Streams))
	gauge("tcp_stream_bytes", "Bytes buffered by TCP reassembly.", float64(s.StreamBytes))

	for c, v := range s.HEP {
		if c == 0 {
			continue
		}
		counter("hep_messages_total", "HEP messages encoded and handed to the senders, by class.", v, "class", classLabel(c))
	}
	counter("rtcp_correlated_total", "RTCP sent with the Call-ID in chunk 0x11.", s.RTCPCorrelated)
	counter("rtcp_uncorrelated_total", "RTCP sent without a correlation id (no known call).", s.RTCPUncorrelated)
	counter("sip_without_callid_total", "SIP messages sent without a Call-ID.", s.SIPNoCallID)
	counter("large_compressed_total", "Payloads over HEP3's 64 KiB sent compressed in chunk 0x10.", s.LargeCompressed)
	counter("large_split_total", "Payloads too large for HEP3 even compressed, sent in parts.", s.LargeSplit)
	counter("split_parts_total", "HEP messages sent as parts of a split payload.", s.SplitParts)
	for reason, v := range s.Drops {
		counter("dropped_total", "Messages dropped by the pipeline or the senders, by reason.", v, "reason", reason, "queue", "")
	}

	c := s.Correlation
	gauge("correlation_entries", "Media endpoints in the correlation table.", float64(c.Entries))
	gauge("correlation_capacity", "Capacity of the correlation table.", float64(c.Capacity))
	counter("correlation_added_total", "Media endpoints added.", c.Added)
	counter("correlation_evicted_total", "Live media endpoints evicted because the table was full.", c.Evicted)
	counter("correlation_expired_total", "Media endpoints expired.", c.Expired)
	counter("correlation_ended_total", "Calls ended (BYE, CANCEL, final error).", c.Ended)
	counter("correlation_sdp_total", "SDP bodies read.", c.SDP)
	counter("correlation_bad_sdp_total", "SDP bodies with lines that did not decode.", c.BadSDP)
	counter("correlation_callid_too_long_total", "SIP messages with SDP whose Call-ID is too long to track.", c.TooLong)

	if s.Send == nil {
		return
	}
	for _, col := range s.Send.Collectors {
		counter("sent_total", "HEP messages sent, by collector.", col.Sent, "collector", col.Collector)
		counter("sent_bytes_total", "HEP bytes sent, by collector.", col.Bytes, "collector", col.Collector)
		counter("send_errors_total", "Failed connects and sends, by collector.", col.Errors, "collector", col.Collector)
		counter("connects_total", "Connections made, by collector.", col.Connects, "collector", col.Collector)
		up := 0.0
		if col.Up {
			up = 1
		}
		gauge("collector_up", "1 while connected to the collector.", up, "collector", col.Collector)
		// Messages per syscall (sendmmsg call or stream write): bucket
		// upper bounds 1, 3, 7, ... 1023.
		buckets := make(map[float64]uint64, send.NumBatchBuckets-1)
		var cum uint64
		for i, v := range col.Batches[:send.NumBatchBuckets-1] {
			cum += v
			buckets[float64(uint64(2)<<i-1)] = cum
		}
		ch <- prometheus.MustNewConstHistogram(prometheus.NewDesc(ns+"send_batch_messages",
			"Messages per sendmmsg call or stream write, by collector.", []string{"collector"}, nil),
			col.Syscalls(), float64(col.Sent), buckets, col.Collector)
	}
	for _, q := range s.Send.Queues {
		gauge("queue_depth", "Messages in the memory queue.", float64(q.Depth), "queue", q.Name)
		gauge("queue_capacity", "Capacity of the memory queue.", float64(q.Capacity), "queue", q.Name)
		counter("enqueued_total", "Messages put in the memory queue.", q.Enqueued, "queue", q.Name)
		counter("sender_parks_total", "Times the sender found its queue empty and slept.", q.Parks, "queue", q.Name)
		counter("sender_lingers_total", "Times the sender waited to fill a short batch.", q.Lingers, "queue", q.Name)
		gauge("queue_buffers", "Message buffers held by the memory queue (queued and free).", float64(q.Buffers), "queue", q.Name)
		counter("spooled_total", "Messages written to the disk spool.", q.Spooled, "queue", q.Name)
		counter("replayed_total", "Messages sent from the disk spool.", q.Replayed, "queue", q.Name)
		gauge("spool_records", "Messages in the disk spool.", float64(q.SpoolRecords), "queue", q.Name)
		gauge("spool_bytes", "Bytes of the disk spool.", float64(q.SpoolBytes), "queue", q.Name)
		counter("acked_total", "Messages the collector acknowledged as durable (tcp/tls to xhep-collector).", q.Acked, "queue", q.Name)
		counter("resent_total", "Messages sent again because a connection broke before their ack.", q.Resent, "queue", q.Name)
		counter("unconfirmed_total", "Messages sent to a collector that does not acknowledge (plain HEP: heplify-server, Kamailio).", q.Unconfirmed, "queue", q.Name)
		counter("ack_fallbacks_total", "Connections that fell back to plain HEP (no ack within --ack-timeout).", q.Fallbacks, "queue", q.Name)
		gauge("unacked", "Messages sent and waiting for the collector's ack.", float64(q.Unacked), "queue", q.Name)
		for reason, v := range map[string]uint64{
			"queue_full": q.DropQueueFull, "spool_full": q.DropSpoolFull, "spool_error": q.DropSpoolError,
			"after_close": q.DropClosed, "undelivered": q.Undelivered,
		} {
			counter("dropped_total", "Messages dropped by the pipeline or the senders, by reason.", v, "reason", reason, "queue", q.Name)
		}
	}
}

// decoderHelp is the help text of xhep_agent_decoder_total; each counter
// is described in DecoderCounters (and the README).
const decoderHelp = "Agent decoder counters (link to SIP framing), by counter: frames, vlan, ipv4, udp, tcp, frag_seen, frag_reassembled, tcp_gaps, junk, ...; each counter is described in the README's agent metrics table."

// decoderArrays names the families of the decoder's array counters.
var decoderArrays = map[string]struct{ name, label, help string }{
	"Link":     {"decoder_link_frames_total", "link", "Frames by link-layer type (other = unsupported, also counted as an error)."},
	"Tunnels":  {"decoder_tunnels_total", "tunnel", "Decapsulations by kind: GRE, ERSPAN II/III, VXLAN, IP-in-IP, IPv6-in-IP, PPPoE, MPLS."},
	"Messages": {"decoder_messages_total", "class", "Messages the decoder emitted (after defragmentation and stream framing), by class."},
	"Filtered": {"decoder_filtered_total", "filter", "Messages dropped by --drop-method, --drop-ip or --drop-payload, by filter."},
	"Errors":   {"decoder_errors_total", "reason", "Bad input dropped by the decoder, by reason (truncated, bad_ipv4, bad_sip_framing, stream_overflow, ...)."},
}

// DecoderCounters describes every counter of xhep_agent_decoder_total, by
// its counter label value. A new field of packet.Stats needs a line here
// (TestMetrics fails otherwise) and in the README's table.
var DecoderCounters = map[string]string{
	"frames":              "frames passed to the decoder",
	"vlan":                "frames with at least one 802.1Q/802.1ad tag",
	"qinq":                "frames with two or more VLAN tags",
	"ipv4":                "IPv4 headers decoded (inner and outer)",
	"ipv6":                "IPv6 headers decoded (inner and outer)",
	"udp":                 "UDP datagrams (after reassembly)",
	"tcp":                 "TCP segments",
	"sctp":                "SCTP packets",
	"other":               "frames skipped as not IP, or IP carrying another protocol (ARP, ICMP, ESP, ...)",
	"unclassified":        "UDP/SCTP payloads and TCP streams that matched no class",
	"keep_alives":         "CRLF keep-alives and tiny non-SIP datagrams on SIP ports (not sent)",
	"junk":                "non-SIP payloads on SIP ports, and resyncs of a stream past bytes that are not SIP",
	"frag_seen":           "IPv4 and IPv6 fragments received",
	"frag_reassembled":    "datagrams completed from fragments",
	"frag_expired":        "datagrams dropped incomplete after --frag-timeout",
	"frag_overlap":        "fragments overlapping another (IPv4 first wins; IPv6 drops the datagram, RFC 5722)",
	"frag_duplicate":      "fragments repeating bytes already held (ignored)",
	"frag_evicted":        "datagrams dropped incomplete to respect --frag-max / --frag-bytes",
	"tcp_segments":        "segments of followed TCP streams",
	"tcp_out_of_order":    "TCP segments that arrived ahead of a hole",
	"tcp_retransmits":     "TCP segments (or parts) repeating bytes already seen",
	"tcp_gaps":            "TCP holes skipped (after --tcp-gap-timeout, a bound, or a flush)",
	"tcp_resyncs":         "times a stream found a SIP start line after a gap or a mid-stream start",
	"tcp_messages":        "messages framed from TCP streams (SIP, WebSocket SIP, DNS)",
	"tcp_streams":         "TCP stream directions opened",
	"tcp_streams_closed":  "TCP directions closed by FIN or RST",
	"tcp_streams_idle":    "TCP directions flushed after --tcp-idle",
	"tcp_evicted":         "TCP directions evicted to respect --tcp-max-streams / --tcp-total-bytes",
	"tcp_dropped_bytes":   "buffered TCP bytes discarded (gaps, evictions, overflows, incomplete at close)",
	"web_socket_upgrades": "HTTP Upgrade handshakes seen (each direction)",
	"web_socket_frames":   "WebSocket frames decoded",
	"web_socket_control":  "WebSocket control frames (close, ping, pong), not sent",
	"sctp_chunks":         "SCTP DATA chunks",
	"sctp_fragments":      "SCTP DATA chunks that are fragments of a user message",
	"sctp_reassembled":    "SCTP user messages reassembled from fragments",
	"sctp_dropped":        "fragmented SCTP user messages dropped (missing fragment, bounds, timeout)",
	"rtcp_trailing":       "RTCP compounds with 1-3 bytes after the last sub-packet (sent as they are)",
	"rtcp_trailing_bytes": "bytes after the last sub-packet of those RTCP compounds",
}

func classLabel(c int) string {
	switch c {
	case 1:
		return "sip"
	case 2:
		return "rtcp"
	case 3:
		return "dns"
	}
	return "unknown"
}

// snake turns "TCPOutOfOrder" into "tcp_out_of_order", "IPv4" into "ipv4".
func snake(s string) string {
	s = strings.NewReplacer("IPv4", "Ipv4", "IPv6", "Ipv6", "QinQ", "Qinq").Replace(s)
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (nextLower && unicode.IsUpper(r[i-1])) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
