package bench

// The storage section's query scale run (--query-rows N): each backend is
// filled to N SIP rows — a base sample of realistic generated traffic
// written through collector/store, then copied server-side (INSERT …
// SELECT) into a day of calls: copy k is the sample shifted by k·(1 day /
// copies) with a Call-ID suffix "-c<k>" on its Call-IDs (callid,
// callid_aleg, the Call-ID and X-CID header lines of raw), so every copy is
// a distinct set of calls with the same shape, users and documents — and
// the API is queried through its HTTP handlers: Call-ID lookup, call flow
// with legs and RTCP, user search over one hour, and the issue-17 search
// kinds (wildcard, contains, party=, pid_user, diversion_user) and the
// custom search header X-Account (exact, prefix, contains) the sample's
// INVITEs and REGISTERs carry (scaleAccounts accounts).
//
// XHEP_BENCH_SCALE_DB=<database> queries a database an earlier run kept
// (XHEP_BENCH_KEEP) without filling it again, on the same UTC day (the
// sample is regenerated identically; its rows are not written; N is what
// the database holds). XHEP_BENCH_SCALE_FILL_MAX=<duration> stops the
// copies after that long and queries the rows reached.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/api"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// scaleBase is the base sample's size.
const scaleBase = 20_000

// scaleAccounts is how many X-Account values the sample's callers have.
const scaleAccounts = 300

// scaleMySQLCopies is how many copies one MySQL INSERT … SELECT writes.
const scaleMySQLCopies = 10

// scaleQuery is one measured request kind: path builds request i.
type scaleQuery struct {
	name string
	path func(i int) string
}

func (s *suite) storageScale(n int, which []string) {
	const sec = "storage"
	day := backendDay(time.Now())
	sample, err := storageRowsAt(min(n, scaleBase), day, scaleAccounts)
	if err != nil {
		s.skip(sec, "query scale", "generate: "+err.Error())
		return
	}
	base := len(sample.rows)
	copies := max(n/base, 1)
	reuse := os.Getenv("XHEP_BENCH_SCALE_DB")
	hdrs := []string{accountHeader}
	for _, name := range which {
		var b *storageBackend
		switch name {
		case "mysql":
			b, err = s.mysqlStorage(mysqlVariant{name: "mysql"}, reuse)
		case "clickhouse":
			b, err = s.clickhouseStorage(hdrs, reuse)
		default:
			err = fmt.Errorf("unknown backend %q", name)
		}
		if err != nil {
			s.skip(sec, name+" at scale", err.Error())
			continue
		}
		b.cfg.Now = func() time.Time { return day.Add(12 * time.Hour) }
		b.cfg.SearchHeaders = hdrs
		s.logf("  %s: %d SIP rows (%d base × %d copies)", name, base*copies, base, copies)
		res, err := s.scaleRun(b, sample, copies, reuse != "")
		if keep() || reuse != "" {
			s.logf("  XHEP_BENCH_KEEP: %s database kept", b.name)
		} else {
			b.cleanup()
		}
		if err != nil {
			s.skip(sec, name+" at scale", err.Error())
			continue
		}
		rows := base * res.copies
		if reuse == "" {
			s.add(Result{Section: sec, Name: fmt.Sprintf("%s at %s rows: fill", name, FormatValue(float64(rows), "")), Value: res.fill.Seconds(), Unit: "s",
				Note: fmt.Sprintf("%d rows written through the store, then %d server-side copies (INSERT … SELECT); %.0f B/row on disk; load average %s", base, res.copies-1, res.bytesRow, res.load)})
		}
		for _, q := range res.order {
			l := res.lat[q]
			s.add(Result{Section: sec, Name: fmt.Sprintf("%s at %s rows: %s p50 / p99", name, FormatValue(float64(rows), ""), q), Value: float64(l[0].Microseconds()) / 1000, Unit: "ms",
				Note: fmt.Sprintf("p99 %.1f ms; up to %d requests through the HTTP handlers, %s", float64(l[1].Microseconds())/1000, res.reqs, res.hits[q])})
		}
	}
}

