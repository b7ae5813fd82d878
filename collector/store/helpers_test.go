package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// testDSN returns the DSN of the test server or skips.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		tb.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	return dsn
}

// testDatabase returns a fresh database name, dropped at cleanup.
func testDatabase(tb testing.TB, dsn string) string {
	tb.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "xhep_store_t_" + hex.EncodeToString(r[:])
	tb.Cleanup(func() {
		db := adminDB(tb, dsn)
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	return name
}

func adminDB(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	dc.DBName = ""
	c, err := mysql.NewConnector(dc)
	if err != nil {
		tb.Fatalf("connector: %v", err)
	}
	db := sql.OpenDB(c)
	tb.Cleanup(func() { db.Close() })
	return db
}

// testClock is a movable Config.Now.
type testClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *testClock { c := &testClock{}; c.set(t); return c }
func (c *testClock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }

// testLogger sends the store's log to the test log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// openTest opens a store on a fresh database; Close at cleanup.
func openTest(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	if cfg.DSN == "" {
		cfg.DSN = testDSN(tb)
	}
	if cfg.Database == "" {
		cfg.Database = testDatabase(tb, cfg.DSN)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	// Tests write rows dated years back (the generator's 2026-01-01, 1970):
	// retention deletes such rows from p_old when the partition manager
	// first runs, so write only after that run when the database is up.
	if s.dbUp.Load() {
		select {
		case <-s.maintained:
		case <-time.After(time.Minute):
			tb.Fatal("the partition manager's first run did not finish in a minute")
		}
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// rowGen builds realistic SIP rows into reused buffers (about 600 bytes
// of raw SIP and 1.5 KB of JSON, like the dissector's).
type rowGen struct {
	hh, ph, pl, raw []byte
	row             Row
}

func (g *rowGen) sip(table string, i int, ts time.Time) *Row {
	g.raw = fmt.Appendf(g.raw[:0], "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds%d\r\n"+
		"Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n"+
		"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"+
		"Call-ID: a84b4c76e66710-%d@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\n"+
		"Contact: <sip:alice@pc33.atlanta.example.com>\r\nUser-Agent: xhep-test/1.0\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: 142\r\n\r\n"+
		"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\n"+
		"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", i, i)
	g.hh = fmt.Appendf(g.hh[:0], `{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.%d","dstIp":"198.51.100.7",`+
		`"srcPort":5060,"dstPort":5060,"timeSeconds":%d,"timeUseconds":%d,"payloadType":1,"captureId":2001,`+
		`"captureName":"node-a","correlation_id":"","vlan":0,"mos":0,"transaction_type":"call","hepVersion":3}`,
		i%250, ts.Unix(), ts.Nanosecond()/1000)
	g.ph = fmt.Appendf(g.ph[:0], `{"callid":"a84b4c76e66710-%d@pc33.atlanta.example.com","callid_aleg":"","method":"INVITE",`+
		`"status":0,"reason":"","cseq":"314159 INVITE","cseq_method":"INVITE","cseq_num":314159,`+
		`"ruri_user":"bob","ruri_domain":"biloxi.example.com","from_user":"alice","from_domain":"atlanta.example.com",`+
		`"from_tag":"1928301774","to_user":"bob","to_domain":"biloxi.example.com","to_tag":"","pid_user":"",`+
		`"auth_user":"","contact_user":"alice","via_1":"SIP/2.0/UDP pc33.atlanta.example.com",`+
		`"via_1_branch":"z9hG4bK776asdhds%d","via_count":1,"user_agent":"xhep-test/1.0",`+
		`"content_type":"application/sdp","content_length":142,"expires":0,"transaction":"call","id":%d}`, i, i, i)
	g.pl = fmt.Appendf(g.pl[:0], `{"id":%d,"headers":{"via":["SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds"],`+
		`"max-forwards":"70","to":"Bob <sip:bob@biloxi.example.com>","from":"Alice <sip:alice@atlanta.example.com>;tag=1928301774",`+
		`"call-id":"a84b4c76e66710@pc33.atlanta.example.com","cseq":"314159 INVITE","contact":"<sip:alice@pc33.atlanta.example.com>",`+
		`"user-agent":"xhep-test/1.0","content-type":"application/sdp","content-length":"142"},`+
		`"sdp":{"c":"IN IP4 192.0.2.101","media":[{"type":"audio","port":49172,"proto":"RTP/AVP","codecs":["PCMU/8000"]}]}}`, i)
	g.row = Row{Table: table, CreateDate: ts, GID: 2001, HepHeader: g.hh, ProtocolHeader: g.ph, Payload: g.pl, Raw: g.raw}
	return &g.row
}

func count(tb testing.TB, s *Store, q string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := s.DB().QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

func flush(tb testing.TB, s *Store) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		tb.Fatalf("Flush: %v", err)
	}
}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
