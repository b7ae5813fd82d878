package api

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// benchDay is the first day of the benchmark's data (three days of it).
var benchDay = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)

const benchSpan = 72 * time.Hour

// tmplRow is one dissected row of the template capture.
type tmplRow struct {
	table  string
	offset time.Duration // from the template's start
	fields []byte        // hep_header, protocol_header, payload, raw: escaped for LOAD DATA, TAB-separated
	ids    []string      // the Call-IDs that occur in fields
}

// template is one generated capture, dissected, that the load replicates
// with Call-IDs made unique and times spread over benchSpan.
type template struct {
	start   time.Time // replicas are spread from start over span
	span    time.Duration
	rewrite bool // move the replicas' addresses from 10.0/16 and 10.1/16 to 172.16/16 and 172.17/16
	rows    []tmplRow
	sipRows int
	dur     time.Duration
	pairs   [][2]string // B2BUA calls: A leg, B leg
	callIDs []string    // every INVITE Call-ID
	users   []string    // From users of INVITEs
}

func newTemplate(b testing.TB, dns bool) *template {
	cfg := gen.DefaultConfig()
	cfg.Seed = 66
	cfg.Start = benchDay
	cfg.Calls, cfg.Registrations, cfg.Options = 300, 30, 20
	cfg.DNS = dns
	tr, dnsPayloads, err := generate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	d, err := dissect.New(dissect.Config{})
	if err != nil {
		b.Fatal(err)
	}
	tp := &template{start: benchDay, span: benchSpan}
	ids := map[string]bool{}
	users := map[string]bool{}
	for _, m := range tr.SIP {
		ids[m.CallID] = true
		if m.Method == "INVITE" {
			if v := header(m.Raw, "X-CID"); v != "" {
				tp.pairs = append(tp.pairs, [2]string{v, m.CallID})
			}
			if !slices.Contains(tp.callIDs, m.CallID) {
				tp.callIDs = append(tp.callIDs, m.CallID)
			}
		}
	}
	idList := sortedKeys(ids)
	var row store.Row
	add := func(m *hep.Message) {
		if err := d.Dissect(m, &row); err != nil {
			b.Fatalf("dissect: %v", err)
		}
		var f []byte
		for i, x := range [4][]byte{row.HepHeader, row.ProtocolHeader, row.Payload, row.Raw} {
			if i > 0 {
				f = append(f, '\t')
			}
			f = appendTSV(f, x)
		}
		tr := tmplRow{table: row.Table, offset: row.CreateDate.Sub(benchDay), fields: f}
		for _, id := range idList {
			if bytes.Contains(f, []byte(id)) {
				tr.ids = append(tr.ids, id)
			}
		}
		tp.rows = append(tp.rows, tr)
		tp.dur = max(tp.dur, tr.offset)
	}
	for _, m := range tr.SIP {
		add(hepMessage(hep.ProtoSIP, m.Src, m.Dst, m.Transport, m.TS, m.Raw))
		tp.sipRows++
		if m.Method == "INVITE" {
			if u := userOf(header(m.Raw, "From")); u != "" {
				users[u] = true
			}
		}
	}
	for _, r := range tr.RTCP {
		m := hepMessage(hep.ProtoRTCP, r.Src, r.Dst, "udp", r.TS, r.Raw)
		m.CorrelationID = []byte(r.CallID)
		add(m)
	}
	for _, p := range tr.DNS {
		add(hepMessage(hep.ProtoDNS, p.Src, p.Dst, "udp", p.TS, dnsPayloads[dnsKey(p.Src, p.Dst, p.TS)]))
	}
	tp.users = sortedKeys(users)
	return tp
}

// userOf returns the user part of a name-addr's SIP URI.
func userOf(h string) string {
	i := strings.Index(h, "sip:")
	if i < 0 {
		return ""
	}
	u, _, ok := strings.Cut(h[i+4:], "@")
	if !ok {
		return ""
	}
	return u
}

