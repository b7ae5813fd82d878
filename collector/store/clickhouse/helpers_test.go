package clickhouse

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/collector/store"
)

// testAddr is the test server (XHEP_TEST_CLICKHOUSE, host:port) or skips.
func testAddr(tb testing.TB) string {
	tb.Helper()
	a := os.Getenv("XHEP_TEST_CLICKHOUSE")
	if a == "" {
		tb.Skip("XHEP_TEST_CLICKHOUSE is not set: start a server with scripts/clickhouse.sh start and export XHEP_TEST_CLICKHOUSE=<the address it prints>")
	}
	return a
}

func testDBName(tb testing.TB) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return "xhep_ch_t_" + hex.EncodeToString(r[:])
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// newTestBackend returns a backend on a fresh database, dropped at cleanup.
func newTestBackend(tb testing.TB, cfg Config) *Backend {
	tb.Helper()
	if len(cfg.Addrs) == 0 {
		cfg.Addrs = []string{testAddr(tb)}
	}
	if cfg.Database == "" {
		cfg.Database = testDBName(tb)
	}
	if cfg.Username == "" {
		cfg.Username, cfg.Password = "xhep", "xhep"
	}
	b, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := cfg.Database
	tb.Cleanup(func() { dropDatabase(tb, cfg, db) })
	return b
}

func dropDatabase(tb testing.TB, cfg Config, db string) {
	c, err := New(Config{Addrs: cfg.Addrs, Username: cfg.Username, Password: cfg.Password, Cluster: cfg.Cluster, Database: db})
	if err != nil {
		tb.Errorf("drop %s: %v", db, err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.connect(ctx); err != nil {
		tb.Logf("drop %s: %v", db, err)
		return
	}
	for _, s := range c.currentShards() {
		for _, r := range s.replicas {
			if err := r.conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
				tb.Logf("drop %s on %s: %v", db, r.addr, err)
			}
		}
	}
}

// openStore opens a store on b; Close at cleanup.
func openStore(tb testing.TB, b *Backend, cfg store.Config) *store.Store {
	tb.Helper()
	cfg.Backend = b
	if cfg.Logger == nil {
		cfg.Logger = testLogger(tb)
	}
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func flush(tb testing.TB, s *store.Store) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		tb.Fatalf("Flush: %v", err)
	}
}

func count(tb testing.TB, db *sql.DB, q string, args ...any) uint64 {
	tb.Helper()
	var n uint64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// rowGen builds SIP rows like the dissector's into reused buffers.
type rowGen struct {
	hh, ph, pl, raw []byte
	row             store.Row
}

func (g *rowGen) sip(table string, i int, ts time.Time) *store.Row {
	g.raw = fmt.Appendf(g.raw[:0], "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds%d\r\n"+
		"Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n"+
		"From: Alice <sip:alice%d@atlanta.example.com>;tag=1928301774\r\n"+
		"Call-ID: a84b4c76e66710-%d@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\n"+
		"Contact: <sip:alice@pc33.atlanta.example.com>\r\nUser-Agent: xhep-test/1.0\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: 142\r\n\r\n"+
		"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\n"+
		"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", i, i%100, i)
	g.hh = fmt.Appendf(g.hh[:0], `{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.%d","dstIp":"198.51.100.7",`+
		`"srcPort":5060,"dstPort":5062,"timeSeconds":%d,"timeUseconds":%d,"payloadType":1,"captureId":2001,`+
		`"captureName":"node-a","correlation_id":"","vlan":0,"mos":0,"transaction_type":"call","hepVersion":3}`,
		i%250, ts.Unix(), ts.Nanosecond()/1000)
	g.ph = fmt.Appendf(g.ph[:0], `{"callid":"a84b4c76e66710-%d@pc33.atlanta.example.com","callid_aleg":"","method":"INVITE",`+
		`"status":0,"reason":"","cseq":"314159 INVITE","cseq_method":"INVITE","cseq_num":314159,`+
		`"ruri_user":"bob","ruri_domain":"biloxi.example.com","from_user":"alice%d","from_domain":"atlanta.example.com",`+
		`"from_tag":"1928301774","to_user":"bob","to_domain":"biloxi.example.com","to_tag":"","pid_user":"",`+
		`"auth_user":"","contact_user":"alice","via_1":"SIP/2.0/UDP pc33.atlanta.example.com",`+
		`"via_1_branch":"z9hG4bK776asdhds%d","via_count":1,"user_agent":"xhep-test/1.0",`+
		`"content_type":"application/sdp","content_length":142,"expires":0,"transaction":"call","id":%d}`, i, i%100, i, i)
	g.pl = fmt.Appendf(g.pl[:0], `{"id":%d,"first_line":"INVITE sip:bob@biloxi.example.com SIP/2.0","body_length":142,`+
		`"sdp":{"c":"IN IP4 192.0.2.101","media":[{"type":"audio","port":49172,"proto":"RTP/AVP","codecs":["PCMU/8000"]}]}}`, i)
	g.row = store.Row{Table: table, CreateDate: ts, GID: 2001, HepHeader: g.hh, ProtocolHeader: g.ph, Payload: g.pl, Raw: g.raw}
	return &g.row
}
