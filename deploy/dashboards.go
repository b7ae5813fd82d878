// Package deploy holds what an operator installs beside the binaries:
// systemd units (systemd/), example configurations (config/), Debian
// package definitions for nfpm (nfpm/), Prometheus rules with their unit
// tests (prometheus/) and Grafana dashboards (grafana/).
//
// The dashboards are written from [Dashboards] (`go test ./deploy -run
// TestDashboardFiles -update` rewrites grafana/dashboards/*.json; the test
// fails when the files are stale). The tests check the units with
// systemd-analyze, the rules with promtool, and evaluate every dashboard
// query in a real Prometheus scraping a running agent and collector.
package deploy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Dashboard is one Grafana dashboard.
type Dashboard struct {
	UID, Title, File string
	Description      string
	Vars             []Var
	Panels           []Panel
}

// Var is a query template variable: label values of a metric, multi-value
// with "All" (matching ".*").
type Var struct{ Name, Label, Metric string }

// Panel is one panel; Stat panels are small single values.
type Panel struct {
	Title, Description string
	Unit               string // Grafana unit: percentunit, s, reqps, bytes, short, none
	Stat               bool
	Targets            []Target
}

// Target is one query: Expr with Grafana's variables ($node, $peer,
// $instance, $__rate_interval, $__range), Legend its legend format.
type Target struct{ Expr, Legend string }

// Shorthands for the label filters of each dashboard family.
const (
	sipF  = `node=~"$node",peer=~"$peer"`
	nodeF = `node=~"$node"`
	agF   = `job="xhep-agent",instance=~"$instance"`
	colF  = `job="xhep-collector",instance=~"$instance"`
	ri    = `[$__rate_interval]`
	rng   = `[$__range]`
)

func q(expr, legend string) Target { return Target{Expr: expr, Legend: legend} }

func ts(title, unit, desc string, t ...Target) Panel {
	return Panel{Title: title, Unit: unit, Description: desc, Targets: t}
}

func stat(title, unit, desc string, t ...Target) Panel {
	return Panel{Title: title, Unit: unit, Description: desc, Stat: true, Targets: t}
}

// ratio is sum by (by) of rate(num) / sum by (by) of rate(den).
func ratio(by, num, den, window string) string {
	return fmt.Sprintf("sum by (%s) (rate(%s%s)) / sum by (%s) (rate(%s%s))", by, num, window, by, den, window)
}

func sumRatio(num, den, window string) string {
	return fmt.Sprintf("sum(rate(%s%s)) / sum(rate(%s%s))", num, window, den, window)
}

func quantile(p, metric, filter, by string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (le, %s) (rate(%s_bucket{%s}%s)))", p, by, metric, filter, ri)
}

var sipVars = []Var{{"node", "Capture node", "xhep_sip_requests_total"}, {"peer", "Peer / trunk", "xhep_sip_requests_total"}}