// appendTSV escapes b for LOAD DATA (FIELDS ESCAPED BY '\\').
func appendTSV(dst, b []byte) []byte {
	for _, c := range b {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case 0:
			dst = append(dst, '\\', '0')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// replica k of the template: its time offset and Call-ID suffix.
func (tp *template) at(k, n int) time.Time {
	step := (tp.span - tp.dur - time.Minute) / time.Duration(n)
	return tp.start.Add(time.Duration(k) * step)
}

func suffix(k int) string { return "-r" + strconv.Itoa(k) }

// load writes replicas of the template until sipRows SIP rows are stored,
// with LOAD DATA LOCAL INFILE on two connections.
func (tp *template) load(b testing.TB, dsn, dbName string, replicas int) {
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	dc.DBName = dbName
	dc.AllowAllFiles = true
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	type job struct {
		table string
		tsv   []byte
	}
	jobs := make(chan job, 4)
	var wg sync.WaitGroup
	var loaded atomic.Int64
	errc := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("apibench%d", w)
			for j := range jobs {
				rd := bytes.NewReader(j.tsv)
				mysql.RegisterReaderHandler(name, func() io.Reader { return rd })
				q := "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE `" + j.table + "` CHARACTER SET utf8mb4" +
					" FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'" +
					" (gid, create_date, hep_header, protocol_header, payload, raw)"
				res, err := db.Exec(q)
				if err != nil {
					select {
					case errc <- fmt.Errorf("load %s: %w", j.table, err):
					default:
					}
					continue
				}
				n, _ := res.RowsAffected()
				if t := loaded.Add(n); t/200000 != (t-n)/200000 {
					fmt.Fprintf(os.Stderr, "%s loaded %d rows\n", time.Now().UTC().Format("15:04:05"), t)
				}
			}
		}()
	}
	bufs := map[string][]byte{}
	flush := func(table string) {
		if len(bufs[table]) > 0 {
			jobs <- job{table, bufs[table]}
			bufs[table] = nil
		}
	}
	for k := range replicas {
		base := tp.at(k, replicas)
		sfx := suffix(k)
		for _, r := range tp.rows {
			buf := bufs[r.table]
			buf = append(buf, "2001\t"...)
			buf = base.Add(r.offset).AppendFormat(buf, "2006-01-02 15:04:05.000000")
			buf = append(buf, '\t')
			f := r.fields
			for _, id := range r.ids {
				f = bytes.ReplaceAll(f, []byte(id), []byte(id+sfx))
			}
			if tp.rewrite {
				f = bytes.ReplaceAll(bytes.ReplaceAll(f, []byte(`"10.0.`), []byte(`"172.16.`)), []byte(`"10.1.`), []byte(`"172.17.`))
			}
			buf = append(append(buf, f...), '\n')
			bufs[r.table] = buf
			if len(buf) > 8<<20 {
				flush(r.table)
			}
		}
	}
	for t := range bufs {
		flush(t)
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		b.Fatal(err)
	default:
	}
	fmt.Fprintf(os.Stderr, "loaded %d rows in total\n", loaded.Load())
}

