package mysql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/xhep/xhep/collector/store/backend"
)

// TestParsePageCompression: every accepted form of --mysql-page-compression
// gives its algorithm and level, the old numeric form included, and bad
// values are refused.
func TestParsePageCompression(t *testing.T) {
	for _, tc := range []struct {
		in    string
		alg   string
		level int
	}{
		{"", "", 0}, {"off", "", 0}, {"0", "", 0}, {" OFF ", "", 0},
		{"1", "zlib", 1}, {"9", "zlib", 9}, {"zlib", "zlib", 1}, {"zlib:6", "zlib", 6},
		{"lz4", "lz4", 1}, {"LZ4", "lz4", 1}, {"snappy", "snappy", 1}, {"lzo", "lzo", 1},
	} {
		alg, level, err := ParsePageCompression(tc.in)
		if err != nil || alg != tc.alg || level != tc.level {
			t.Errorf("ParsePageCompression(%q) = %q, %d, %v; want %q, %d", tc.in, alg, level, err, tc.alg, tc.level)
		}
	}
	for _, in := range []string{"10", "-1", "zlib:0", "zlib:10", "zlib:", "lz4:1", "zstd", "on"} {
		if _, _, err := ParsePageCompression(in); err == nil || !strings.Contains(err.Error(), "want off, lz4") {
			t.Errorf("ParsePageCompression(%q): error %v, want one listing the forms", in, err)
		}
	}
	if _, err := New(Config{DSN: "u:p@tcp(127.0.0.1:1)/", PageCompressionAlgorithm: "zstd"}); err == nil {
		t.Error("New accepted algorithm zstd")
	}
}

// pageBackend is a started Backend on XHEP_TEST_DSN with its own
// database, dropped at cleanup.
func pageBackend(t *testing.T, alg string) *Backend {
	t.Helper()
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	b, err := New(Config{DSN: dsn, Database: "xhep_test_page_" + hex.EncodeToString(r[:]), PageCompression: 1, PageCompressionAlgorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(backend.Env{}); err != nil {
		t.Fatal(err)
	}
	if err := b.createDatabase(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = b.db.Exec("DROP DATABASE IF EXISTS `" + b.dbName + "`")
		b.Close()
	})
	return b
}

// pluginActive reports whether the server of b has provider_<alg> active.
func pluginActive(t *testing.T, b *Backend, alg string) bool {
	return ProviderActive(context.Background(), b.db, alg)
}

// TestPageCompressionMissingPlugin: an algorithm whose provider plugin the
// server lacks fails Setup with an error naming the plugin and its
// package, and creates no table.
func TestPageCompressionMissingPlugin(t *testing.T) {
	for _, alg := range []string{"lzo", "snappy", "lz4", "bzip2", "lzma"} {
		b := pageBackend(t, alg)
		if pluginActive(t, b, alg) {
			continue
		}
		err := b.Setup(context.Background(), []string{"hep_proto_1_call"})
		if err == nil || !strings.Contains(err.Error(), "provider_"+alg) || !strings.Contains(err.Error(), "mariadb-plugin-provider-"+alg) {
			t.Fatalf("Setup with %s and no plugin: %v, want an error naming provider_%s", alg, err, alg)
		}
		var n int
		if err := b.db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'hep_proto_1_call'", b.dbName).Scan(&n); err != nil || n != 0 {
			t.Errorf("table created anyway (%d, %v)", n, err)
		}
		return
	}
	t.Skip("the server has every provider plugin")
}

// TestPageCompressionAlgorithm: with lz4 (the server's plugin and
// innodb_compression_algorithm) the tables are created PAGE_COMPRESSED
// without a zlib level, and a row reads back as written; a server whose
// global algorithm differs fails Setup saying so. Needs a server started
// with the plugin and innodb_compression_algorithm=lz4; the test does not
// change that server-wide setting (other tests share the server).
func TestPageCompressionAlgorithm(t *testing.T) {
	b := pageBackend(t, "lz4")
	if !pluginActive(t, b, "lz4") {
		t.Skip("the server has no provider_lz4 plugin")
	}
	var cur string
	if err := b.db.QueryRow("SELECT @@GLOBAL.innodb_compression_algorithm").Scan(&cur); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if cur != "lz4" {
		err := b.Setup(ctx, []string{"hep_proto_1_call"})
		if err == nil || !strings.Contains(err.Error(), "innodb_compression_algorithm is "+cur) {
			t.Fatalf("Setup with lz4 on a %s server: %v, want an error naming the server's algorithm", cur, err)
		}
		t.Skip("the server's innodb_compression_algorithm is " + cur + ", not lz4: only the mismatch error checked")
	}
	if err := b.Setup(ctx, []string{"hep_proto_1_call"}); err != nil {
		t.Fatal(err)
	}
	var name, ddl string
	if err := b.db.QueryRow("SHOW CREATE TABLE hep_proto_1_call").Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	opts := ddl[strings.Index(ddl, ") ENGINE"):]
	if !strings.Contains(opts, "`PAGE_COMPRESSED`='1'") || strings.Contains(opts, "PAGE_COMPRESSION_LEVEL") {
		t.Errorf("table options, want PAGE_COMPRESSED without a level:\n%s", opts)
	}
	raw := strings.Repeat("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n", 50)
	if _, err := b.db.Exec("INSERT INTO hep_proto_1_call (create_date, hep_header, protocol_header, payload, raw) VALUES (UTC_TIMESTAMP(6), '{}', '{\"callid\":\"lz4-1\"}', '{}', ?)", raw); err != nil {
		t.Fatal(err)
	}
	// Written to the (compressed) file, on one connection: the lock is
	// the connection's.
	conn, err := b.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES hep_proto_1_call FOR EXPORT"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	var got string
	if err := b.db.QueryRow("SELECT raw FROM hep_proto_1_call WHERE callid = 'lz4-1'").Scan(&got); err != nil || got != raw {
		t.Errorf("row read back: %v, equal %v", err, got == raw)
	}
}
