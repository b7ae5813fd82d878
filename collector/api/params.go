package api

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// timeRange is a validated, closed range [From, To] of capture times.
type timeRange struct {
	From, To time.Time
}

// timeLayouts are the RFC 3339 shapes parseTime accepts besides full
// RFC 3339: what browsers send from a datetime-local input (no seconds
// when they are zero, no zone), a space instead of the T, and a bare
// date. A time without a zone is in loc.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04Z07:00",
}

var localLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime accepts RFC 3339 with any precision (minutes, seconds, a
// fraction), the same without a zone (taken in UTC), a bare date (its
// midnight, UTC), or Unix seconds with an optional fraction
// ("1767225600", "1767225600.25").
func parseTime(name, s string) (time.Time, error) {
	return parseTimeIn(name, s, time.UTC)
}

// parseTimeIn is parseTime with zone-less times in loc.
func parseTimeIn(name, s string, loc *time.Location) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC().Truncate(time.Microsecond), nil
	}
	return time.Time{}, errBad("%s: %q is not an RFC 3339 time (e.g. 2026-03-10T09:15Z, seconds and a fraction optional) or Unix seconds", name, s)
}

// parseRange reads from and to: defaults to the last def before now (or
// before to), refuses to before from and ranges longer than max.
func parseRange(q url.Values, now time.Time, def, max time.Duration) (timeRange, error) {
	var r timeRange
	var err error
	hasFrom, hasTo := q.Get("from") != "", q.Get("to") != ""
	if hasTo {
		if r.To, err = parseTime("to", q.Get("to")); err != nil {
			return r, err
		}
	} else {
		r.To = now.UTC()
	}
	if hasFrom {
		if r.From, err = parseTime("from", q.Get("from")); err != nil {
			return r, err
		}
	} else {
		r.From = r.To.Add(-def)
	}
	if r.To.Before(r.From) {
		return r, errBad("to (%s) is before from (%s)", r.To.Format(time.RFC3339Nano), r.From.Format(time.RFC3339Nano))
	}
	if r.To.Sub(r.From) > max {
		return r, errBad("time range %v is longer than the maximum %v", r.To.Sub(r.From), max)
	}
	return r, nil
}

// filter is one validated search condition on a generated column.
type filter struct {
	col    string
	op     string // "=" or "LIKE"
	arg    any
	sipCol bool // only SIP tables have the column
}

// stringParams are the string search parameters: name → column.
var stringParams = []string{
	"callid", "correlation_id", "from_user", "to_user", "ruri_user",
	"from_domain", "to_domain", "ruri_domain", "user_agent", "method",
}

// search is a parsed search request.
type search struct {
	timeRange
	filters []filter
	node    int64 // -1: any
	limit   int
	offset  int
}

// knownSearch are the parameters the search endpoints accept.
var knownSearch = map[string]bool{
	"from": true, "to": true, "limit": true, "offset": true, "prefix": true,
	"status": true, "src_ip": true, "dst_ip": true, "src_port": true, "dst_port": true, "node": true,
}

func init() {
	for _, p := range stringParams {
		knownSearch[p] = true
	}
}

// checkParams refuses parameters not in known.
func checkParams(q url.Values, known map[string]bool) error {
	for k := range q {
		if !known[k] {
			return errBad("unknown parameter %q", k)
		}
	}
	return nil
}

// parseSearch validates a search request's parameters.
func (a *API) parseSearch(q url.Values) (*search, error) {
	if err := checkParams(q, knownSearch); err != nil {
		return nil, err
	}
	for k, v := range q {
		if len(v) > 1 {
			return nil, errBad("parameter %q given %d times", k, len(v))
		}
	}
	s := &search{node: -1, limit: 100}
	var err error
	if s.timeRange, err = parseRange(q, a.cfg.Now(), a.cfg.DefaultRange, a.cfg.MaxRange); err != nil {
		return nil, err
	}
	prefix := false
	switch q.Get("prefix") {
	case "", "0", "false":
	case "1", "true":
		prefix = true
	default:
		return nil, errBad("prefix: %q is not 0 or 1", q.Get("prefix"))
	}
	for _, p := range stringParams {
		v := q.Get(p)
		if v == "" {
			continue
		}
		if len(v) > 255 {
			return nil, errBad("%s: longer than 255 bytes", p)
		}
		f := filter{col: p, op: "=", arg: v, sipCol: p != "correlation_id"}
		if prefix && p != "method" {
			f.op, f.arg = "LIKE", likePrefix(v)
		}
		s.filters = append(s.filters, f)
	}
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 999 {
			return nil, errBad("status: %q is not a response code (0-999)", v)
		}
		s.filters = append(s.filters, filter{col: "status", op: "=", arg: n, sipCol: true})
		if n > 0 {
			// status has no index; a response's method column holds its
			// code as a string (HOMER's convention), and method has one.
			s.filters = append(s.filters, filter{col: "method", op: "=", arg: strconv.Itoa(n), sipCol: true})
		}
	}
	for _, p := range []string{"src_ip", "dst_ip"} {
		v := q.Get(p)
		if v == "" {
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, errBad("%s: %q is not an IP address", p, v)
		}
		s.filters = append(s.filters, filter{col: p, op: "=", arg: ip.Unmap().String()})
	}
	for _, p := range []string{"src_port", "dst_port"} {
		v := q.Get(p)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return nil, errBad("%s: %q is not a port (0-65535)", p, v)
		}
		s.filters = append(s.filters, filter{col: p, op: "=", arg: n})
	}
	if v := q.Get("node"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<32-1 {
			return nil, errBad("node: %q is not a capture id (0-4294967295)", v)
		}
		s.node = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, errBad("limit: %q is not a positive integer", v)
		}
		if n > a.cfg.MaxLimit {
			return nil, errBad("limit %d is above the maximum %d", n, a.cfg.MaxLimit)
		}
		s.limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			return nil, errBad("offset: %q is not an integer in 0..100000", v)
		}
		s.offset = n
	}
	return s, nil
}

// likePrefix escapes s for LIKE and appends the wildcard.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// where builds the WHERE clause of s (time range first) and its arguments.
func (s *search) where() (string, []any) {
	var b strings.Builder
	args := []any{s.From, s.To}
	b.WriteString("create_date BETWEEN ? AND ?")
	for _, f := range s.filters {
		b.WriteString(" AND ")
		b.WriteString(f.col)
		b.WriteByte(' ')
		b.WriteString(f.op)
		b.WriteString(" ?")
		args = append(args, f.arg)
	}
	if s.node >= 0 {
		b.WriteString(" AND gid = ?")
		args = append(args, s.node)
	}
	return b.String(), args
}
