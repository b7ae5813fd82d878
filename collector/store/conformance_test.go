package store_test

// The store conformance suite: the backend-neutral store's guarantees
// (exactly once, journal marks, retention, the size limit, outage with
// spill and drain, close drain) run from one table of cases against each
// backend — MySQL/MariaDB (XHEP_TEST_DSN) and ClickHouse
// (XHEP_TEST_CLICKHOUSE) — on the same rows; each backend's answer must
// equal the case's (so the backends answer alike). An outage is a real one for the
// client: the store talks to the server through a loopback TCP relay
// that the test cuts (connections reset, new ones refused) and restores.
// EXPLAIN checks stay in the MySQL tests (store_test.go).

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/collector/store/clickhouse"
)

// relay forwards loopback TCP connections to a server until cut.
type relay struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go r.serve()
	t.Cleanup(func() { ln.Close(); r.cut() })
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.down {
			r.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", r.target, 5*time.Second)
		if err != nil {
			r.mu.Unlock()
			c.Close()
			continue
		}
		r.conns[c], r.conns[s] = true, true
		r.mu.Unlock()
		go r.pipe(c, s)
		go r.pipe(s, c)
	}
}

func (r *relay) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut resets every relayed connection and refuses new ones until restore.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for c := range r.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
	clear(r.conns)
}

func (r *relay) restore() {
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
}

// kind is one backend of the suite.
type kind struct {
	name string
	// openOn opens a store on database db ("": a fresh one, dropped at
	// cleanup) through addr (a relay to the server; "": the server).
	openOn func(t *testing.T, cfg store.Config, addr, db string) *store.Store
	// server is the server's address (for a relay).
	server string
	// dayCount is the SQL counting table's rows with create_date in a day
	// given as two unix-second arguments.
	dayCount string
	// distinct is the SQL of distinct rows (capture time, raw) of a table.
	distinct string
}

// open opens a store on a fresh database.
func (k kind) open(t *testing.T, cfg store.Config, addr string) *store.Store {
	return k.openOn(t, cfg, addr, "")
}

func kinds(t *testing.T) []kind {
	var out []kind
	if dsn := os.Getenv("XHEP_TEST_DSN"); dsn != "" {
		dc, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatalf("XHEP_TEST_DSN: %v", err)
		}
		out = append(out, kind{
			name:     "mysql",
			server:   dc.Addr,
			dayCount: "SELECT COUNT(*) FROM `%s` WHERE create_date >= FROM_UNIXTIME(?) AND create_date < FROM_UNIXTIME(?)",
			distinct: "SELECT COUNT(DISTINCT create_date, MD5(raw)) FROM `%s`",
			openOn: func(t *testing.T, cfg store.Config, addr, db string) *store.Store {
				c := dc.Clone()
				if addr != "" {
					c.Addr = addr
				}
				cfg.DSN = c.FormatDSN()
				if db == "" {
					db = dbName()
					t.Cleanup(func() { dropMySQL(t, dc, db) })
				}
				cfg.Database = db
				return openStore(t, cfg)
			},
		})
	}
	if ch := os.Getenv("XHEP_TEST_CLICKHOUSE"); ch != "" {
		out = append(out, kind{
			name:     "clickhouse",
			server:   ch,
			dayCount: "SELECT count() FROM `%s` WHERE create_date >= toDateTime(?) AND create_date < toDateTime(?)",
			distinct: "SELECT uniqExact(ts, raw) FROM `%s`",
			openOn: func(t *testing.T, cfg store.Config, addr, db string) *store.Store {
				if addr == "" {
					addr = ch
				}
				if db == "" {
					db = dbName()
					t.Cleanup(func() { dropClickHouse(t, ch, db) })
				}
				b, err := clickhouse.New(clickhouse.Config{Addrs: []string{addr}, Database: db, Username: "xhep", Password: "xhep"})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Backend = b
				return openStore(t, cfg)
			},
		})
	}
	if len(out) < 2 {
		t.Skip("the store conformance suite needs both servers: set XHEP_TEST_DSN (scripts/mariadb.sh start) and XHEP_TEST_CLICKHOUSE (scripts/clickhouse.sh start)")
	}
	return out
}

