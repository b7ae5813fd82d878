package collector

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
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

// testDatabase returns a fresh database name and a handle on the server;
// the database is dropped at cleanup.
func testDatabase(tb testing.TB, dsn string) (string, *sql.DB) {
	tb.Helper()
	var r [4]byte
	rand.Read(r[:])
	name := "xhep_coll_t_" + hex.EncodeToString(r[:])
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	dc.DBName = ""
	c, err := mysql.NewConnector(dc)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(c)
	tb.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
		db.Close()
	})
	return name, db
}

// TestStoreEndToEnd sends every kind of message over UDP and TCP to a
// collector writing a real MariaDB, stops it (which drains the store) and
// checks the rows with SQL.
func TestStoreEndToEnd(t *testing.T) {
	dsn := testDSN(t)
	name, db := testDatabase(t, dsn)
	s, err := New(Config{
		Listen:   []string{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"},
		MySQL:    dsn,
		Database: name,
		SpillDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() == nil || s.DB().Ping() != nil {
		t.Error("DB() gives no usable handle")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	at := time.Now().UTC().Truncate(time.Microsecond)
	badUTF8 := []byte("OPTIONS sip:b.example SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK9\r\nFrom: \"J\xf6rg\xff\" <sip:j@a.example>;tag=9\r\nTo: <sip:b@b.example>\r\nCall-ID: utf8-1\r\nCSeq: 1 OPTIONS\r\nUser-Agent: \xc0\xaf\x00\r\nContent-Length: 0\r\n\r\n")
	udp := [][]byte{
		hepMsg(t, hep.ProtoSIP, sipMsg("INVITE sip:bob@b.example SIP/2.0", "db-call-1", "1 INVITE"), at, func(m *hep.Message) { m.CorrelationID = []byte("db-call-1") }),
		hepMsg(t, hep.ProtoSIP, sipMsg("SIP/2.0 200 OK", "db-call-1", "1 INVITE"), at.Add(time.Second), func(m *hep.Message) { m.Compress = true }),
		hepMsg(t, hep.ProtoSIP, sipMsg("REGISTER sip:b.example SIP/2.0", "db-reg-1", "1 REGISTER"), at, nil),
		hepMsg(t, hep.ProtoSIP, badUTF8, at, nil),
		hepMsg(t, hep.ProtoSIP, []byte("\xff\xfe not SIP at all"), at, nil),
		hepMsg(t, hep.ProtoRTCP, []byte(`{"type":201,"ssrc":42,"report_count":1,"report_blocks":[{"source_ssrc":7,"fraction_lost":3,"packets_lost":5,"highest_seq_no":9,"ia_jitter":40,"lsr":0,"dlsr":0}]}`), at, func(m *hep.Message) { m.CorrelationID = []byte("db-call-1") }),
		hepMsg(t, hep.ProtoRTCP, []byte{0x81, 0xc9, 0x00}, at, nil), // truncated binary RTCP
		hepMsg(t, hep.ProtoLog, []byte("log line \xff"), at, nil),
		hepMsg(t, 0x3c, []byte(`{"event":"cdr","duration":61}`), at, nil),
		hepMsg(t, 0x3c, []byte(`{"event":`), at, nil),
		hepMsg(t, hep.ProtoMGCP, []byte("RSIP 1 *@gw MGCP 1.0\r\n"), at, nil),
		// DNS: an A query for sip.example.com, binary, then as JSON.
		hepMsg(t, hep.ProtoDNS, []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03sip\x07example\x03com\x00\x00\x01\x00\x01"), at, nil),
		hepMsg(t, hep.ProtoDNS, []byte(`{"id":4660,"qr":false,"rescode":0,"questions":[{"name":"sip.example.com","type":1,"class":1}]}`), at, nil),
	}
	c, err := net.Dial("udp", addrOf(t, s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range udp {
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	tc, err := net.Dial("tcp", addrOf(t, s, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		tc.Write(hepMsg(t, hep.ProtoSIP, sipMsg("BYE sip:bob@b.example SIP/2.0", fmt.Sprintf("db-tcp-%d", i), "2 BYE"), at, nil))
	}
	tc.Close()
	// Wait until the listeners have taken everything, then stop: Close
	// drains the store into the database.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		st := s.IngestStats()
		if st.Messages["udp"] == uint64(len(udp)) && st.Messages["tcp"] == 20 {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	counts := map[string]int{}
	for _, table := range []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default",
		"hep_proto_5_default", "hep_proto_53_default", "hep_proto_100_default", "hep_proto_60_default", "hep_proto_6_default"} {
		var n, valid int
		q := fmt.Sprintf("SELECT COUNT(*), COALESCE(SUM(JSON_VALID(hep_header) AND JSON_VALID(protocol_header) AND JSON_VALID(payload)),0) FROM %s.%s", name, table)
		if err := db.QueryRow(q).Scan(&n, &valid); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if valid != n {
			t.Errorf("%s: %d of %d rows have invalid JSON", table, n-valid, n)
		}
		counts[table] = n
	}
	want := map[string]int{"hep_proto_1_call": 22, "hep_proto_1_registration": 1, "hep_proto_1_default": 2,
		"hep_proto_5_default": 2, "hep_proto_53_default": 2, "hep_proto_100_default": 1, "hep_proto_60_default": 2, "hep_proto_6_default": 1}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("rows per table (-want +got):\n%s", diff)
	}

	// Generated columns and the capture time survive the trip.
	var method, src, corr, created string
	var status int
	err = db.QueryRow(fmt.Sprintf("SELECT method, status, src_ip, correlation_id, DATE_FORMAT(create_date, '%%Y-%%m-%%d %%H:%%i:%%s.%%f') FROM %s.hep_proto_1_call WHERE callid = 'db-call-1' AND status = 0", name)).
		Scan(&method, &status, &src, &corr, &created)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"INVITE", 0, "192.0.2.1", "db-call-1", at.Format("2006-01-02 15:04:05.000000")}, []any{method, status, src, corr, created}); diff != "" {
		t.Errorf("INVITE row (-want +got):\n%s", diff)
	}
	var raw []byte
	var ua sql.NullString
	if err := db.QueryRow(fmt.Sprintf("SELECT raw, user_agent FROM %s.hep_proto_1_default WHERE callid = 'utf8-1'", name)).Scan(&raw, &ua); err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(badUTF8) {
		t.Errorf("raw column changed the bytes: %q", raw)
	}
	var qnames int
	if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s.hep_proto_53_default WHERE JSON_UNQUOTE(JSON_EXTRACT(protocol_header,'$.qname')) = 'sip.example.com'", name)).Scan(&qnames); err != nil {
		t.Fatal(err)
	}
	if qnames != 2 {
		t.Errorf("%d DNS rows with qname sip.example.com, want 2", qnames)
	}
	var errMsg sql.NullString
	if err := db.QueryRow(fmt.Sprintf("SELECT JSON_UNQUOTE(JSON_EXTRACT(payload,'$.error')) FROM %s.hep_proto_1_default WHERE callid IS NULL", name)).Scan(&errMsg); err != nil {
		t.Fatal(err)
	}
	if !errMsg.Valid || errMsg.String == "" {
		t.Errorf("malformed SIP stored without an error mark")
	}
}

// TestReadImport imports a capture into MariaDB with --read and --mysql.
func TestReadImport(t *testing.T) {
	dsn := testDSN(t)
	name, db := testDatabase(t, dsn)
	path := filepath.Join(t.TempDir(), "hep.pcap")
	writeGeneratedCapture(t, path, false)
	// The capture is from 2023: a retention that keeps it, or the first
	// maintenance pass deletes the imported rows from p_old (d433e9b),
	// before or after the query depending on timing.
	s, err := New(Config{Read: path, MySQL: dsn, Database: name, Retention: "call=36500d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var n int
	if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s.hep_proto_1_call WHERE callid IN ('udp-1','tcp-1','tcp-2','tcp-3')", name)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("imported %d rows, want 4", n)
	}
}
