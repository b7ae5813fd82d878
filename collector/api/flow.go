package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Flow is the body of GET /api/v1/calls/{callid}/flow.
type Flow struct {
	CallID   string      `json:"callid"`
	Legs     []Leg       `json:"legs"` // the call itself first, then linked legs by first time
	First    time.Time   `json:"first"`
	Last     time.Time   `json:"last"`
	Messages []Message   `json:"messages"` // every SIP message of every leg, capture order
	Streams  []Stream    `json:"rtcp_streams"`
	RTCP     []RTCPEntry `json:"rtcp"`
	DNS      []DNSEntry  `json:"dns"`
	Logs     []LogEntry  `json:"logs"`
	// Truncated is set when the leg closure stopped at Config.MaxLegs.
	Truncated bool `json:"truncated,omitempty"`
}

// Leg is one Call-ID of a flow and how it was linked.
type Leg struct {
	CallID   string    `json:"callid"`
	LinkedBy string    `json:"linked_by,omitempty"` // "callid_aleg" or "correlation_id"; empty for the call asked for
	LinkedTo string    `json:"linked_to,omitempty"` // the leg it was found from
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Messages int       `json:"messages"`
}

// RTCPEntry is one stored RTCP report.
type RTCPEntry struct {
	Time          time.Time       `json:"time"`
	TimeUS        int64           `json:"time_us"`
	CorrelationID string          `json:"correlation_id"`
	SrcIP         string          `json:"src_ip"`
	SrcPort       int             `json:"src_port"`
	DstIP         string          `json:"dst_ip"`
	DstPort       int             `json:"dst_port"`
	Report        json.RawMessage `json:"report"`
}

// Stream is one media stream as RTCP reports describe it: the reports
// about SSRC SourceSSRC sent by the receiver ReporterSSRC.
type Stream struct {
	ReporterSSRC uint32        `json:"reporter_ssrc"`
	SourceSSRC   uint32        `json:"source_ssrc"`
	CallID       string        `json:"callid"`
	Src          string        `json:"src"` // where the reports come from
	Dst          string        `json:"dst"`
	Points       []StreamPoint `json:"points"`
}

// StreamPoint is one report block. Jitter is converted at 8 kHz (the
// clock rate of G.711, G.729 and most narrowband codecs): JitterMS =
// ia_jitter / 8. RTTMS is computed from LSR and DLSR against the report's
// capture time and is absent when LSR is 0.
type StreamPoint struct {
	TimeUS       int64    `json:"time_us"`
	JitterMS     float64  `json:"jitter_ms"`
	FractionLost float64  `json:"loss_pct"` // fraction_lost / 256 × 100
	PacketsLost  int64    `json:"packets_lost"`
	RTTMS        *float64 `json:"rtt_ms,omitempty"`
}

// DNSEntry is one stored DNS message.
type DNSEntry struct {
	Time    time.Time       `json:"time"`
	TimeUS  int64           `json:"time_us"`
	SrcIP   string          `json:"src_ip"`
	SrcPort int             `json:"src_port"`
	DstIP   string          `json:"dst_ip"`
	DstPort int             `json:"dst_port"`
	QName   string          `json:"qname"`
	QType   int             `json:"qtype"`
	QR      bool            `json:"qr"` // response
	RCode   int             `json:"rcode"`
	Message json.RawMessage `json:"message"`
}

// LogEntry is one stored log line (HEP type 100).
type LogEntry struct {
	Time          time.Time `json:"time"`
	TimeUS        int64     `json:"time_us"`
	CorrelationID string    `json:"correlation_id"`
	SrcIP         string    `json:"src_ip"`
	DstIP         string    `json:"dst_ip"`
	Message       string    `json:"message"`
}

var knownFlow = map[string]bool{"from": true, "to": true}

// flowRange is where a flow looks for its Call-ID: from/to when given
// (at most FlowLookback long), else the last FlowLookback.
func (a *API) flowRange(q url.Values) (timeRange, error) {
	if err := checkParams(q, knownFlow); err != nil {
		return timeRange{}, err
	}
	return parseRange(q, a.cfg.Now(), a.cfg.FlowLookback, a.cfg.FlowLookback)
}

func callIDParam(r *http.Request) (string, error) {
	id := r.PathValue("callid")
	if id == "" || len(id) > 255 {
		return "", errBad("callid: must be 1 to 255 bytes")
	}
	return id, nil
}

// requestFlow validates a /calls/{callid}/... request and builds its flow.
func (a *API) requestFlow(r *http.Request) (*Flow, error) {
	id, err := callIDParam(r)
	if err != nil {
		return nil, err
	}
	tr, err := a.flowRange(r.URL.Query())
	if err != nil {
		return nil, err
	}
	return a.buildFlow(r.Context(), id, tr, true)
}

