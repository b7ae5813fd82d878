package api

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
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

// human writes a duration in days and hours when it has them ("7d",
// "1d2h", "90m0s" stays as Go writes it).
func human(d time.Duration) string {
	if d >= 24*time.Hour && d%time.Hour == 0 {
		days, h := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return d.String()
}

// parseRange reads from and to (zone-less times in the zone named by tz,
// default UTC): defaults to the last def before now (or
// before to), refuses to before from and ranges longer than max.
func parseRange(q url.Values, now time.Time, def, max time.Duration) (timeRange, error) {
	var r timeRange
	var err error
	loc := time.UTC
	if tz := q.Get("tz"); tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil || tz == "Local" {
			return r, errBad("tz: %q is not an IANA time zone (e.g. Europe/Berlin)", tz)
		}
	}
	hasFrom, hasTo := q.Get("from") != "", q.Get("to") != ""
	if hasTo {
		if r.To, err = parseTimeIn("to", q.Get("to"), loc); err != nil {
			return r, err
		}
	} else {
		r.To = now.UTC()
	}
	if hasFrom {
		if r.From, err = parseTimeIn("from", q.Get("from"), loc); err != nil {
			return r, err
		}
	} else {
		r.From = r.To.Add(-def)
	}
	if r.To.Before(r.From) {
		return r, errBad("to (%s) is before from (%s)", r.To.Format(time.RFC3339Nano), r.From.Format(time.RFC3339Nano))
	}
	if r.To.Sub(r.From) > max {
		return r, errBad("time range %s is longer than the maximum %s (--api-max-range): narrow it, or search the days one by one", human(r.To.Sub(r.From)), human(max))
	}
	return r, nil
}

// filter is one validated search condition: col (or, for the "any
// party" search, any of cols) op one of args. Columns are the generated
// ones both backends have, or the JSON-only keys in jsonCols.
type filter struct {
	col    string
	cols   []string // any of these columns (party search); col is ""
	op     string   // "=" or "LIKE"
	args   []any    // any of these values (a number with and without "+")
	sipCol bool     // only SIP tables have the column
	// anyOf, when set, makes the filter the OR of its groups, each the
	// AND of its filters (col, cols, op and args are unused then).
	anyOf [][]filter
}

// columns returns the columns f tests.
func (f filter) columns() []string {
	if f.col != "" {
		return []string{f.col}
	}
	return f.cols
}

// render writes f as "(c1 op ? OR c1 op ? OR c2 op ? ...)" (with anyOf
// "((f1 AND f2) OR (f3) ...)") with the column expressions of colExpr and
// returns its arguments.
func (f filter) render(b *strings.Builder, colExpr func(string) string) []any {
	var args []any
	b.WriteByte('(')
	if len(f.anyOf) > 0 {
		for i, g := range f.anyOf {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteByte('(')
			for j, sub := range g {
				if j > 0 {
					b.WriteString(" AND ")
				}
				args = append(args, sub.render(b, colExpr)...)
			}
			b.WriteByte(')')
		}
		b.WriteByte(')')
		return args
	}
	n := 0
	for _, c := range f.columns() {
		for _, a := range f.args {
			if n > 0 {
				b.WriteString(" OR ")
			}
			n++
			b.WriteString(colExpr(c))
			b.WriteByte(' ')
			b.WriteString(f.op)
			b.WriteString(" ?")
			args = append(args, a)
		}
	}
	b.WriteByte(')')
	return args
}

// jsonCols are searchable SIP fields without a generated column: read
// from protocol_header by each backend (not index-backed: the time range
// prunes partitions, then rows are scanned; combine with an indexed field
// on busy systems).
var jsonCols = map[string]bool{"pid_user": true, "diversion_user": true}

// stringParams are the string search parameters: name → column.
var stringParams = []string{
	"callid", "correlation_id", "from_user", "to_user", "ruri_user",
	"from_domain", "to_domain", "ruri_domain", "user_agent", "method",
	"pid_user", "diversion_user",
}

// userParams take wildcards (*), and a number matches with or without a
// leading "+"; domainParams take wildcards.
var (
	userParams   = map[string]bool{"from_user": true, "to_user": true, "ruri_user": true, "pid_user": true, "diversion_user": true, "party": true}
	domainParams = map[string]bool{"from_domain": true, "to_domain": true, "ruri_domain": true}
)