// backendDay is the UTC day the scale run's traffic is dated (today: the
// store has its partitions).
func backendDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

type scaleResult struct {
	fill     time.Duration
	copies   int    // copies of the sample stored
	rows     int64  // SIP rows stored
	load     string // load average after the fill
	bytesRow float64
	reqs     int
	order    []string
	lat      map[string][2]time.Duration
	hits     map[string]string
}

func (s *suite) scaleRun(b *storageBackend, sample *storageSample, copies int, reuse bool) (*scaleResult, error) {
	ctx := s.ctx
	shift := (24 * time.Hour / time.Duration(copies)).Truncate(time.Second) // as scaleFill
	st, err := store.Open(ctx, b.cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	res := &scaleResult{lat: map[string][2]time.Duration{}, hits: map[string]string{}}
	db := st.DB()
	s.logf("    %s: database %s", b.name, st.Database())
	if !reuse {
		begin := time.Now()
		fillMax, _ := time.ParseDuration(os.Getenv("XHEP_BENCH_SCALE_FILL_MAX"))
		if copies, err = s.scaleFill(b, st, sample, copies, begin, fillMax); err != nil {
			return nil, err
		}
		res.fill = time.Since(begin)
		res.load = loadAvg()
		s.logf("    %s: filled in %v, load average %s", b.name, res.fill.Round(time.Second), res.load)
		if err := b.compact(ctx); err != nil {
			return nil, err
		}
	}
	size, err := b.sipSize(ctx)
	if err != nil {
		return nil, err
	}
	if res.rows, err = scaleCount(ctx, db, b.name); err != nil {
		return nil, err
	}
	if reuse {
		copies = int(res.rows) / len(sample.rows)
	}
	res.copies = copies
	if want := int64(len(sample.rows) * copies); res.rows != want {
		return nil, fmt.Errorf("database %s holds %d SIP rows, want %d", st.Database(), res.rows, want)
	}
	res.bytesRow = float64(size) / float64(max(res.rows, 1))
	s.logf("    %s: %d SIP rows, %.0f B/row (data + indexes)", b.name, res.rows, res.bytesRow)

	a, err := api.New(api.Config{DB: db, Backend: st.Backend().Name(), SearchHeaders: b.cfg.SearchHeaders,
		Now: func() time.Time { return sample.first.Add(24 * time.Hour) }})
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	dayQ := "from=" + url.QueryEscape(sample.first.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(sample.first.Add(24*time.Hour).Format(time.RFC3339))
	// The hour in the middle of the copies stored (12:00 when all are).
	mid := sample.first.Add(time.Duration(copies/2) * shift)
	hour := "from=" + url.QueryEscape(mid.Add(-30*time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(mid.Add(30*time.Minute).Format(time.RFC3339))
	copyOf := func(id string, i int) string { return fmt.Sprintf("%s-c%d", id, (i*7919)%copies) }
	suffix := func(id string, i int) string {
		if (i*7919)%copies == 0 {
			return id
		}
		return copyOf(id, i)
	}
	user := func(i int) string { return sample.users[(i*7919)%len(sample.users)] }
	legged := sample.legged
	if len(legged) == 0 {
		legged = sample.callIDs
	}
	queries := []scaleQuery{
		{"Call-ID lookup", func(i int) string {
			return "/api/v1/messages?callid=" + url.QueryEscape(suffix(sample.callIDs[(i*7919)%len(sample.callIDs)], i)) + "&" + dayQ
		}},
		{"call flow with legs and RTCP", func(i int) string {
			return "/api/v1/calls/" + url.PathEscape(suffix(legged[(i*7919)%len(legged)], i)) + "/flow?" + dayQ
		}},
		{"user search 1h", func(i int) string { return "/api/v1/messages?from_user=" + url.QueryEscape(user(i)) + "&" + hour }},
		{"wildcard user *NN* 1h", func(i int) string {
			u := user(i)
			return "/api/v1/messages?from_user=" + url.QueryEscape("*"+u[1:min(len(u), 3)]+"*") + "&" + hour
		}},
		{"prefix user NN* 1h", func(i int) string {
			u := user(i)
			return "/api/v1/messages?to_user=" + url.QueryEscape(u[:min(len(u), 2)]+"*") + "&" + hour
		}},
		{"party= 1h", func(i int) string { return "/api/v1/messages?party=" + url.QueryEscape(user(i)) + "&" + hour }},
		{"pid_user contains 1h", func(i int) string {
			return "/api/v1/messages?pid_user=" + url.QueryEscape("*"+user(i)[:1]+"*") + "&" + hour
		}},
		{"diversion_user contains 1h", func(i int) string {
			return "/api/v1/messages?diversion_user=" + url.QueryEscape("*"+user(i)[:1]+"*") + "&" + hour
		}},
	}
	if len(sample.accounts) > 0 {
		col := "hdr_" + strings.ReplaceAll(strings.ToLower(accountHeader), "-", "_")
		acct := func(i int) string { return sample.accounts[(i*7919)%len(sample.accounts)] }
		queries = append(queries,
			scaleQuery{"search header exact 1h", func(i int) string {
				return "/api/v1/messages?" + col + "=" + url.QueryEscape(acct(i)) + "&" + hour
			}},
			scaleQuery{"search header prefix NNN* 1h", func(i int) string { // acct-104*: 10 accounts
				return "/api/v1/messages?" + col + "=" + url.QueryEscape(acct(i)[:min(len(acct(i)), 8)]+"*") + "&" + hour
			}},
			scaleQuery{"search header contains *NN* 1h", func(i int) string { // *42*: 3 accounts
				a := acct(i)
				return "/api/v1/messages?" + col + "=" + url.QueryEscape("*"+a[max(len(a)-2, 0):]+"*") + "&" + hour
			}})
	}
	res.reqs = s.pick(10, 30)
	for _, q := range queries {
		var lat []time.Duration
		var total int64
		timeouts := 0
		kindStart := time.Now()
		for i := range res.reqs {
			// At most two minutes a kind (at least three requests).
			if i >= 3 && time.Since(kindStart) > 2*time.Minute {
				break
			}
			u := srv.URL + q.path(i)
			t0 := time.Now()
			resp, err := http.Get(u)
			if err != nil {
				return nil, err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode == http.StatusGatewayTimeout {
				// The API's query timeout (30 s): counted; three end the kind.
				if timeouts++; timeouts == 3 {
					break
				}
				continue
			}
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("%s: GET %s: %d %.300s", q.name, u, resp.StatusCode, body)
			}
			total += int64(strings.Count(string(body), `"callid":`))
		}
		slices.Sort(lat)
		res.order = append(res.order, q.name)
		res.lat[q.name] = [2]time.Duration{lat[len(lat)/2], lat[len(lat)*99/100]}
		res.hits[q.name] = fmt.Sprintf("%.0f Call-ID fields per answer on average", float64(total)/float64(max(len(lat)-timeouts, 1)))
		if timeouts > 0 {
			res.hits[q.name] = fmt.Sprintf("%d of %d requests hit the API's 30 s query timeout (504; three stop the kind)", timeouts, len(lat))
		}
		s.logf("    %s: %s p50 %v p99 %v", b.name, q.name, res.lat[q.name][0].Round(100*time.Microsecond), res.lat[q.name][1].Round(100*time.Microsecond))
	}
	return res, nil
}

// scaleFill writes the sample through st and copies it server-side
// until the SIP tables hold copies × the sample, logging progress; with
// fillMax > 0 it stops after that long. It returns the copies stored.
func (s *suite) scaleFill(b *storageBackend, st *store.Store, sample *storageSample, copies int, begin time.Time, fillMax time.Duration) (int, error) {
	ctx := s.ctx
	for i := range sample.rows {
		if err := st.Write(&sample.rows[i]); err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
	}
	if err := st.Flush(ctx); err != nil {
		return 0, fmt.Errorf("flush: %w", err)
	}
	span := sample.last.Sub(sample.first) + time.Second
	shift := 24 * time.Hour / time.Duration(copies)
	if shift < span {
		return 0, fmt.Errorf("%d copies of a %v sample do not fit in a day: fewer rows, or a larger base", copies, span)
	}
	shift = shift.Truncate(time.Second)
	db := st.DB()
	per := 50 // ClickHouse: copies a statement (ARRAY JOIN)
	if b.name != "clickhouse" {
		// MySQL: the copies read a staging copy of the sample (no
		// index but its id), joined with MariaDB's sequence engine.
		per = scaleMySQLCopies
		for _, q := range scaleStageSQL(sample, false) {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return 0, fmt.Errorf("stage the sample: %w", err)
			}
		}
		defer func() {
			for _, q := range scaleStageSQL(sample, true) {
				if _, err := db.ExecContext(context.Background(), q); err != nil {
					s.logf("    %s: drop the staging tables: %v", b.name, err)
				}
			}
		}()
	}
	rowsPer := len(sample.rows)
	k := 1
	for k < copies {
		n := min(copies-k, per)
		for _, q := range scaleCopySQL(b.name, st.Database(), sample, k, n, shift) {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return 0, fmt.Errorf("copy %d: %w", k, err)
			}
		}
		k += n
		if (k-n)*20/copies != k*20/copies || k >= copies { // every twentieth
			s.logf("    %s: %d of %d copies (%d rows), %v, load average %s", b.name, k, copies, k*rowsPer, time.Since(begin).Round(time.Second), loadAvg())
		}
		if fillMax > 0 && time.Since(begin) > fillMax && k < copies {
			s.logf("    %s: XHEP_BENCH_SCALE_FILL_MAX %v reached at %d of %d copies (%d rows)", b.name, fillMax, k, copies, k*rowsPer)
			break
		}
	}
	return k, nil
}

// scaleCount is the number of SIP rows stored.
func scaleCount(ctx context.Context, db *sql.DB, backend string) (int64, error) {
	var total int64
	for _, t := range proto.Of(hep.ProtoSIP).Tables() {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+t+"`").Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s rows: %w", t, err)
		}
		total += n
	}
	return total, nil
}