func (a *API) flow(w http.ResponseWriter, r *http.Request) error {
	f, err := a.requestFlow(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// span returns the first and last capture time of Call-IDs ids in the SIP
// tables within tr (the callid index answers MIN and MAX).
func (a *API) span(ctx context.Context, ids []string, tr timeRange) (first, last time.Time, ok bool, err error) {
	in := placeholders(len(ids))
	var q strings.Builder
	var args []any
	q.WriteString("SELECT MIN(f), MAX(l) FROM (")
	for i, t := range sipTables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT MIN(create_date) AS f, MAX(create_date) AS l FROM `%s` WHERE create_date BETWEEN ? AND ? AND callid IN (%s)", t, in)
		args = append(args, tr.From, tr.To)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	q.WriteString(") s")
	var f, l sql.NullTime
	if err := a.queryRow(ctx, q.String(), args...).Scan(&f, &l); err != nil {
		return first, last, false, fmt.Errorf("query call time span: %w", err)
	}
	if !f.Valid {
		return first, last, false, nil
	}
	return f.Time.UTC(), l.Time.UTC(), true, nil
}

// links returns the Call-IDs linked to the frontier legs within
// [from, to]: each with the column that linked it and the leg it came from.
func (a *API) links(ctx context.Context, frontier []string, from, to time.Time) ([][3]string, error) {
	in := placeholders(len(frontier))
	q := fmt.Sprintf(
		"SELECT DISTINCT callid_aleg, 'callid_aleg', callid FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND callid IN (%[2]s) AND callid_aleg IS NOT NULL"+
			" UNION SELECT DISTINCT correlation_id, 'correlation_id', callid FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND callid IN (%[2]s) AND correlation_id IS NOT NULL"+
			" UNION SELECT DISTINCT callid, 'callid_aleg', callid_aleg FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND callid_aleg IN (%[2]s)"+
			" UNION SELECT DISTINCT callid, 'correlation_id', correlation_id FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND correlation_id IN (%[2]s)",
		callTable, in)
	var args []any
	for range 4 {
		args = append(args, from, to)
		for _, id := range frontier {
			args = append(args, id)
		}
	}
	rows, err := a.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query linked legs: %w", err)
	}
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var l [3]string
		var id sql.NullString
		if err := rows.Scan(&id, &l[1], &l[2]); err != nil {
			return nil, fmt.Errorf("scan linked leg: %w", err)
		}
		if !id.Valid || id.String == "" || id.String == "null" {
			continue
		}
		l[0] = id.String
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read linked legs: %w", err)
	}
	return out, nil
}

// buildFlow assembles the flow of Call-ID id; withRaw fills raw texts.
func (a *API) buildFlow(ctx context.Context, id string, tr timeRange, withRaw bool) (*Flow, error) {
	first, last, ok, err := a.span(ctx, []string{id}, tr)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound(fmt.Sprintf("no SIP message with Call-ID %q between %s and %s", id, tr.From.Format(time.RFC3339), tr.To.Format(time.RFC3339)))
	}
	margin := a.cfg.FlowMargin
	f := &Flow{CallID: id}
	legs := map[string]*Leg{id: {CallID: id}}
	order := []string{id}
	frontier := []string{id}
	for len(frontier) > 0 {
		found, err := a.links(ctx, frontier, first.Add(-margin), last.Add(margin))
		if err != nil {
			return nil, err
		}
		frontier = frontier[:0:0]
		for _, l := range found {
			if legs[l[0]] != nil {
				continue
			}
			if len(legs) >= a.cfg.MaxLegs {
				f.Truncated = true
				continue
			}
			legs[l[0]] = &Leg{CallID: l[0], LinkedBy: l[1], LinkedTo: l[2]}
			order = append(order, l[0])
			frontier = append(frontier, l[0])
		}
		if len(frontier) > 0 {
			// New legs may run longer than what is known: widen.
			lf, ll, ok, err := a.span(ctx, frontier, timeRange{first.Add(-margin), last.Add(tr.To.Sub(tr.From))})
			if err != nil {
				return nil, err
			}
			if ok {
				first, last = minTime(first, lf), maxTime(last, ll)
			}
		}
	}
	// The legs are known: messages, RTCP, logs and DNS are independent.
	from, to := first.Add(-margin), last.Add(margin)
	var msgs []Message
	err = parallel(
		func() (err error) {
			msgs, err = a.messagesOf(ctx, sipTables, order, first, last, withRaw, a.cfg.MaxFlowMessages)
			return err
		},
		func() (err error) {
			f.RTCP, err = a.rtcpOf(ctx, order, from, to)
			return err
		},
		func() (err error) {
			f.Logs, err = a.logsOf(ctx, order, from, to)
			return err
		},
		func() error {
			hosts, domains := map[string]bool{}, map[string]bool{}
			if err := a.hostsOf(ctx, order, first, last, hosts, domains); err != nil {
				return err
			}
			var err error
			f.DNS, err = a.dnsOf(ctx, sortedKeys(hosts), domains, from, last)
			return err
		},
	)
	if err != nil {
		return nil, err
	}
	f.Messages = msgs
	f.Streams = streams(f.RTCP)
	for _, m := range msgs {
		l := legs[m.CallID]
		if l == nil {
			continue
		}
		if l.Messages == 0 {
			l.First = m.Time
		}
		l.Last = m.Time
		l.Messages++
	}
	rest := order[1:]
	slices.SortStableFunc(rest, func(x, y string) int { return legs[x].First.Compare(legs[y].First) })
	for i, c := range order {
		// A correlation id that names no stored call (an agent's own
		// token) links nothing: only legs with messages are listed.
		if i == 0 || legs[c].Messages > 0 {
			f.Legs = append(f.Legs, *legs[c])
		}
	}
	f.First, f.Last = first, last
	return f, nil
}

