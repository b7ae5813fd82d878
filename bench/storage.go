package bench

// The storage section: the same realistic generated SIP rows into each
// store backend through collector/store, side by side: rows/s, CPU of
// this process and of the database server, bytes per stored SIP row, and
// the API's Call-ID lookup, call flow and user search latencies at the
// stored scale.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/api"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/clickhouse"
	"github.com/xhep/xhep/collector/store/mysql"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
	"github.com/xhep/xhep/hep/sip"
)

// storageRows generates realistic SIP traffic (calls with B2BUA legs,
// registrations, OPTIONS) and dissects it into rows: n distinct messages
// at most, and their Call-IDs, users and the calls with a linked leg.
type storageSample struct {
	rows     []store.Row
	callIDs  []string
	users    []string // from users
	legged   []string // B-leg Call-IDs (X-CID names their A-leg)
	accounts []string // X-Account values (storageRowsAt with accounts > 0)
	first    time.Time
	last     time.Time
}

func storageRows(n int) (*storageSample, error) { return storageRowsAt(n, time.Time{}, 0) }

// accountHeader is the custom search header the scale run's sample
// carries (with accounts > 0) and its store and API are configured with.
const accountHeader = "X-Account"

// storageRowsAt is storageRows with the traffic starting at start (zero:
// the generator's default). With accounts > 0 every INVITE and REGISTER
// request carries "X-Account: acct-<NNNN>", one of that many accounts
// chosen by its From user (a caller's account is the same on every call
// and registration, as a billing or tenant header would be), and the rows
// are dissected with X-Account as a search header.
func storageRowsAt(n int, start time.Time, accounts int) (*storageSample, error) {
	cfg := gen.DefaultConfig()
	cfg.Start = start
	cfg.Calls, cfg.Registrations, cfg.Options = n/9, n/40, n/60
	cfg.RTCP, cfg.DNS = false, false
	cfg.Rate = 2000
	_, truth, err := gen.Collect(cfg)
	if err != nil {
		return nil, err
	}
	dcfg := dissect.Config{}
	if accounts > 0 {
		dcfg.SearchHeaders = []string{accountHeader}
	}
	d, err := dissect.New(dcfg)
	if err != nil {
		return nil, err
	}
	out := &storageSample{}
	seenC, seenU, seenA := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var msg sip.Message
	for _, sm := range truth.SIP {
		if len(out.rows) == n {
			break
		}
		if accounts > 0 && sm.Status == 0 && (sm.Method == "INVITE" || sm.Method == "REGISTER") {
			_ = msg.DecodeFromBytes(sm.Raw)
			acct := accountOf(string(msg.From.URI.User), accounts)
			sm.Raw = withHeader(sm.Raw, accountHeader, acct)
			if !seenA[acct] {
				seenA[acct] = true
				out.accounts = append(out.accounts, acct)
			}
		}
		r, err := sipRow(d, sm)
		if err != nil {
			return nil, err
		}
		out.rows = append(out.rows, r)
		_ = msg.DecodeFromBytes(sm.Raw) // generated: what matters decodes
		if !seenC[sm.CallID] && sm.Method == "INVITE" {
			seenC[sm.CallID] = true
			out.callIDs = append(out.callIDs, sm.CallID)
			if len(msg.XCID) > 0 {
				out.legged = append(out.legged, sm.CallID)
			}
		}
		if u := string(msg.From.URI.User); u != "" && !seenU[u] {
			seenU[u] = true
			out.users = append(out.users, u)
		}
		if out.first.IsZero() {
			out.first = sm.TS
		}
		out.last = sm.TS
	}
	return out, nil
}

// accountOf is user's account, one of n: acct-1000 … acct-<999+n>.
func accountOf(user string, n int) string {
	h := uint32(2166136261) // FNV-1a
	for i := range len(user) {
		h = (h ^ uint32(user[i])) * 16777619
	}
	return fmt.Sprintf("acct-%d", 1000+h%uint32(n))
}

// withHeader is the SIP message raw with "name: value" added as its last
// header (the body and Content-Length unchanged).
func withHeader(raw []byte, name, value string) []byte {
	end := strings.Index(string(raw), "\r\n\r\n")
	if end < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw)+len(name)+len(value)+4)
	out = append(out, raw[:end+2]...)
	out = append(out, name+": "+value+"\r\n"...)
	return append(out, raw[end+2:]...)
}