// partyCols are the columns of the "any party" search (party=): From, To,
// request-URI and P-Asserted-Identity users.
var partyCols = []string{"from_user", "to_user", "ruri_user", "pid_user"}

// likeEscape escapes LIKE's metacharacters in s.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// userFilter returns the condition for a user or domain value: with "*"
// a LIKE pattern ("*4989*" contains, "4989*" prefix, "*4989" suffix);
// with prefix a prefix LIKE; a number ("4989", "+4989") both with and
// without its "+"; else exact.
func userFilter(v string, prefix, user bool) (op string, args []any) {
	if strings.Contains(v, "*") {
		parts := strings.Split(v, "*")
		for i, p := range parts {
			parts[i] = likeEscape.Replace(p)
		}
		return "LIKE", []any{strings.Join(parts, "%")}
	}
	if prefix {
		return "LIKE", []any{likePrefix(v)}
	}
	if user && isNumber(v) {
		bare := strings.TrimPrefix(v, "+")
		return "=", []any{bare, "+" + bare}
	}
	return "=", []any{v}
}

// isNumber reports a phone-number-like value: digits, optionally after "+".
func isNumber(v string) bool {
	d := strings.TrimPrefix(v, "+")
	if d == "" {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// search is a parsed search request.
type search struct {
	timeRange
	filters []filter
	node    int64 // -1: any
	limit   int
	offset  int
	// sort is the column the message search orders by (sortKeys' value,
	// "" for the default: latest first); desc its direction.
	sort string
	desc bool
}

// sortKeys are the columns the message search sorts by on the server
// (sort=KEY, order=asc|desc): API key → column, the same name on both
// backends (MySQL's generated columns, ClickHouse's typed ones); "time"
// is create_date or ts, chosen by each querier. Search headers sort by
// their hdr_ column too. Ties are broken by time (latest first), then id.
var sortKeys = map[string]string{
	"time": "time", "method": "method", "status": "status", "callid": "callid",
	"from_user": "from_user", "to_user": "to_user", "ruri_user": "ruri_user", "user_agent": "user_agent",
	"src_ip": "src_ip", "dst_ip": "dst_ip", "src_port": "src_port", "dst_port": "dst_port", "node": "gid",
}

// knownSearch are the parameters the search endpoints accept.
var knownSearch = map[string]bool{
	"from": true, "to": true, "limit": true, "offset": true, "prefix": true, "party": true, "tz": true,
	"status": true, "src_ip": true, "dst_ip": true, "src_port": true, "dst_port": true, "node": true,
	"src_alias": true, "dst_alias": true, "alias": true, "sort": true, "order": true,
}

func init() {
	for _, p := range stringParams {
		knownSearch[p] = true
	}
}

// isHeaderCol reports a search header's column (hdr_...).
func isHeaderCol(c string) bool { return strings.HasPrefix(c, "hdr_") }

// isSearchHeader reports a configured search header's column (hdr_...).
func (a *API) isSearchHeader(c string) bool {
	return slices.ContainsFunc(a.hdrs, func(h backend.SearchHeader) bool { return h.Column == c })
}

// numericSort reports the sort columns that are numbers (the rest are
// strings, "time" each backend's time column).
func numericSort(col string) bool {
	return col == "status" || col == "src_port" || col == "dst_port" || col == "gid"
}

// checkSearchParams refuses parameters that are neither search
// parameters nor a configured search header's (hdr_...).
func (a *API) checkSearchParams(q url.Values) error {
	for k := range q {
		if knownSearch[k] {
			continue
		}
		if !a.isSearchHeader(k) {
			if isHeaderCol(k) {
				return errBad("unknown parameter %q: not a configured --search-header", k)
			}
			return errBad("unknown parameter %q", k)
		}
	}
	return nil
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
func (a *API) parseSearch(ctx context.Context, q url.Values) (*search, error) {
	if err := a.checkSearchParams(q); err != nil {
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
	for _, p := range append(stringParams, "party") {
		v := q.Get(p)
		if v == "" {
			continue
		}
		if len(v) > 255 {
			return nil, errBad("%s: longer than 255 bytes", p)
		}
		f := filter{col: p, op: "=", args: []any{v}, sipCol: p != "correlation_id"}
		switch {
		case userParams[p] || domainParams[p]:
			if strings.Trim(v, "*") == "" {
				return nil, errBad("%s: %q matches everything; leave it empty instead", p, v)
			}
			f.op, f.args = userFilter(v, prefix, userParams[p])
		case prefix && p != "method":
			f.op, f.args = "LIKE", []any{likePrefix(v)}
		}
		if p == "party" {
			f.col, f.cols = "", partyCols
		}
		s.filters = append(s.filters, f)
	}
	if err := a.aliasFilters(ctx, q, s); err != nil {
		return nil, err
	}
	for _, h := range a.hdrs {
		v := q.Get(h.Column)
		if v == "" {
			continue
		}
		if len(v) > 255 {
			return nil, errBad("%s: longer than 255 bytes", h.Column)
		}
		if strings.Trim(v, "*") == "" {
			return nil, errBad("%s: %q matches everything; leave it empty instead", h.Column, v)
		}
		// Case-insensitive on both backends: MariaDB's utf8mb4 collation
		// compares so, ClickHouse compares lower case (chCol).
		f := filter{col: h.Column, sipCol: true}
		f.op, f.args = userFilter(strings.ToLower(v), prefix, false)
		s.filters = append(s.filters, f)
	}
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 999 {
			return nil, errBad("status: %q is not a response code (0-999)", v)
		}
		s.filters = append(s.filters, filter{col: "status", op: "=", args: []any{n}, sipCol: true})
		if n > 0 {
			// status has no index; a response's method column holds its
			// code as a string (HOMER's convention), and method has one.
			s.filters = append(s.filters, filter{col: "method", op: "=", args: []any{strconv.Itoa(n)}, sipCol: true})
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
		s.filters = append(s.filters, filter{col: p, op: "=", args: []any{ip.Unmap().String()}})
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
		s.filters = append(s.filters, filter{col: p, op: "=", args: []any{n}})
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
	if err := a.parseSort(q, s); err != nil {
		return nil, err
	}
	return s, nil
}

// parseSort reads sort= (a key of sortKeys or a configured search
// header's hdr_ column) and order= (asc or desc; asc by default, desc
// for time).
func (a *API) parseSort(q url.Values, s *search) error {
	k, o := q.Get("sort"), q.Get("order")
	if k == "" {
		if o != "" {
			return errBad("order= needs sort=")
		}
		return nil
	}
	col, ok := sortKeys[k]
	if !ok && a.isSearchHeader(k) {
		col, ok = k, true
	}
	if !ok {
		keys := slices.Sorted(maps.Keys(sortKeys))
		return errBad("sort: %q is not a sortable column (%s, or a --search-header's hdr_ column)", k, strings.Join(keys, ", "))
	}
	s.sort, s.desc = col, col == "time"
	switch o {
	case "":
	case "asc":
		s.desc = false
	case "desc":
		s.desc = true
	default:
		return errBad("order: %q is not asc or desc", o)
	}
	return nil
}

// likePrefix escapes s for LIKE and appends the wildcard.
func likePrefix(s string) string { return likeEscape.Replace(s) + "%" }

// mysqlCol is a filter column's expression on MySQL/MariaDB.
func mysqlCol(c string) string {
	if jsonCols[c] {
		return "JSON_VALUE(protocol_header,'$." + c + "')"
	}
	if ip, ok := strings.CutSuffix(c, hexSuffix); ok {
		// An IPv6 address column as 32 hex digits ('' for IPv4).
		return "IF(" + ip + " LIKE '%:%',HEX(INET6_ATON(" + ip + ")),'')"
	}
	return c
}

// where builds the MySQL WHERE clause of s (time range first) and its
// arguments.
func (s *search) where() (string, []any) {
	var b strings.Builder
	args := []any{s.From, s.To}
	b.WriteString("create_date BETWEEN ? AND ?")
	for _, f := range s.filters {
		b.WriteString(" AND ")
		args = append(args, f.render(&b, mysqlCol)...)
	}
	if s.node >= 0 {
		b.WriteString(" AND gid = ?")
		args = append(args, s.node)
	}
	return b.String(), args
}