// parallel runs fns concurrently and returns the first error.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// hostsOf adds the addresses of the legs' SIP messages to hosts and their
// from, to and request-URI domains to domains.
func (a *API) hostsOf(ctx context.Context, ids []string, from, to time.Time, hosts, domains map[string]bool) error {
	var q strings.Builder
	var args []any
	for i, t := range sipTables {
		if i > 0 {
			q.WriteString(" UNION ")
		}
		fmt.Fprintf(&q, "SELECT DISTINCT COALESCE(src_ip,''), COALESCE(dst_ip,''), COALESCE(from_domain,''), COALESCE(to_domain,''), COALESCE(ruri_domain,'')"+
			" FROM `%s` WHERE create_date BETWEEN ? AND ? AND callid IN (%s)", t, placeholders(len(ids)))
		args = append(args, from, to)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := a.query(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("query call hosts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d [5]string
		if err := rows.Scan(&d[0], &d[1], &d[2], &d[3], &d[4]); err != nil {
			return fmt.Errorf("scan call hosts: %w", err)
		}
		hosts[d[0]], hosts[d[1]] = true, true
		for _, x := range d[2:] {
			x = strings.ToLower(strings.TrimSuffix(x, "."))
			if x != "" && !isIPLiteral(x) {
				domains[x] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read call hosts: %w", err)
	}
	return nil
}

// isIPLiteral reports whether a SIP host is an address, not a name.
func isIPLiteral(h string) bool {
	return strings.HasPrefix(h, "[") || strings.Trim(h, "0123456789.") == ""
}

// forDomain reports whether a DNS name is one of the domains or under one.
func forDomain(qname string, domains map[string]bool) bool {
	q := strings.ToLower(strings.TrimSuffix(qname, "."))
	for {
		if domains[q] {
			return true
		}
		_, rest, ok := strings.Cut(q, ".")
		if !ok {
			return false
		}
		q = rest
	}
}

func (a *API) rtcpOf(ctx context.Context, ids []string, from, to time.Time) ([]RTCPEntry, error) {
	rows, err := a.correlated(ctx, "hep_proto_5_default", "create_date, correlation_id, COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0), payload", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query rtcp: %w", err)
	}
	defer rows.Close()
	out := []RTCPEntry{}
	for rows.Next() {
		var e RTCPEntry
		var p []byte
		if err := rows.Scan(&e.Time, &e.CorrelationID, &e.SrcIP, &e.SrcPort, &e.DstIP, &e.DstPort, &p); err != nil {
			return nil, fmt.Errorf("scan rtcp: %w", err)
		}
		e.Time = e.Time.UTC()
		e.TimeUS = e.Time.UnixMicro()
		e.Report = json.RawMessage(p)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rtcp: %w", err)
	}
	return out, nil
}

// rtcpReport is the part of the stored RTCP JSON (package hep/rtcp) the
// stream series use.
type rtcpReport struct {
	SSRC   uint32 `json:"ssrc"`
	Blocks []struct {
		SourceSSRC   uint32 `json:"source_ssrc"`
		FractionLost uint32 `json:"fraction_lost"`
		PacketsLost  int64  `json:"packets_lost"`
		Jitter       uint32 `json:"ia_jitter"`
		LSR          uint32 `json:"lsr"`
		DLSR         uint32 `json:"dlsr"`
	} `json:"report_blocks"`
}

// streams groups the report blocks of entries into per-stream series.
func streams(entries []RTCPEntry) []Stream {
	out := []Stream{}
	idx := map[[2]uint32]int{}
	for _, e := range entries {
		var r rtcpReport
		if json.Unmarshal(e.Report, &r) != nil {
			continue
		}
		for _, b := range r.Blocks {
			k := [2]uint32{r.SSRC, b.SourceSSRC}
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, Stream{ReporterSSRC: r.SSRC, SourceSSRC: b.SourceSSRC, CallID: e.CorrelationID,
					Src: hostPort(e.SrcIP, e.SrcPort), Dst: hostPort(e.DstIP, e.DstPort), Points: []StreamPoint{}})
			}
			p := StreamPoint{TimeUS: e.TimeUS, JitterMS: float64(b.Jitter) / 8,
				FractionLost: float64(b.FractionLost) * 100 / 256, PacketsLost: b.PacketsLost}
			if b.LSR != 0 {
				// RTT = arrival (middle 32 bits of NTP time) - LSR - DLSR, in 1/65536 s.
				arr := ntpMiddle(e.Time)
				d := arr - b.LSR - b.DLSR
				if d < 10*65536 { // beyond 10 s the clocks disagree; leave it out
					ms := float64(d) * 1000 / 65536
					p.RTTMS = &ms
				}
			}
			out[i].Points = append(out[i].Points, p)
		}
	}
	return out
}

// ntpMiddle returns the middle 32 bits of t as an NTP timestamp.
func ntpMiddle(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800
	sec := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint32(sec<<16 | frac>>16)
}

func hostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

func (a *API) logsOf(ctx context.Context, ids []string, from, to time.Time) ([]LogEntry, error) {
	rows, err := a.correlated(ctx, "hep_proto_100_default", "create_date, correlation_id, COALESCE(src_ip,''), COALESCE(dst_ip,''), COALESCE(JSON_UNQUOTE(JSON_EXTRACT(payload,'$.message')),'')", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query logs: %w", err)
	}
	defer rows.Close()
	out := []LogEntry{}
	for rows.Next() {
		var e LogEntry
		if err := rows.Scan(&e.Time, &e.CorrelationID, &e.SrcIP, &e.DstIP, &e.Message); err != nil {
			return nil, fmt.Errorf("scan log: %w", err)
		}
		e.Time = e.Time.UTC()
		e.TimeUS = e.Time.UnixMicro()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	return out, nil
}

// dnsOf returns the DNS messages sent or received by hosts within
// [from, to] whose question is for one of domains. The DNS table has no
// qname column: the src_ip and dst_ip indexes find the hosts' messages and
// the name is checked here.
func (a *API) dnsOf(ctx context.Context, hosts []string, domains map[string]bool, from, to time.Time) ([]DNSEntry, error) {
	out := []DNSEntry{}
	if len(hosts) == 0 || len(domains) == 0 {
		return out, nil
	}
	in := placeholders(len(hosts))
	cols := "id, create_date, COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0), " +
		"COALESCE(JSON_UNQUOTE(JSON_EXTRACT(protocol_header,'$.qname')),''), COALESCE(JSON_EXTRACT(protocol_header,'$.qtype'),0), " +
		"COALESCE(JSON_EXTRACT(protocol_header,'$.qr'),'false'), COALESCE(JSON_EXTRACT(protocol_header,'$.rcode'),0), payload"
	q := fmt.Sprintf("SELECT %[1]s FROM hep_proto_53_default WHERE create_date BETWEEN ? AND ? AND src_ip IN (%[2]s)"+
		" UNION SELECT %[1]s FROM hep_proto_53_default WHERE create_date BETWEEN ? AND ? AND dst_ip IN (%[2]s) ORDER BY 2, 1", cols, in)
	var args []any
	for range 2 {
		args = append(args, from, to)
		for _, h := range hosts {
			args = append(args, h)
		}
	}
	rows, err := a.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query dns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e DNSEntry
		var id uint64
		var qr string
		var p []byte
		if err := rows.Scan(&id, &e.Time, &e.SrcIP, &e.SrcPort, &e.DstIP, &e.DstPort, &e.QName, &e.QType, &qr, &e.RCode, &p); err != nil {
			return nil, fmt.Errorf("scan dns: %w", err)
		}
		if !forDomain(e.QName, domains) {
			continue
		}
		e.Time = e.Time.UTC()
		e.TimeUS = e.Time.UnixMicro()
		e.QR = qr == "true"
		e.Message = json.RawMessage(p)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dns: %w", err)
	}
	return out, nil
}

// correlated queries cols of the rows of table whose correlation id is one
// of ids, within [from, to], in capture order.
func (a *API) correlated(ctx context.Context, table, cols string, ids []string, from, to time.Time) (*sql.Rows, error) {
	q := fmt.Sprintf("SELECT %s FROM `%s` WHERE create_date BETWEEN ? AND ? AND correlation_id IN (%s) ORDER BY create_date, id",
		cols, table, placeholders(len(ids)))
	args := []any{from, to}
	for _, id := range ids {
		args = append(args, id)
	}
	return a.query(ctx, q, args...)
}