// BenchmarkQueries measures the latency of a Call-ID lookup, a call flow
// with two linked legs and RTCP, and a user search over one hour through
// the HTTP handlers, on XHEP_BENCH_ROWS SIP rows (plus their RTCP) spread
// over three days of partitions. Opt-in: loading millions of rows takes
// minutes. XHEP_BENCH_DB names a database to keep and reuse between runs
// (loaded only when empty).
func BenchmarkQueries(b *testing.B) {
	nStr := os.Getenv("XHEP_BENCH_ROWS")
	if nStr == "" {
		b.Skip("XHEP_BENCH_ROWS is not set: set it (e.g. 10000000) to load that many SIP rows and measure query latency")
	}
	want, err := strconv.Atoi(nStr)
	if err != nil || want < 1000 {
		b.Fatalf("XHEP_BENCH_ROWS=%q: want an integer >= 1000", nStr)
	}
	dsn := testDSN(b)
	dbName := os.Getenv("XHEP_BENCH_DB")
	if dbName == "" {
		dbName = testDatabase(b, dsn)
	}
	// XHEP_BENCH_NODNS=1: a template without DNS traffic (as loaded by
	// earlier versions of this benchmark).
	tp := newTemplate(b, os.Getenv("XHEP_BENCH_NODNS") == "")
	replicas := (want + tp.sipRows - 1) / tp.sipRows
	st, err := store.Open(context.Background(), store.Config{DSN: dsn, Database: dbName, PartitionsAhead: 4,
		Now: func() time.Time { return benchDay }})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var have int64
	if err := st.DB().QueryRow("SELECT COUNT(*) FROM hep_proto_1_call").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		start := time.Now()
		tp.load(b, dsn, dbName, replicas)
		b.Logf("loaded %d replicas of %d SIP rows in %v", replicas, tp.sipRows, time.Since(start).Round(time.Second))
		if _, err := st.DB().Exec("ANALYZE TABLE hep_proto_1_call, hep_proto_1_registration, hep_proto_1_default, hep_proto_5_default"); err != nil {
			b.Fatal(err)
		}
	}
	var sipRows int64
	if err := st.DB().QueryRow("SELECT (SELECT COUNT(*) FROM hep_proto_1_call) + (SELECT COUNT(*) FROM hep_proto_1_registration) + (SELECT COUNT(*) FROM hep_proto_1_default)").Scan(&sipRows); err != nil {
		b.Fatal(err)
	}
	replicas = int(sipRows) / tp.sipRows
	b.Logf("%d SIP rows stored (%d replicas of the template)", sipRows, replicas)

	db := st.DB()
	if os.Getenv("XHEP_BENCH_INTERPOLATE") != "" {
		// A handle like the store's, with client-side parameter
		// interpolation: one round trip per query instead of prepare,
		// execute and close.
		dc, err := mysql.ParseDSN(dsn)
		if err != nil {
			b.Fatal(err)
		}
		dc.DBName, dc.ParseTime, dc.Loc, dc.InterpolateParams = dbName, true, time.UTC, true
		dc.Params = map[string]string{"time_zone": "'+00:00'"}
		conn, err := mysql.NewConnector(dc)
		if err != nil {
			b.Fatal(err)
		}
		db = sql.OpenDB(conn)
		defer db.Close()
	}
	a, err := New(Config{DB: db, Now: func() time.Time { return benchDay.Add(benchSpan) }})
	if err != nil {
		b.Fatal(err)
	}
	srv := newBenchServer(b, a)
	rng := rand.New(rand.NewPCG(1, 2))
	day := func(t time.Time) string {
		return "from=" + url.QueryEscape(t.Add(-12*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(t.Add(12*time.Hour).Format(time.RFC3339))
	}
	run := func(b *testing.B, next func() string, check func([]byte) error) {
		var lat []time.Duration
		for b.Loop() {
			u := srv + next()
			t0 := time.Now()
			resp, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			body := readAll(b, resp)
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != 200 {
				b.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
			}
			if err := check(body); err != nil {
				b.Fatalf("GET %s: %v", u, err)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(sipRows), "sip-rows")
	}
	b.Run("callid", func(b *testing.B) {
		run(b, func() string {
			k := rng.IntN(replicas)
			id := tp.callIDs[rng.IntN(len(tp.callIDs))] + suffix(k)
			return "/api/v1/messages?callid=" + url.QueryEscape(id) + "&" + day(tp.at(k, replicas))
		}, func(body []byte) error {
			if !bytes.Contains(body, []byte(`"callid":`)) {
				return fmt.Errorf("no message found: %s", body)
			}
			return nil
		})
	})
	b.Run("flow-2legs-rtcp", func(b *testing.B) {
		run(b, func() string {
			k := rng.IntN(replicas)
			p := tp.pairs[rng.IntN(len(tp.pairs))]
			return "/api/v1/calls/" + url.PathEscape(p[0]+suffix(k)) + "/flow?" + day(tp.at(k, replicas))
		}, func(body []byte) error {
			if bytes.Count(body, []byte(`"linked_by":"callid_aleg"`)) != 1 {
				return fmt.Errorf("not two legs: %.300s", body)
			}
			return nil
		})
	})
	b.Run("user-1h-messages", func(b *testing.B) {
		run(b, func() string {
			k := rng.IntN(replicas)
			t := tp.at(k, replicas)
			u := tp.users[rng.IntN(len(tp.users))]
			return "/api/v1/messages?from_user=" + url.QueryEscape(u) + "&from=" + url.QueryEscape(t.Add(-30*time.Minute).Format(time.RFC3339)) +
				"&to=" + url.QueryEscape(t.Add(30*time.Minute).Format(time.RFC3339))
		}, func([]byte) error { return nil })
	})
	b.Run("user-1h-calls", func(b *testing.B) {
		run(b, func() string {
			k := rng.IntN(replicas)
			t := tp.at(k, replicas)
			u := tp.users[rng.IntN(len(tp.users))]
			return "/api/v1/calls?from_user=" + url.QueryEscape(u) + "&from=" + url.QueryEscape(t.Add(-30*time.Minute).Format(time.RFC3339)) +
				"&to=" + url.QueryEscape(t.Add(30*time.Minute).Format(time.RFC3339))
		}, func([]byte) error { return nil })
	})
	// Every message of one hour, latest first (the default order) and
	// sorted on the server by a column (sort=from_user: a filesort of the
	// hour's rows on MySQL/MariaDB, no index starts with the column).
	hour := func(k int) string {
		t := tp.at(k, replicas)
		return "from=" + url.QueryEscape(t.Add(-30*time.Minute).Format(time.RFC3339)) +
			"&to=" + url.QueryEscape(t.Add(30*time.Minute).Format(time.RFC3339))
	}
	b.Run("all-1h-latest", func(b *testing.B) {
		run(b, func() string { return "/api/v1/messages?" + hour(rng.IntN(replicas)) }, func([]byte) error { return nil })
	})
	b.Run("all-1h-sorted-from-user", func(b *testing.B) {
		run(b, func() string {
			return "/api/v1/messages?sort=from_user&order=asc&" + hour(rng.IntN(replicas))
		}, func([]byte) error { return nil })
	})
}

func newBenchServer(b *testing.B, a *API) string {
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	return srv.URL
}

func readAll(b *testing.B, resp *http.Response) []byte {
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return body
}