// storageBackend is one backend of the side-by-side run.
type storageBackend struct {
	name    string
	cfg     store.Config
	pid     int
	sipSize func(ctx context.Context) (int64, error) // bytes of the SIP tables
	compact func(ctx context.Context) error          // merge/optimize, then measure again
	setup   func(ctx context.Context) error          // before the run (nil: nothing)
	cleanup func()
}

// storageFigures is one backend's measured values.
type storageFigures struct {
	rowsPerSec, selfCores, dbCores float64
	bytesRow, bytesRowCompact      float64
	lat                            map[string][2]time.Duration // p50, p99
	note                           string
}

func (s *suite) storage() {
	const sec = "storage"
	if s.opt.QueryRows > 0 && !s.opt.Quick {
		which := s.opt.QueryBackends
		if len(which) == 0 {
			which = []string{"mysql", "clickhouse"}
		}
		s.storageScale(s.opt.QueryRows, which) // storage_scale.go
		return
	}
	n := s.pick(20_000, 200_000)
	if v, err := strconv.Atoi(os.Getenv("XHEP_BENCH_STORAGE_ROWS")); err == nil && v > 0 {
		n = v
	}
	sample, err := storageRows(n)
	if err != nil {
		s.skip(sec, "storage backends", "generate: "+err.Error())
		return
	}
	n = len(sample.rows)
	// XHEP_BENCH_STORAGE_BACKENDS (comma-separated names) runs only those.
	only := map[string]bool{}
	for _, nm := range strings.Split(os.Getenv("XHEP_BENCH_STORAGE_BACKENDS"), ",") {
		if nm = strings.TrimSpace(nm); nm != "" {
			only[nm] = true
		}
	}
	want := func(name string) bool { return len(only) == 0 || only[name] }
	var backends []*storageBackend
	for _, v := range mysqlVariants {
		if !want(v.name) {
			continue
		}
		if b, err := s.mysqlStorage(v, ""); err != nil {
			s.skip(sec, v.name+" backend", err.Error())
			if v.level == 0 {
				break
			}
		} else {
			backends = append(backends, b)
		}
	}
	if want("clickhouse") {
		if b, err := s.clickhouseStorage(nil, ""); err != nil {
			s.skip(sec, "ClickHouse backend", err.Error())
		} else {
			backends = append(backends, b)
		}
	}
	figs := map[string]*storageFigures{}
	for _, b := range backends {
		s.logf("  %s: %d SIP rows", b.name, n)
		f, err := s.storageRun(b, sample)
		if os.Getenv("XHEP_BENCH_KEEP") == "" {
			b.cleanup()
		} else {
			s.logf("  XHEP_BENCH_KEEP: %s database kept", b.name)
		}
		if err != nil {
			s.skip(sec, b.name+" backend", err.Error())
			continue
		}
		figs[b.name] = f
		s.add(Result{Section: sec, Name: b.name + ": SIP rows/s through collector/store", Value: f.rowsPerSec, Unit: "rows/s",
			Target: targetFor(b.name, "≥ 200,000 SIP rows/s, collector < 1 core", "≥ heplify-server's 29,615 (issue 15)"),
			Note:   fmt.Sprintf("%d distinct generated SIP rows, first Write to Flush; collector %.2f cores, server %s; %s", n, f.selfCores, coresOrUnknown(f.dbCores), f.note)})
		s.add(Result{Section: sec, Name: b.name + ": bytes per stored SIP row", Value: f.bytesRowCompact, Unit: "B/row",
			Target: targetFor(b.name, "≤ 300 B", "< heplify-server's ~1,500 B"),
			Note: fmt.Sprintf("data + indexes (ClickHouse: + user index), after %s; %.0f B/row right after the writes",
				sizeMethod(b.name), f.bytesRow)})
		for _, q := range []string{"Call-ID lookup", "call flow with legs", "user search 1h"} {
			l := f.lat[q]
			s.add(Result{Section: sec, Name: fmt.Sprintf("%s: %s p50 / p99", b.name, q), Value: float64(l[0].Microseconds()) / 1000, Unit: "ms",
				Note: fmt.Sprintf("p99 %.1f ms; through the HTTP handlers at %d SIP rows", float64(l[1].Microseconds())/1000, n)})
		}
	}
	if len(figs) == 0 {
		return
	}
	t := Table{Section: sec, Title: fmt.Sprintf("store backends side by side (%d generated SIP rows each, same rows)", n), Columns: []string{"figure"}}
	var names []string
	for _, b := range backends {
		if figs[b.name] != nil {
			names = append(names, b.name)
			t.Columns = append(t.Columns, b.name)
		}
	}
	row := func(label string, f func(*storageFigures) string) {
		r := []string{label}
		for _, nm := range names {
			r = append(r, f(figs[nm]))
		}
		t.Rows = append(t.Rows, r)
	}
	row("SIP rows/s", func(f *storageFigures) string { return FormatValue(f.rowsPerSec, "") })
	row("collector cores", func(f *storageFigures) string { return fmt.Sprintf("%.2f", f.selfCores) })
	row("server cores", func(f *storageFigures) string { return coresOrUnknown(f.dbCores) })
	row("bytes per SIP row", func(f *storageFigures) string { return FormatValue(f.bytesRowCompact, "") })
	for _, q := range []string{"Call-ID lookup", "call flow with legs", "user search 1h"} {
		row(q+" p50 / p99 ms", func(f *storageFigures) string {
			l := f.lat[q]
			return fmt.Sprintf("%.1f / %.1f", float64(l[0].Microseconds())/1000, float64(l[1].Microseconds())/1000)
		})
	}
	t.Note = "shared 2-core machine: both servers and the collector compete for the same cores; rows/s is bound by the server's CPU"
	s.addTable(t)
}