// scaleStage names the MySQL staging table of SIP table t.
func scaleStage(t string) string { return "xhep_scale_base_" + t }

// scaleStageSQL creates (or with drop, drops) the MySQL staging tables:
// the base sample's stored columns of each SIP table, keyed by id.
func scaleStageSQL(sample *storageSample, drop bool) []string {
	var out []string
	for _, t := range proto.Of(hep.ProtoSIP).Tables() {
		if drop {
			out = append(out, "DROP TABLE IF EXISTS `"+scaleStage(t)+"`")
			continue
		}
		out = append(out, "DROP TABLE IF EXISTS `"+scaleStage(t)+"`",
			fmt.Sprintf("CREATE TABLE `%s` (PRIMARY KEY (id)) ENGINE=InnoDB AS SELECT id, gid, create_date, hep_header, protocol_header, payload, raw FROM `%s` WHERE create_date BETWEEN '%s' AND '%s'",
				scaleStage(t), t, sample.first.Format("2006-01-02 15:04:05.000000"), sample.last.Add(time.Second).Format("2006-01-02 15:04:05.000000")))
	}
	return out
}

// scaleCopySQL is the statements writing copies k..k+n-1 of the sample,
// one a SIP table.
func scaleCopySQL(be, db string, sample *storageSample, k, n int, shift time.Duration) []string {
	sh := int64(shift / time.Second)
	if be == "clickhouse" {
		cols := []string{"ts", "create_date", "id", "batch", "bpart", "mark_stream", "mark_lo", "mark_hi", "mark_rows", "gid", "proto",
			"src_ip", "dst_ip", "src_port", "dst_port", "correlation_id",
			"callid", "callid_aleg", "method", "status", "cseq_method", "ruri_user", "ruri_domain", "from_user", "from_domain",
			"to_user", "to_domain", "user_agent", "hep_header", "protocol_header", "payload", "raw"}
		// The search header columns (hdr_*) are MATERIALIZED from
		// protocol_header: the copies compute them.
		sel := make([]string, len(cols))
		copy(sel, cols)
		suf := "concat('-c', toString(k))"
		for i, c := range cols {
			switch c {
			case "ts":
				sel[i] = fmt.Sprintf("ts + k * %d", sh*1_000_000)
			case "create_date":
				sel[i] = fmt.Sprintf("create_date + k * %d", sh)
			case "id":
				sel[i] = "id + k * 1000000000000"
			case "batch":
				sel[i] = "batch + k"
			case "callid":
				sel[i] = "concat(callid, " + suf + ")"
			case "callid_aleg":
				sel[i] = "if(callid_aleg = '', '', concat(callid_aleg, " + suf + "))"
			case "protocol_header":
				sel[i] = splice(splice("protocol_header", `concat('"callid":"', callid, '"')`, `concat('"callid":"', callid, `+suf+`, '"')`),
					`concat('"callid_aleg":"', callid_aleg, '"')`, `if(callid_aleg = '', concat('"callid_aleg":"', callid_aleg, '"'), concat('"callid_aleg":"', callid_aleg, `+suf+`, '"'))`)
			case "raw":
				sel[i] = splice(splice("raw", "concat(': ', callid)", "concat(': ', callid, "+suf+")"),
					"concat(': ', callid_aleg)", "if(callid_aleg = '', concat(': ', callid_aleg), concat(': ', callid_aleg, "+suf+"))")
			}
		}
		from := fmt.Sprintf("create_date >= toDateTime(%d) AND create_date <= toDateTime(%d)", sample.first.Unix(), sample.last.Unix()+1)
		var out []string
		for _, t := range proto.Of(hep.ProtoSIP).Tables() {
			// arrayMap over range(n): 18.16's range takes one argument.
			out = append(out, fmt.Sprintf("INSERT INTO `%s`.`%s` (%s) SELECT %s FROM `%s`.`%s` ARRAY JOIN arrayMap(x -> x + %d, range(%d)) AS k WHERE %s",
				db, t, strings.Join(cols, ", "), strings.Join(sel, ", "), db, t, k, n, from))
		}
		return out
	}
	// MySQL: the generated columns follow the documents; copy k is row
	// k.seq of MariaDB's sequence table seq_<k>_to_<k+n-1>, the staging
	// table joined to it (STRAIGHT_JOIN: the sequence outside).
	suf := "CONCAT('-c', k.seq)"
	cid := "JSON_VALUE(protocol_header,'$.callid')"
	aleg := "COALESCE(JSON_VALUE(protocol_header,'$.callid_aleg'),'')"
	ph := fmt.Sprintf("JSON_REPLACE(protocol_header, '$.callid', CONCAT(%[1]s, %[3]s), '$.callid_aleg', IF(%[2]s = '', %[2]s, CONCAT(%[2]s, %[3]s)))", cid, aleg, suf)
	raw := fmt.Sprintf("IF(%[2]s = '', REPLACE(raw, %[1]s, CONCAT(%[1]s, %[3]s)), REPLACE(REPLACE(raw, %[1]s, CONCAT(%[1]s, %[3]s)), CONCAT(': ', %[2]s), CONCAT(': ', %[2]s, %[3]s)))", cid, aleg, suf)
	var out []string
	for _, t := range proto.Of(hep.ProtoSIP).Tables() {
		out = append(out, fmt.Sprintf("INSERT INTO `%s` (gid, create_date, hep_header, protocol_header, payload, raw) "+
			"SELECT b.gid, b.create_date + INTERVAL k.seq * %d SECOND, b.hep_header, %s, b.payload, %s FROM seq_%d_to_%d AS k STRAIGHT_JOIN `%s` AS b",
			t, sh, ph, raw, k, k+n-1, scaleStage(t)))
	}
	return out
}

// splice is the ClickHouse expression replacing the first old in h by
// new (18.16's replaceOne wants constant arguments; position does not).
func splice(h, old, new string) string {
	p := "position(" + h + ", " + old + ")"
	return "if(" + p + " = 0, " + h + ", concat(substring(" + h + ", 1, " + p + " - 1), " + new + ", substring(" + h + ", " + p + " + length(" + old + "))))"
}

func keep() bool { return os.Getenv("XHEP_BENCH_KEEP") != "" }