// Dashboards returns the shipped dashboards.
func Dashboards() []Dashboard {
	answered := `xhep_sip_invite_outcomes_total{outcome="answered",` + sipF + `}`
	outcomes := `xhep_sip_invite_outcomes_total{` + sipF + `}`
	nerNum := `xhep_sip_invite_outcomes_total{outcome=~"answered|user",` + sipF + `}`
	nerDen := `xhep_sip_invite_outcomes_total{outcome!="redirected",` + sipF + `}`
	regOK := `xhep_sip_register_responses_total{outcome="success",` + sipF + `}`
	regAll := `xhep_sip_register_responses_total{outcome=~"success|failure",` + sipF + `}`
	durSum := `xhep_sip_call_duration_seconds_sum{` + sipF + `}`
	durCount := `xhep_sip_call_duration_seconds_count{` + sipF + `}`
	return []Dashboard{
		{
			UID: "xhep-sip", Title: "xhep / SIP overview", File: "sip-overview.json",
			Description: "SIP traffic and call KPIs per capture node and peer/trunk (definitions: README, Operating xhep).",
			Vars:        sipVars,
			Panels: []Panel{
				stat("Call attempts/s", "reqps", "Initial INVITE transactions per second.",
					q(`sum(rate(xhep_sip_invite_attempts_total{`+sipF+`}`+ri+`))`, "")),
				stat("ASR", "percentunit", "Answer-seizure ratio (ITU-T E.411) over the time range: answered / INVITEs with a final response.",
					q(sumRatio(answered, outcomes, rng), "")),
				stat("NER", "percentunit", "Network effectiveness ratio (RFC 6076 SEER) over the time range: answered or user reached / final responses other than 3xx.",
					q(sumRatio(nerNum, nerDen, rng), "")),
				stat("Concurrent calls", "short", "Answered calls without BYE yet.",
					q(`sum(xhep_sip_calls_active{`+sipF+`})`, "")),
				ts("Requests/s by method", "reqps", "Every SIP request seen, retransmissions included.",
					q(`sum by (method) (rate(xhep_sip_requests_total{`+sipF+`}`+ri+`))`, "{{method}}")),
				ts("Responses/s by class", "reqps", "Every SIP response seen, by status class.",
					q(`sum by (class) (rate(xhep_sip_responses_total{`+sipF+`}`+ri+`))`, "{{class}}")),
				ts("ASR per trunk", "percentunit", "Answered / INVITE transactions with a final response.",
					q(ratio("peer", answered, outcomes, ri), "{{peer}}")),
				ts("NER per trunk", "percentunit", "(Answered + 486/480/600/603) / final responses other than 3xx.",
					q(ratio("peer", nerNum, nerDen, ri), "{{peer}}")),
				ts("ASR per capture node", "percentunit", "Answered / INVITE transactions with a final response, per node.",
					q(ratio("node", answered, outcomes, ri), "{{node}}")),
				ts("ACD per trunk", "s", "Average call duration: mean of 2xx-to-BYE times of the calls that ended.",
					q(ratio("peer", durSum, durCount, ri), "{{peer}}")),
				ts("Post-dial delay (SRD) per trunk", "s", "RFC 6076 SRD: INVITE to first 18x or final response; median and 95th percentile.",
					q(quantile("0.5", "xhep_sip_srd_seconds", sipF, "peer"), "p50 {{peer}}"),
					q(quantile("0.95", "xhep_sip_srd_seconds", sipF, "peer"), "p95 {{peer}}")),
				ts("Answer delay per trunk", "s", "INVITE to 2xx, 95th percentile.",
					q(quantile("0.95", "xhep_sip_invite_answer_seconds", sipF, "peer"), "p95 {{peer}}")),
				ts("Concurrent calls per trunk", "short", "Answered calls without BYE yet.",
					q(`sum by (peer) (xhep_sip_calls_active{`+sipF+`})`, "{{peer}}")),
				ts("INVITE outcomes/s", "reqps", "Final responses to initial INVITEs by outcome.",
					q(`sum by (outcome) (rate(xhep_sip_invite_outcomes_total{`+sipF+`}`+ri+`))`, "{{outcome}}")),
				ts("SIP errors by code", "reqps", "4xx, 5xx and 6xx responses per second, the ten most frequent codes.",
					q(`topk(10, sum by (code, method) (rate(xhep_sip_responses_total{class=~"4xx|5xx|6xx",`+sipF+`}`+ri+`)))`, "{{code}} {{method}}")),
				ts("Retransmissions", "percentunit", "Share of SIP messages that repeat one seen within 32 s, by method.",
					q(`sum by (method) (rate(xhep_sip_retransmissions_total{`+sipF+`}`+ri+`)) / scalar(sum(rate(xhep_sip_requests_total{`+sipF+`}`+ri+`)) + sum(rate(xhep_sip_responses_total{`+sipF+`}`+ri+`)))`, "{{method}}")),
			},
		},
		{
			UID: "xhep-registrations", Title: "xhep / Registrations", File: "registrations.json",
			Description: "REGISTER traffic, outcomes and success ratio per node and peer.",
			Vars:        sipVars,
			Panels: []Panel{
				stat("Registration success", "percentunit", "REGISTER 2xx / (2xx + failures) over the time range; 401/407 challenges are a normal step and not counted.",
					q(sumRatio(regOK, regAll, rng), "")),
				stat("REGISTER/s", "reqps", "REGISTER requests per second, retransmissions included.",
					q(`sum(rate(xhep_sip_requests_total{method="REGISTER",`+sipF+`}`+ri+`))`, "")),
				ts("Registration success per peer", "percentunit", "2xx / (2xx + failures).",
					q(ratio("peer", regOK, regAll, ri), "{{peer}}")),
				ts("Registration request delay (RRD) per peer", "s", "RFC 6076 RRD: first REGISTER of a registration, through its challenges, to the 2xx; median and 95th percentile.",
					q(quantile("0.5", "xhep_sip_rrd_seconds", sipF, "peer"), "p50 {{peer}}"),
					q(quantile("0.95", "xhep_sip_rrd_seconds", sipF, "peer"), "p95 {{peer}}")),
				ts("REGISTER outcomes/s", "reqps", "Responses to REGISTER: success, challenge (401/407), failure.",
					q(`sum by (outcome) (rate(xhep_sip_register_responses_total{`+sipF+`}`+ri+`))`, "{{outcome}}")),
				ts("REGISTER responses by code", "reqps", "Responses to REGISTER per status code.",
					q(`sum by (code) (rate(xhep_sip_responses_total{method="REGISTER",`+sipF+`}`+ri+`))`, "{{code}}")),
				ts("REGISTER/s per node", "reqps", "REGISTER requests per capture node.",
					q(`sum by (node) (rate(xhep_sip_requests_total{method="REGISTER",`+sipF+`}`+ri+`))`, "{{node}}")),
				ts("REGISTER retransmissions/s", "reqps", "REGISTER requests and responses seen again within 32 s.",
					q(`sum by (peer) (rate(xhep_sip_retransmissions_total{method="REGISTER",`+sipF+`}`+ri+`))`, "{{peer}}")),
			},
		},
		{
			UID: "xhep-rtcp", Title: "xhep / RTCP quality", File: "rtcp-quality.json",
			Description: "Media quality from RTCP reports per capture node: MOS, jitter, loss, round trip. Per-stream RTP quality reports are not produced yet.",
			Vars:        []Var{{"node", "Capture node", "xhep_rtcp_reports_total"}},
			Panels: []Panel{
				stat("Mean MOS", "none", "Mean listening MOS of the RTCP reports over the time range (XR MOS-CQ or the simplified E-model).",
					q(sumRatio(`xhep_rtcp_mos_sum{`+nodeF+`}`, `xhep_rtcp_mos_count{`+nodeF+`}`, rng), "")),
				stat("Reports with MOS < 3.5", "percentunit", "Share of RTCP reports whose MOS is at most 3.5.",
					q(sumRatio(`xhep_rtcp_mos_bucket{le="3.5",`+nodeF+`}`, `xhep_rtcp_mos_count{`+nodeF+`}`, rng), "")),
				ts("Mean MOS per node", "none", "Mean listening MOS of the RTCP reports.",
					q(ratio("node", `xhep_rtcp_mos_sum{`+nodeF+`}`, `xhep_rtcp_mos_count{`+nodeF+`}`, ri), "{{node}}")),
				ts("Jitter per node", "s", "Interarrival jitter of RTCP report blocks (8 kHz clock), median and 95th percentile.",
					q(quantile("0.5", "xhep_rtcp_jitter_seconds", nodeF, "node"), "p50 {{node}}"),
					q(quantile("0.95", "xhep_rtcp_jitter_seconds", nodeF, "node"), "p95 {{node}}")),
				ts("Packet loss per node", "percentunit", "Mean fraction lost of RTCP report blocks.",
					q(ratio("node", `xhep_rtcp_fraction_lost_sum{`+nodeF+`}`, `xhep_rtcp_fraction_lost_count{`+nodeF+`}`, ri), "{{node}}")),
				ts("Round-trip time per node", "s", "RTT from LSR/DLSR, 95th percentile (reports without it are not counted).",
					q(quantile("0.95", "xhep_rtcp_rtt_seconds", nodeF, "node"), "p95 {{node}}")),
				ts("RTCP reports/s", "reqps", "RTCP packets with a report block or XR VoIP metrics.",
					q(`sum by (node) (rate(xhep_rtcp_reports_total{`+nodeF+`}`+ri+`))`, "{{node}}")),
				ts("RTCP correlated with calls (agents)", "reqps", "RTCP the agents sent with and without the call's Call-ID.",
					q(`sum(rate(xhep_agent_rtcp_correlated_total`+ri+`))`, "correlated"),
					q(`sum(rate(xhep_agent_rtcp_uncorrelated_total`+ri+`))`, "uncorrelated")),
			},
		},
		{
			UID: "xhep-capture", Title: "xhep / Capture health", File: "capture-health.json",
			Description: "Per agent: what the kernel saw and captured, ring buffer and queues, drops at every stage, spool, delivery.",
			Vars:        []Var{{"instance", "Agent", "xhep_agent_frames_read_total"}},
			Panels: []Panel{
				stat("Drops/s (all stages)", "short", "Kernel ring buffer, pipeline, queue and spool drops per second.",
					q(`sum(rate(xhep_agent_dropped_total{`+agF+`}`+ri+`)) + (sum(rate(xhep_agent_bpf_ringbuf_drops_total{`+agF+`}`+ri+`)) or vector(0))`, "")),
				stat("Collectors up", "short", "Collector connections up out of configured.",
					q(`sum(xhep_agent_collector_up{`+agF+`})`, "")),
				ts("Kernel: frames seen, matched, captured", "pps", "BPF programs: every frame seen, matched by the filter, written to the ring (or AF_XDP).",
					q(`sum by (instance) (rate(xhep_agent_bpf_seen_total{`+agF+`}`+ri+`))`, "seen {{instance}}"),
					q(`sum by (instance) (rate(xhep_agent_bpf_matched_total{`+agF+`}`+ri+`))`, "matched {{instance}}"),
					q(`sum by (instance) (rate(xhep_agent_bpf_captured_total{`+agF+`}`+ri+`))`, "captured {{instance}}")),
				ts("Kernel ring buffer drops/s", "pps", "Matched frames lost because the BPF ring buffer was full.",
					q(`sum by (instance) (rate(xhep_agent_bpf_ringbuf_drops_total{`+agF+`}`+ri+`))`, "{{instance}}")),
				ts("Ring buffer fill", "percentunit", "Bytes waiting in the BPF ring buffer / its size.",
					q(`xhep_agent_ringbuf_pending_bytes{`+agF+`} / xhep_agent_ringbuf_size_bytes{`+agF+`}`, "{{instance}}")),
				ts("Drops/s by reason", "short", "Messages the pipeline and the senders dropped, by reason and queue.",
					q(`sum by (instance, reason) (rate(xhep_agent_dropped_total{`+agF+`}`+ri+`))`, "{{reason}} {{instance}}")),
				ts("Queue fill", "percentunit", "Memory queue depth / capacity per collector queue.",
					q(`xhep_agent_queue_depth{`+agF+`} / xhep_agent_queue_capacity{`+agF+`}`, "{{queue}} {{instance}}")),
				ts("Spool", "short", "Messages waiting in the disk spool, and spooled/replayed per second.",
					q(`xhep_agent_spool_records{`+agF+`}`, "records {{queue}}"),
					q(`sum by (queue) (rate(xhep_agent_spooled_total{`+agF+`}`+ri+`))`, "spooled/s {{queue}}"),
					q(`sum by (queue) (rate(xhep_agent_replayed_total{`+agF+`}`+ri+`))`, "replayed/s {{queue}}")),
				ts("HEP sent/s per collector", "pps", "HEP messages sent per collector.",
					q(`sum by (instance, collector) (rate(xhep_agent_sent_total{`+agF+`}`+ri+`))`, "{{collector}} {{instance}}")),
				ts("HEP messages/s by class", "pps", "SIP, RTCP and DNS encoded and handed to the senders.",
					q(`sum by (class) (rate(xhep_agent_hep_messages_total{`+agF+`}`+ri+`))`, "{{class}}")),
				ts("Decoder errors/s by reason", "pps", "Bad input the decoder dropped.",
					q(`sum by (reason) (rate(xhep_agent_decoder_errors_total{`+agF+`}`+ri+`))`, "{{reason}}")),
				ts("Reassembly losses/s", "pps", "TCP gaps and evictions, expired and evicted IP fragments.",
					q(`sum by (counter) (rate(xhep_agent_decoder_total{counter=~"tcp_gaps|tcp_evicted|frag_expired|frag_evicted|sctp_dropped",`+agF+`}`+ri+`))`, "{{counter}}"),
					q(`sum(rate(xhep_agent_bpf_fragments_early_limited_total{`+agF+`}`+ri+`))`, "kernel: early fragments over the limit")),
				ts("Capture variant", "short", "What the BPF loader chose on each agent's kernel: buffer (ringbuf/perf), copy method, XDP and TC attach.",
					q(`xhep_agent_bpf_variant_info{`+agF+`}`, "{{instance}} {{kernel}} {{buffer}} copy={{copy}} xdp={{xdp}} tc={{tc}} legacy={{legacy}}")),
				ts("Agent CPU and memory", "short", "CPU cores used and resident memory (GiB).",
					q(`rate(process_cpu_seconds_total{`+agF+`}`+ri+`)`, "cpu {{instance}}"),
					q(`process_resident_memory_bytes{`+agF+`} / 2^30`, "rss GiB {{instance}}")),
			},
		},
		{
			UID: "xhep-collector", Title: "xhep / Collector and storage", File: "collector-storage.json",
			Description: "Per collector: HEP received, errors, rows written, batch latency, queue and spill, partitions, database.",
			Vars:        []Var{{"instance", "Collector", "xhep_collector_received_messages_total"}},
			Panels: []Panel{
				stat("Database up", "short", "1 while every collector's database answers.",
					q(`min(xhep_store_db_up{`+colF+`})`, "")),
				stat("Rows/s", "short", "Rows committed per second.",
					q(`sum(rate(xhep_store_rows_written_total{`+colF+`}`+ri+`))`, "")),
				ts("HEP received/s by transport", "pps", "Datagrams and stream messages received.",
					q(`sum by (transport) (rate(xhep_collector_received_messages_total{`+colF+`}`+ri+`))`, "{{transport}}")),
				ts("Messages/s by HEP type", "pps", "Decoded HEP messages by payload type.",
					q(`sum by (type) (rate(xhep_collector_messages_total{`+colF+`}`+ri+`))`, "{{type}}")),
				ts("Input errors/s", "pps", "Not HEP (by reason), payloads that did not dissect, UDP socket drops, auth rejects.",
					q(`sum by (reason) (rate(xhep_collector_decode_errors_total{`+colF+`}`+ri+`))`, "decode {{reason}}"),
					q(`sum by (reason) (rate(xhep_collector_dissect_errors_total{`+colF+`}`+ri+`))`, "dissect {{reason}}"),
					q(`sum(rate(xhep_collector_udp_socket_drops_total{`+colF+`}`+ri+`))`, "udp socket drops"),
					q(`sum(rate(xhep_collector_auth_rejects_total{`+colF+`}`+ri+`))`, "auth rejects")),
				ts("Rows written/s by table", "short", "Rows committed to the database per table.",
					q(`sum by (table) (rate(xhep_store_rows_written_total{`+colF+`}`+ri+`))`, "{{table}}")),
				ts("Batch latency", "s", "Time to write and commit one batch: median and 99th percentile.",
					q(quantile("0.5", "xhep_store_batch_seconds", colF, "instance"), "p50 {{instance}}"),
					q(quantile("0.99", "xhep_store_batch_seconds", colF, "instance"), "p99 {{instance}}")),
				ts("Rows per batch", "short", "Mean rows per committed batch.",
					q(ratio("instance", `xhep_store_batch_rows_sum{`+colF+`}`, `xhep_store_batch_rows_count{`+colF+`}`, ri), "{{instance}}")),
				ts("Queue and spill depth", "short", "Rows in memory not yet committed; batches and bytes in the disk spill.",
					q(`xhep_store_queue_rows{`+colF+`}`, "queued rows {{instance}}"),
					q(`xhep_store_spill_records{`+colF+`}`, "spilled batches {{instance}}")),
				ts("Receive journal", "short", "With --journal-dir: records not yet known committed, MiB on disk, appends that waited for room and failed syncs per second.",
					q(`xhep_collector_journal_pending_records{`+colF+`}`, "pending records {{instance}}"),
					q(`xhep_collector_journal_bytes{`+colF+`} / 2^20`, "MiB {{instance}}"),
					q(`sum by (instance) (rate(xhep_collector_journal_blocked_total{`+colF+`}`+ri+`))`, "blocked/s {{instance}}"),
					q(`sum by (instance) (rate(xhep_collector_journal_sync_errors_total{`+colF+`}`+ri+`))`, "sync errors/s {{instance}}")),
				ts("Journal fsync time", "percentunit", "Share of time spent in journal write+fsync.",
					q(`sum by (instance) (rate(xhep_collector_journal_sync_seconds_total{`+colF+`}`+ri+`))`, "{{instance}}")),
				ts("Delivery: duplicates and backpressure", "short", "Resent messages dropped as already stored; times a TCP/TLS reader paused because the store had no room.",
					q(`sum by (instance) (rate(xhep_collector_duplicates_dropped_total{`+colF+`}`+ri+`))`, "duplicates/s {{instance}}"),
					q(`sum by (instance) (rate(xhep_collector_backpressure_waits_total{`+colF+`}`+ri+`))`, "backpressure waits/s {{instance}}")),
				ts("Rows dropped/s by reason", "short", "Rows not stored.",
					q(`sum by (reason) (rate(xhep_store_dropped_rows_total{`+colF+`}`+ri+`))`, "{{reason}}")),
				ts("Partition actions", "short", "Partitions created and dropped (retention, size) in the time range.",
					q(`sum by (action) (increase(xhep_store_partition_actions_total{`+colF+`}`+rng+`))`, "{{action}}")),
				ts("Database up", "short", "1 while the database answers and the schema is in place.",
					q(`xhep_store_db_up{`+colF+`}`, "{{instance}}")),
				ts("SIP KPI tables", "short", "Open INVITEs, answered calls and retransmission keys tracked; entries evicted per second.",
					q(`xhep_sip_kpi_entries{`+colF+`}`, "{{table}}"),
					q(`sum by (table) (rate(xhep_sip_kpi_evicted_total{`+colF+`}`+ri+`))`, "evicted/s {{table}}")),
				ts("Collector CPU and memory", "short", "CPU cores used and resident memory (GiB).",
					q(`rate(process_cpu_seconds_total{`+colF+`}`+ri+`)`, "cpu {{instance}}"),
					q(`process_resident_memory_bytes{`+colF+`} / 2^30`, "rss GiB {{instance}}")),
			},
		},
	}
}

