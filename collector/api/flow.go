package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Flow is the body of GET /api/v1/calls/{callid}/flow. With merge= (a
// merged flow), the flow of several calls at once: every leg of each,
// every message once.
type Flow struct {
	CallID string `json:"callid"`
	// Merged are the calls merged into CallID's flow (merge=), in the
	// order asked.
	Merged   []string    `json:"merged,omitempty"`
	Legs     []Leg       `json:"legs"` // the call itself first, then the merged calls and linked legs by first time
	First    time.Time   `json:"first"`
	Last     time.Time   `json:"last"`
	Messages []Message   `json:"messages"` // every SIP message of every leg, capture order
	Streams  []Stream    `json:"rtcp_streams"`
	RTCP     []RTCPEntry `json:"rtcp"`
	DNS      []DNSEntry  `json:"dns"`
	Logs     []LogEntry  `json:"logs"`
	// Media are the HEP type 34 quality reports of the legs (agent
	// --rtp-stats), capture order.
	Media []MediaEntry `json:"media"`
	// Truncated is set when the leg closure stopped at Config.MaxLegs.
	Truncated bool `json:"truncated,omitempty"`
	// Aliases names the flow's addresses that an alias prefix covers
	// (--alias, and with accounts the stored ones): IP → name, and
	// "IP:PORT" ("[IPv6]:PORT") → name where a port alias names that
	// address and port otherwise; look up "IP:PORT" first, then "IP".
	Aliases map[string]string `json:"aliases,omitempty"`
}

// Leg is one Call-ID of a flow and how it was linked.
type Leg struct {
	CallID   string    `json:"callid"`
	LinkedBy string    `json:"linked_by,omitempty"` // "callid_aleg" or "correlation_id"; empty for the calls asked for (merged too)
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

var knownFlow = map[string]bool{"from": true, "to": true, "tz": true, "merge": true}

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

// requestFlow validates a /calls/{callid}/... request and builds its
// flow: with merge= (repeatable) the merged flow of the call and those.
func (a *API) requestFlow(r *http.Request) (*Flow, error) {
	id, err := callIDParam(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	tr, err := a.flowRange(q)
	if err != nil {
		return nil, err
	}
	ids, err := a.mergeIDs(id, q["merge"])
	if err != nil {
		return nil, err
	}
	return a.buildFlow(r.Context(), ids, tr, true)
}

// mergeIDs returns the calls of a flow: id, then the merged ones once
// each (empty values and id itself ignored); at most MaxLegs.
func (a *API) mergeIDs(id string, merge []string) ([]string, error) {
	ids := []string{id}
	for _, m := range merge {
		if len(m) > 255 {
			return nil, errBad("merge: a Call-ID must be 1 to 255 bytes")
		}
		if m != "" && !slices.Contains(ids, m) {
			ids = append(ids, m)
		}
	}
	if len(ids) > a.cfg.MaxLegs {
		return nil, errBad("merge: %d calls, at most %d (--api-max-legs) in one flow", len(ids), a.cfg.MaxLegs)
	}
	return ids, nil
}

func (a *API) flow(w http.ResponseWriter, r *http.Request) error {
	f, err := a.requestFlow(r)
	if err != nil {
		return err
	}
	return a.writeFlow(w, r, f)
}

// writeFlow adds the aliases of f's addresses and writes it.
func (a *API) writeFlow(w http.ResponseWriter, r *http.Request, f *Flow) error {
	var err error
	f.Aliases, err = a.aliasesOf(r.Context(), func(add func(ip string, port int)) {
		for _, m := range f.Messages {
			add(m.SrcIP, m.SrcPort)
			add(m.DstIP, m.DstPort)
		}
		for _, e := range f.RTCP {
			add(e.SrcIP, e.SrcPort)
			add(e.DstIP, e.DstPort)
		}
		for _, d := range f.DNS {
			add(d.SrcIP, d.SrcPort)
			add(d.DstIP, d.DstPort)
		}
		for _, e := range f.Media {
			add(e.SrcIP, e.SrcPort)
			add(e.DstIP, e.DstPort)
		}
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// aliasesOf names the addresses that each calls add with that an alias
// covers (--alias, and with accounts the stored ones): IP → name of the
// port-less aliases, and "IP:PORT" ("[IPv6]:PORT") → name where a port
// alias names that address and port otherwise (a client looks up
// "IP:PORT" first, then "IP"; old clients reading only IPs keep working);
// nil when there is none. Port 0 adds only the IP.
func (a *API) aliasesOf(ctx context.Context, each func(add func(ip string, port int))) (map[string]string, error) {
	am, err := a.aliasMap(ctx)
	if err != nil {
		return nil, err
	}
	if am.Len() == 0 {
		return nil, nil
	}
	out := map[string]string{}
	seen := map[string]bool{}
	ports := am.HasPorts()
	each(func(ip string, port int) {
		if !ports || port <= 0 || port > 65535 {
			port = 0
		}
		hp := ip
		if port != 0 {
			hp = hostPort(ip, port)
		}
		if seen[hp] {
			return
		}
		seen[hp] = true
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return
		}
		n, ok := am.Lookup(addr)
		if ok {
			out[ip] = n
		}
		if port != 0 {
			if pn, pok := am.LookupPort(addr, uint16(port)); pok && pn != n {
				out[hp] = pn
			}
		}
	})
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// buildFlow assembles the flow of the Call-IDs ids (one call, or the
// calls of a merged flow: the first names it); withRaw fills raw texts.
// The legs linked to any of them are found together, so a leg shared by
// two merged calls and its messages come once.
func (a *API) buildFlow(ctx context.Context, ids []string, tr timeRange, withRaw bool) (*Flow, error) {
	notFound := func(id string) error {
		return errNotFound(fmt.Sprintf("no SIP message with Call-ID %q between %s and %s", id, tr.From.Format(time.RFC3339), tr.To.Format(time.RFC3339)))
	}
	first, last, ok, err := a.q.span(ctx, ids, tr)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(ids[0])
	}
	margin := a.cfg.FlowMargin
	f := &Flow{CallID: ids[0], Merged: ids[1:]}
	if len(f.Merged) == 0 {
		f.Merged = nil
	}
	legs := map[string]*Leg{}
	for _, id := range ids {
		legs[id] = &Leg{CallID: id}
	}
	order := slices.Clone(ids)
	frontier := slices.Clone(ids)
	for len(frontier) > 0 {
		found, err := a.q.links(ctx, frontier, first.Add(-margin), last.Add(margin))
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
			lf, ll, ok, err := a.q.span(ctx, frontier, timeRange{first.Add(-margin), last.Add(tr.To.Sub(tr.From))})
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
			msgs, err = a.q.messagesOf(ctx, sipTables, order, first, last, withRaw, a.cfg.MaxFlowMessages)
			return err
		},
		func() (err error) {
			f.RTCP, err = a.q.rtcpOf(ctx, order, from, to)
			return err
		},
		func() (err error) {
			f.Logs, err = a.q.logsOf(ctx, order, from, to)
			return err
		},
		func() (err error) {
			f.Media, err = a.q.mediaOf(ctx, order, from, to)
			return err
		},
		func() error {
			hosts, domains := map[string]bool{}, map[string]bool{}
			if err := a.q.hostsOf(ctx, order, first, last, hosts, domains); err != nil {
				return err
			}
			var err error
			f.DNS, err = a.q.dnsOf(ctx, sortedKeys(hosts), domains, from, last)
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
	for _, id := range ids {
		// Each call of a merged flow must be there (span saw only that
		// one of them is).
		if legs[id].Messages == 0 {
			return nil, notFound(id)
		}
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

// addHosts adds a SIP message's addresses (src, dst) to hosts and its
// from, to and request-URI domains, lower case and not IP literals, to
// domains.
func addHosts(d [5]string, hosts, domains map[string]bool) {
	hosts[d[0]], hosts[d[1]] = true, true
	for _, x := range d[2:] {
		x = strings.ToLower(strings.TrimSuffix(x, "."))
		if x != "" && !isIPLiteral(x) {
			domains[x] = true
		}
	}
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

// rtcpReport is the part of the stored RTCP JSON (package hep/rtcp) the
// stream series use.
type rtcpReport struct {
	SSRC uint32 `json:"ssrc"`
	// ReportCount, when present, is the header's RC: 0 means the blocks
	// listed (some JSON senders write an all-zero one) are not reports.
	ReportCount *int `json:"report_count"`
	Blocks      []struct {
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
		if r.ReportCount != nil && *r.ReportCount == 0 {
			continue // an SR without report blocks: sender info only
		}
		for _, b := range r.Blocks {
			if b.SourceSSRC == 0 && b.FractionLost == 0 && b.PacketsLost == 0 && b.Jitter == 0 && b.LSR == 0 && b.DLSR == 0 {
				continue // a placeholder block, not a report "on SSRC 0"
			}
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