func dbName() string {
	var r [4]byte
	rand.Read(r[:])
	return "xhep_conf_" + hex.EncodeToString(r[:])
}

func dropMySQL(t *testing.T, dc *mysql.Config, db string) {
	c := dc.Clone()
	c.DBName = ""
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Errorf("drop %s: %v", db, err)
		return
	}
	h := sql.OpenDB(conn)
	defer h.Close()
	if _, err := h.Exec("DROP DATABASE IF EXISTS `" + db + "`"); err != nil {
		t.Errorf("drop %s: %v", db, err)
	}
}

func dropClickHouse(t *testing.T, addr, db string) {
	b, err := clickhouse.New(clickhouse.Config{Addrs: []string{addr}, Database: "default", Username: "xhep", Password: "xhep"})
	if err != nil {
		t.Errorf("drop %s: %v", db, err)
		return
	}
	defer b.Close()
	if _, err := b.DB().Exec("DROP DATABASE IF EXISTS `" + db + "`"); err != nil {
		t.Errorf("drop %s: %v", db, err)
	}
}

type tbWriter struct{ t *testing.T }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func openStore(t *testing.T, cfg store.Config) *store.Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func flush(t *testing.T, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// sipRow is SIP row i of table at ts, with its own buffers.
func sipRow(table string, i int, ts time.Time) *store.Row {
	raw := fmt.Sprintf("INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK%d\r\n"+
		"From: <sip:alice%d@atlanta.example.com>;tag=1\r\nTo: <sip:bob@biloxi.example.com>\r\nCall-ID: conf-%d@pc33\r\n"+
		"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", i, i, i)
	hh := fmt.Sprintf(`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.%d","dstIp":"198.51.100.7","srcPort":5060,"dstPort":5060,`+
		`"timeSeconds":%d,"timeUseconds":%d,"payloadType":1,"captureId":2001,"correlation_id":""}`, i%250, ts.Unix(), ts.Nanosecond()/1000)
	ph := fmt.Sprintf(`{"callid":"conf-%d@pc33","method":"INVITE","cseq_method":"INVITE","from_user":"alice%d","to_user":"bob","ruri_user":"bob"}`, i, i)
	return &store.Row{Table: table, CreateDate: ts, GID: 2001, HepHeader: []byte(hh), ProtocolHeader: []byte(ph),
		Payload: []byte(`{"first_line":"INVITE sip:bob@biloxi.example.com SIP/2.0"}`), Raw: []byte(raw)}
}

func write(t *testing.T, s *store.Store, rows ...*store.Row) {
	t.Helper()
	for _, r := range rows {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
}

func queryInt(t *testing.T, s *store.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB().QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// perDay counts table's rows on each of days.
func perDay(t *testing.T, k kind, s *store.Store, table string, days ...time.Time) map[string]int64 {
	out := map[string]int64{}
	for _, d := range days {
		d = backend.UTCDay(d)
		out[d.Format("2006-01-02")] = queryInt(t, s, fmt.Sprintf(k.dayCount, table), d.Unix(), d.AddDate(0, 0, 1).Unix())
	}
	return out
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += value(m)
		}
	}
	return v
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// confCase is one case: run returns its answer, compared across backends.
type confCase struct {
	name string
	run  func(t *testing.T, k kind) any
	want any
}

var day = 24 * time.Hour

var confCases = []confCase{
	{"exactly once: a batch written again is stored once", func(t *testing.T, k kind) any {
		s := k.open(t, store.Config{}, "")
		flush(t, s)
		ts := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
		var rows []store.Row
		for i := range 20 {
			rows = append(rows, *sipRow("hep_proto_1_call", i, ts.Add(time.Duration(i)*time.Millisecond)))
		}
		w, err := s.Backend().NewWriter()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ctx := context.Background()
		b := &backend.Batch{ID: 777, Table: "hep_proto_1_call", Rows: len(rows), Body: store.EncodeRows(rows)}
		first := w.WriteBatch(ctx, b)
		b.Retry = true
		second := w.WriteBatch(ctx, b)
		// A repair part (one row alone) is a key of its own, once too.
		one := []store.Row{*sipRow("hep_proto_1_call", 20, ts.Add(20*time.Millisecond))}
		p := &backend.Batch{ID: 777, Part: 3, Table: "hep_proto_1_call", Rows: 1, Body: store.EncodeRows(one)}
		third := w.WriteBatch(ctx, p)
		p.Retry = true
		fourth := w.WriteBatch(ctx, p)
		return map[string]any{
			"first": fmt.Sprint(first), "again": errors.Is(second, backend.ErrStored),
			"part": fmt.Sprint(third), "part again": errors.Is(fourth, backend.ErrStored),
			"rows":     queryInt(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"),
			"distinct": queryInt(t, s, fmt.Sprintf(k.distinct, "hep_proto_1_call")),
		}
	}, map[string]any{"first": "<nil>", "again": true, "part": "<nil>", "part again": true, "rows": int64(21), "distinct": int64(21)}},
	{"journal marks: the ranges of committed batches", func(t *testing.T, k kind) any {
		s := k.open(t, store.Config{MarkStream: 42, BatchRows: 50, FlushInterval: time.Hour}, "")
		ts := time.Now().UTC().Add(-time.Minute)
		for i := range 300 {
			r := sipRow("hep_proto_1_call", i, ts.Add(time.Duration(i)*time.Millisecond))
			if i%4 == 0 {
				r.Table = "hep_proto_1_registration"
			}
			r.Mark = uint64(1000 + i)
			write(t, s, r)
		}
		flush(t, s)
		ms, err := s.Marks(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		// Which records each table's marks cover (batching may differ).
		covered := map[string][]uint64{}
		for _, m := range ms {
			for seq := m.Lo; seq <= m.Hi; seq++ {
				want := "hep_proto_1_call"
				if (seq-1000)%4 == 0 {
					want = "hep_proto_1_registration"
				}
				if want == m.Table {
					covered[m.Table] = append(covered[m.Table], seq)
				}
			}
		}
		above, _ := s.Marks(context.Background(), 1299)
		return map[string]any{"covered": covered, "above last": len(above)}
	}, func() any {
		covered := map[string][]uint64{}
		for i := range 300 {
			tb := "hep_proto_1_call"
			if i%4 == 0 {
				tb = "hep_proto_1_registration"
			}
			covered[tb] = append(covered[tb], uint64(1000+i))
		}
		return map[string]any{"covered": covered, "above last": 0}
	}()},
	{"retention by class drops whole days", func(t *testing.T, k kind) any {
		now := time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC)
		s := k.open(t, store.Config{Now: func() time.Time { return now },
			Retention: map[string]time.Duration{"call": 14 * day, "registration": 3 * day, "default": 7 * day}}, "")
		days := []time.Time{now.AddDate(0, 0, -20), now.AddDate(0, 0, -4), now.AddDate(0, 0, -2), now}
		n := 0
		for _, d := range days {
			for range 10 {
				for _, tb := range []string{"hep_proto_1_registration", "hep_proto_1_call", "hep_proto_1_default"} {
					write(t, s, sipRow(tb, n, d))
					n++
				}
			}
		}
		flush(t, s)
		if err := s.Maintain(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, tb := range []string{"hep_proto_1_registration", "hep_proto_1_call", "hep_proto_1_default"} {
			out[tb] = perDay(t, k, s, tb, days...)
		}
		return out
	}, map[string]any{
		"hep_proto_1_registration": map[string]int64{"2025-02-22": 0, "2025-03-10": 0, "2025-03-12": 10, "2025-03-14": 10},
		"hep_proto_1_call":         map[string]int64{"2025-02-22": 0, "2025-03-10": 10, "2025-03-12": 10, "2025-03-14": 10},
		"hep_proto_1_default":      map[string]int64{"2025-02-22": 0, "2025-03-10": 10, "2025-03-12": 10, "2025-03-14": 10},
	}},
	{"size limit drops the oldest days, never today", func(t *testing.T, k kind) any {
		now := time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC)
		s := k.open(t, store.Config{Now: func() time.Time { return now }, MaxDBSize: 1}, "")
		days := []time.Time{now.AddDate(0, 0, -3), now.AddDate(0, 0, -1), now}
		for i, d := range days {
			for j := range 20 {
				write(t, s, sipRow("hep_proto_1_call", i*100+j, d))
			}
		}
		flush(t, s)
		size0, err := s.Size(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Maintain(context.Background()); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"size before > 0": size0 > 0, "days": perDay(t, k, s, "hep_proto_1_call", days...)}
	}, map[string]any{"size before > 0": true, "days": map[string]int64{"2025-03-11": 0, "2025-03-13": 0, "2025-03-14": 20}}},
	{"outage: rows spill while the server is unreachable and drain once when it is back", func(t *testing.T, k kind) any {
		rl := newRelay(t, k.server)
		reg := prometheus.NewRegistry()
		s := k.open(t, store.Config{SpillDir: t.TempDir(), Registerer: reg, BatchRows: 100, FlushInterval: 20 * time.Millisecond}, rl.addr())
		flush(t, s)
		ts := time.Now().UTC().Add(-time.Minute)
		for i := range 300 {
			write(t, s, sipRow("hep_proto_1_call", i, ts.Add(time.Duration(i)*time.Millisecond)))
		}
		flush(t, s)
		rl.cut()
		for i := 300; i < 600; i++ {
			write(t, s, sipRow("hep_proto_1_call", i, ts.Add(time.Duration(i)*time.Millisecond)))
		}
		flush(t, s) // to the spill: the server is away
		spilled := metric(t, reg, "xhep_store_spilled_rows_total")
		downSeen := metric(t, reg, "xhep_store_db_up") == 0
		rl.restore()
		deadline := time.Now().Add(time.Minute)
		for metric(t, reg, "xhep_store_db_up") != 1 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		flush(t, s)
		return map[string]any{
			"spilled some": spilled > 0, "down seen": downSeen,
			"rows":     queryInt(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"),
			"distinct": queryInt(t, s, fmt.Sprintf(k.distinct, "hep_proto_1_call")),
			"dropped":  metric(t, reg, "xhep_store_dropped_rows_total"),
		}
	}, map[string]any{"spilled some": true, "down seen": true, "rows": int64(600), "distinct": int64(600), "dropped": float64(0)}},
	{"close drains what is queued", func(t *testing.T, k kind) any {
		s := k.open(t, store.Config{FlushInterval: time.Hour, BatchRows: 1000}, "")
		ts := time.Now().UTC().Add(-time.Minute)
		for i := range 250 {
			write(t, s, sipRow("hep_proto_1_call", i, ts.Add(time.Duration(i)*time.Millisecond)))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Counted through a second store on the same database.
		s2 := k.openOn(t, store.Config{}, "", s.Database())
		return queryInt(t, s2, fmt.Sprintf(k.distinct, "hep_proto_1_call"))
	}, int64(250)},
}

// TestStoreConformance runs every case against each backend and compares
// the answers.
func TestStoreConformance(t *testing.T) {
	ks := kinds(t)
	for _, c := range confCases {
		name := strings.NewReplacer(":", "", ",", "").Replace(strings.ReplaceAll(c.name, " ", "_"))
		t.Run(name, func(t *testing.T) {
			for _, k := range ks {
				t.Run(k.name, func(t *testing.T) {
					got := c.run(t, k)
					if diff := cmp.Diff(c.want, got); diff != "" {
						t.Errorf("%s (-want +got):\n%s", c.name, diff)
					}
				})
			}
		})
	}
}