// JSON renders the dashboard as Grafana provisioning JSON (schema 39).
func (d Dashboard) JSON() ([]byte, error) {
	type obj = map[string]any
	ds := obj{"type": "prometheus", "uid": "${datasource}"}
	vars := []any{obj{"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
		"current": obj{}, "hide": 0}}
	for _, v := range d.Vars {
		vars = append(vars, obj{
			"name": v.Name, "label": v.Label, "type": "query", "datasource": ds,
			"query":      obj{"query": "label_values(" + v.Metric + ", " + v.Name + ")", "refId": "vars"},
			"definition": "label_values(" + v.Metric + ", " + v.Name + ")",
			"refresh":    2, "includeAll": true, "multi": true, "allValue": ".*", "sort": 1,
			"current": obj{"text": []string{"All"}, "value": []string{"$__all"}},
		})
	}
	var panels []any
	x, y, id := 0, 0, 1
	stats := 0
	for _, p := range d.Panels {
		w, h := 12, 8
		if p.Stat {
			w, h = 6, 4
			stats++
		}
		if x+w > 24 {
			x = 0
			y += h
		}
		var targets []any
		for i, t := range p.Targets {
			targets = append(targets, obj{"refId": string(rune('A' + i)), "expr": t.Expr, "legendFormat": legend(t.Legend),
				"datasource": ds, "range": true})
		}
		panel := obj{
			"id": id, "title": p.Title, "description": p.Description, "datasource": ds, "targets": targets,
			"gridPos":     obj{"h": h, "w": w, "x": x, "y": y},
			"fieldConfig": obj{"defaults": obj{"unit": p.Unit}, "overrides": []any{}},
		}
		if p.Stat {
			panel["type"] = "stat"
			panel["options"] = obj{"reduceOptions": obj{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
				"colorMode": "value", "graphMode": "area", "textMode": "auto"}
		} else {
			panel["type"] = "timeseries"
			panel["options"] = obj{"legend": obj{"displayMode": "list", "placement": "bottom", "showLegend": true},
				"tooltip": obj{"mode": "multi", "sort": "desc"}}
		}
		panels = append(panels, panel)
		id++
		x += w
	}
	out := obj{
		"uid": d.UID, "title": d.Title, "description": d.Description, "tags": []string{"xhep"},
		"timezone": "utc", "schemaVersion": 39, "version": 1, "editable": true, "refresh": "30s",
		"time": obj{"from": "now-6h", "to": "now"}, "graphTooltip": 1,
		"templating": obj{"list": vars}, "panels": panels,
		"annotations": obj{"list": []any{}},
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}

func legend(s string) string {
	if s == "" {
		return "__auto"
	}
	return s
}

// Expand replaces Grafana's variables in a dashboard query for evaluation
// outside Grafana: template variables by "All" (.*), $__rate_interval and
// $__range by the given windows.
func Expand(expr, rateInterval, rangeWindow string) string {
	return strings.NewReplacer("$__rate_interval", rateInterval, "$__range", rangeWindow,
		"$node", ".*", "$peer", ".*", "$instance", ".*").Replace(expr)
}