// targetFor is the ClickHouse target for "clickhouse", the MySQL one for
// every mysql variant.
func targetFor(name, clickhouse, mysql string) string {
	if name == "clickhouse" {
		return clickhouse
	}
	return mysql
}

// sizeMethod is how a backend's bytes per row were measured.
func sizeMethod(name string) string {
	switch name {
	case "clickhouse":
		return "OPTIMIZE TABLE … FINAL"
	case "mysql":
		return "ANALYZE TABLE"
	}
	return "FLUSH TABLES … FOR EXPORT (allocated file bytes)"
}

// mysqlVariant is one MySQL/MariaDB table layout of the side-by-side run:
// plain, or page-compressed with alg (MariaDB's
// innodb_compression_algorithm, set on the bench's server before the run)
// at zlib level.
type mysqlVariant struct {
	name  string
	alg   string
	level int
}

var mysqlVariants = []mysqlVariant{
	{name: "mysql"},
	{name: "mysql-page1", alg: "zlib", level: 1},
	{name: "mysql-lz4", alg: "lz4", level: 1},
	{name: "mysql-snappy", alg: "snappy", level: 1},
}

func coresOrUnknown(c float64) string {
	if c < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.2f cores", c)
}

// storageRun writes the sample, measures size and query latency.
func (s *suite) storageRun(b *storageBackend, sample *storageSample) (*storageFigures, error) {
	reg := prometheus.NewRegistry()
	cfg := b.cfg
	cfg.Registerer = reg
	if b.setup != nil {
		if err := b.setup(s.ctx); err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	st, err := store.Open(s.ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if err := st.Flush(s.ctx); err != nil {
		return nil, err
	}
	f := &storageFigures{lat: map[string][2]time.Duration{}}
	meter := startCPU(b.pid)
	begin := time.Now()
	for i := range sample.rows {
		if err := st.Write(&sample.rows[i]); err != nil {
			return nil, fmt.Errorf("write: %w", err)
		}
	}
	if err := st.Flush(s.ctx); err != nil {
		return nil, fmt.Errorf("flush: %w", err)
	}
	el := time.Since(begin)
	f.selfCores, f.dbCores = meter.cores()
	f.rowsPerSec = float64(len(sample.rows)) / el.Seconds()
	if cnt, mean, _, ok := histogram(reg, "xhep_store_batch_seconds"); ok {
		f.note = fmt.Sprintf("%d batches, mean %.0f ms", cnt, mean*1000)
	}
	ctx := s.ctx
	size, err := b.sipSize(ctx)
	if err != nil {
		return nil, err
	}
	f.bytesRow = float64(size) / float64(len(sample.rows))
	if err := b.compact(ctx); err != nil {
		return nil, err
	}
	if size, err = b.sipSize(ctx); err != nil {
		return nil, err
	}
	f.bytesRowCompact = float64(size) / float64(len(sample.rows))

	acfg := api.Config{DB: st.DB(), Backend: st.Backend().Name(), Now: func() time.Time { return sample.last }}
	a, err := api.New(acfg)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	day := "from=" + url.QueryEscape(sample.first.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(sample.last.Add(time.Hour).Format(time.RFC3339))
	reqs := s.pick(50, 300)
	mid := sample.first.Add(sample.last.Sub(sample.first) / 2)
	hour := "from=" + url.QueryEscape(mid.Add(-30*time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(mid.Add(30*time.Minute).Format(time.RFC3339))
	queries := map[string]func(i int) string{
		"Call-ID lookup": func(i int) string {
			return "/api/v1/messages?callid=" + url.QueryEscape(sample.callIDs[(i*7919)%len(sample.callIDs)]) + "&" + day
		},
		"call flow with legs": func(i int) string {
			ids := sample.legged
			if len(ids) == 0 {
				ids = sample.callIDs
			}
			return "/api/v1/calls/" + url.PathEscape(ids[(i*7919)%len(ids)]) + "/flow?" + day
		},
		"user search 1h": func(i int) string {
			return "/api/v1/messages?from_user=" + url.QueryEscape(sample.users[(i*7919)%len(sample.users)]) + "&" + hour
		},
	}
	for name, next := range queries {
		var lat []time.Duration
		for i := range reqs {
			u := srv.URL + next(i)
			t0 := time.Now()
			resp, err := http.Get(u)
			if err != nil {
				return nil, err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("%s: GET %s: %d %.200s", name, u, resp.StatusCode, body)
			}
		}
		slices.Sort(lat)
		f.lat[name] = [2]time.Duration{lat[len(lat)/2], lat[len(lat)*99/100]}
	}
	return f, nil
}

// mysqlStorage is the MySQL/MariaDB backend on the suite's server; with
// v.level > 0 its tables are page-compressed with v.alg (MariaDB only;
// the server's innodb_compression_algorithm is set to it before the run,
// and a provider plugin's algorithm needs the plugin loaded) and sized by
// allocated file bytes. A database name in reuse is that existing
// database instead of a new one.
func (s *suite) mysqlStorage(v mysqlVariant, reuse string) (*storageBackend, error) {
	bdb, err := s.openDB("xhep_bench_st_")
	if err != nil {
		return nil, err
	}
	if reuse != "" {
		bdb.name = reuse
	}
	sipTables := proto.Of(hep.ProtoSIP).Tables()
	if v.level > 0 {
		if v.alg != "zlib" {
			if !mysql.ProviderActive(s.ctx, bdb.db, v.alg) {
				s.closeDB(bdb)
				return nil, fmt.Errorf("server has no active provider_%s plugin (mariadb-plugin-provider-%s; scripts/mariadb.sh loads it)", v.alg, v.alg)
			}
		}
		return &storageBackend{
			name: v.name,
			cfg: store.Config{DSN: bdb.dsn, Database: bdb.name, SpillDir: bdb.spill,
				MySQLPageCompression: v.level, MySQLPageCompressionAlgorithm: v.alg},
			pid: bdb.serverPID(s.ctx),
			setup: func(ctx context.Context) error {
				_, err := bdb.db.ExecContext(ctx, "SET GLOBAL innodb_compression_algorithm = "+v.alg)
				return err
			},
			sipSize: func(ctx context.Context) (int64, error) {
				// Pages still in the buffer pool are not in the file yet.
				conn, err := bdb.db.Conn(ctx)
				if err != nil {
					return 0, err
				}
				defer conn.Close()
				for _, t := range sipTables {
					if _, err := conn.ExecContext(ctx, "FLUSH TABLES `"+bdb.name+"`.`"+t+"` FOR EXPORT"); err != nil {
						return 0, err
					}
					if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
						return 0, err
					}
				}
				var n sql.NullInt64
				err = conn.QueryRowContext(ctx, "SELECT SUM(ALLOCATED_SIZE) FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE CONCAT(?, '/hep\\_proto\\_1\\_%')", bdb.name).Scan(&n)
				return n.Int64, err
			},
			compact: func(context.Context) error { return nil },
			cleanup: func() { s.closeDB(bdb) },
		}, nil
	}
	q := "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'hep\\_proto\\_1\\_%'"
	analyze := func(ctx context.Context) error {
		for _, t := range sipTables {
			rows, err := bdb.db.QueryContext(ctx, "ANALYZE TABLE `"+bdb.name+"`.`"+t+"`")
			if err != nil {
				return err
			}
			rows.Close()
		}
		return nil
	}
	return &storageBackend{
		name: "mysql",
		cfg:  store.Config{DSN: bdb.dsn, Database: bdb.name, SpillDir: bdb.spill},
		pid:  bdb.serverPID(s.ctx),
		sipSize: func(ctx context.Context) (int64, error) {
			if err := analyze(ctx); err != nil {
				return 0, err
			}
			var n int64
			err := bdb.db.QueryRowContext(ctx, q, bdb.name).Scan(&n)
			return n, err
		},
		compact: func(context.Context) error { return nil },
		cleanup: func() { s.closeDB(bdb) },
	}, nil
}

// clickhouseAddr is the ClickHouse server of the suite: XHEP_BENCH_CLICKHOUSE
// or XHEP_TEST_CLICKHOUSE (scripts/clickhouse.sh start prints one).
func clickhouseAddr() string {
	if a := os.Getenv("XHEP_BENCH_CLICKHOUSE"); a != "" {
		return a
	}
	return os.Getenv("XHEP_TEST_CLICKHOUSE")
}

// clickhouseStorage is the ClickHouse backend, with the collector's
// batch settings for it (collector/storage.go), with search headers hdrs;
// a database name in reuse is that existing database instead of a new one.
func (s *suite) clickhouseStorage(hdrs []string, reuse string) (*storageBackend, error) {
	addr := clickhouseAddr()
	if addr == "" {
		return nil, fmt.Errorf("no ClickHouse: set XHEP_BENCH_CLICKHOUSE or XHEP_TEST_CLICKHOUSE (scripts/clickhouse.sh start prints one)")
	}
	var r [4]byte
	rand.Read(r[:])
	name := "xhep_bench_st_" + hex.EncodeToString(r[:])
	if reuse != "" {
		name = reuse
	}
	user, pass := "xhep", "xhep"
	if u := os.Getenv("XHEP_BENCH_CLICKHOUSE_USER"); u != "" {
		user, pass = u, os.Getenv("XHEP_CLICKHOUSE_PASSWORD")
	}
	be, err := clickhouse.New(clickhouse.Config{Addrs: []string{addr}, Database: name, Username: user, Password: pass, SearchHeaders: hdrs})
	if err != nil {
		return nil, err
	}
	admin := sql.OpenDB(chgo.Connector(&chgo.Options{Addr: []string{addr}, Auth: chgo.Auth{Username: user, Password: pass}}))
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("ClickHouse %s unreachable: %w", addr, err)
	}
	spill, err := os.MkdirTemp(s.opt.WorkDir, "spill-")
	if err != nil {
		return nil, err
	}
	size := func(ctx context.Context) (int64, error) {
		var n int64
		err := admin.QueryRowContext(ctx, "SELECT toInt64(sum(bytes)) FROM system.parts WHERE database = ? AND active AND (table IN (?, ?, ?) OR table IN (?, ?, ?))", chSIPTables(name)...).Scan(&n)
		return n, err
	}
	return &storageBackend{
		name: "clickhouse",
		cfg: store.Config{Backend: be, SpillDir: spill, BatchRows: 50_000, BatchBytes: 64 << 20,
			FlushInterval: time.Second, QueueRows: 400_000},
		pid:     clickhousePID(addr),
		sipSize: size,
		compact: func(ctx context.Context) error {
			for _, t := range chSIPTables("")[1:] {
				t := t.(string)
				if _, err := admin.ExecContext(ctx, "OPTIMIZE TABLE `"+name+"`.`"+t+"` FINAL"); err != nil {
					return fmt.Errorf("optimize %s: %w", t, err)
				}
			}
			return nil
		},
		cleanup: func() {
			defer admin.Close()
			os.RemoveAll(spill)
			if _, err := admin.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
				s.logf("  drop database %s: %v", name, err)
			}
		},
	}, nil
}

// clickhousePID finds the local clickhouse-server serving addr's port
// (scripts/clickhouse.sh runs it with a config under clickhouse-PORT/);
// 0 when there is none.
func clickhousePID(addr string) int {
	_, port, _ := strings.Cut(addr, ":")
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil || !strings.Contains(string(b), "clickhouse") {
			continue
		}
		if strings.Contains(string(b), "clickhouse-"+port+"/") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			return pid
		}
	}
	return 0
}

// chSIPTables is name (when not empty, for a query's first argument) and
// the ClickHouse tables of SIP rows: the three SIP tables of hep/proto and
// the user index of each (<table>_users).
func chSIPTables(name string) []any {
	out := []any{name}
	sip := proto.Of(hep.ProtoSIP).Tables()
	for _, t := range sip {
		out = append(out, t)
	}
	for _, t := range sip {
		out = append(out, t+"_users")
	}
	return out
}
