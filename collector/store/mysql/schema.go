package mysql

import (
	"fmt"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
)

// genCol is one VIRTUAL generated column read from a JSON document.
type genCol struct {
	name  string
	doc   string // hep_header or protocol_header
	key   string // JSON key
	size  int    // VARCHAR size; 0 for an integer column
	index bool   // indexed with create_date
}

// Generated columns of every table (from hep_header). IPs and the
// correlation id are indexed (searches, call flows, DNS and RTCP lookups);
// ports are not: a port is searched together with an IP or within a time
// range, where the partition pruning and the IP index do the work.
var hepCols = []genCol{
	{"src_ip", "hep_header", "srcIp", 64, true},
	{"dst_ip", "hep_header", "dstIp", 64, true},
	{"src_port", "hep_header", "srcPort", 0, false},
	{"dst_port", "hep_header", "dstPort", 0, false},
	{"correlation_id", "hep_header", "correlation_id", 255, true},
}

// Generated columns of SIP tables (hep_proto_1_*, from protocol_header).
// Indexed: what people search on (Call-ID, users, method) and
// callid_aleg, which the call-flow API follows from leg to leg. status is
// not indexed: a response's method is its status code as a string (as in
// HOMER), so the method index answers a search by status (the API adds
// method = 'N'), and one index fewer is about 5 µs less server CPU per
// row. Domains
// and the user agent are read (and searchable within a time range) but
// not indexed: each index costs every insert its JSON lookup and B-tree
// insert.
var sipCols = []genCol{
	{"callid", "protocol_header", "callid", 255, true},
	{"callid_aleg", "protocol_header", "callid_aleg", 255, true},
	{"method", "protocol_header", "method", 32, true},
	{"status", "protocol_header", "status", 0, false},
	{"ruri_user", "protocol_header", "ruri_user", 128, true},
	{"ruri_domain", "protocol_header", "ruri_domain", 128, false},
	{"from_user", "protocol_header", "from_user", 128, true},
	{"from_domain", "protocol_header", "from_domain", 128, false},
	{"to_user", "protocol_header", "to_user", 128, true},
	{"to_domain", "protocol_header", "to_domain", 128, false},
	{"user_agent", "protocol_header", "user_agent", 255, false},
}

// generatedCols returns the generated columns of table.
func generatedCols(table string) []genCol {
	if backend.IsSIP(table) {
		return append(append([]genCol(nil), hepCols...), sipCols...)
	}
	return hepCols
}

// expr is the column's generation expression, valid on MariaDB 10.11 and
// MySQL 8.0.21+. JSON_VALUE, not JSON_UNQUOTE(JSON_EXTRACT()): on MariaDB
// JSON_EXTRACT reads the whole document on every call while JSON_VALUE
// stops at the key, so a key near the start costs a fraction (measured in
// the package doc). Strings are cut to the column size (LEFT) and
// integers are only cast when the value is all decimal digits (CONV
// returns it unchanged) and at most 18 long, so that no JSON document the
// dissector writes can make an INSERT fail (strict mode turns a
// truncation into an error, and one bad row would fail its batch).
func (c genCol) expr() string {
	v := fmt.Sprintf("JSON_VALUE(%s,'$.%s')", c.doc, c.key)
	if c.size == 0 {
		return fmt.Sprintf("IF(CONV(%[1]s,10,10)=%[1]s AND LENGTH(%[1]s)<=18,CAST(%[1]s AS SIGNED),NULL)", v)
	}
	return fmt.Sprintf("LEFT(%s,%d)", v, c.size)
}

func (c genCol) sqlType() string {
	if c.size == 0 {
		return "BIGINT"
	}
	return fmt.Sprintf("VARCHAR(%d)", c.size)
}

// dayName is the partition holding the rows of day d (UTC midnight):
// pYYYYMMDD.
func dayName(d time.Time) string { return "p" + d.Format("20060102") }

// dayBound is the exclusive upper bound of day d's partition.
func dayBound(d time.Time) string {
	return d.AddDate(0, 0, 1).Format("'2006-01-02 15:04:05'")
}

// pageOption is the table option of Config.PageCompression ("": none).
func (b *Backend) pageOption() string {
	switch {
	case b.cfg.PageCompression == 0:
		return ""
	case b.cfg.PageCompressionAlgorithm == "zlib":
		return fmt.Sprintf(" PAGE_COMPRESSED=1 PAGE_COMPRESSION_LEVEL=%d", b.cfg.PageCompression)
	default:
		// The algorithm is the server's innodb_compression_algorithm.
		return " PAGE_COMPRESSED=1"
	}
}

// createTableSQL is the DDL of table with partitions p_old (everything
// before first), one per day from first to last, and pmax (everything
// after); pageOption is pageOption's table option.
func createTableSQL(table string, first, last time.Time, pageOption string, extra []genCol) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS `%s` (\n", table)
	b.WriteString("  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,\n")
	b.WriteString("  gid INT UNSIGNED NOT NULL DEFAULT 0,\n")
	b.WriteString("  create_date DATETIME(6) NOT NULL,\n")
	b.WriteString("  hep_header JSON NOT NULL,\n")
	b.WriteString("  protocol_header JSON NOT NULL,\n")
	b.WriteString("  payload JSON NOT NULL,\n")
	b.WriteString("  raw MEDIUMBLOB NOT NULL,\n")
	cols := generatedCols(table)
	if backend.IsSIP(table) {
		cols = append(cols, extra...)
	}
	for _, c := range cols {
		fmt.Fprintf(&b, "  %s %s GENERATED ALWAYS AS (%s) VIRTUAL,\n", c.name, c.sqlType(), c.expr())
	}
	b.WriteString("  PRIMARY KEY (id, create_date)")
	for _, c := range cols {
		if c.index {
			fmt.Fprintf(&b, ",\n  KEY idx_%s (%s, create_date)", c.name, c.name)
		}
	}
	b.WriteString("\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
	// MariaDB's InnoDB page compression (holes punched in the file): see
	// Config.PageCompression.
	b.WriteString(pageOption)
	b.WriteString("\n")
	b.WriteString("PARTITION BY RANGE COLUMNS(create_date) (\n")
	fmt.Fprintf(&b, "  PARTITION p_old VALUES LESS THAN (%s),\n", first.Format("'2006-01-02 15:04:05'"))
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		fmt.Fprintf(&b, "  PARTITION %s VALUES LESS THAN (%s),\n", dayName(d), dayBound(d))
	}
	b.WriteString("  PARTITION pmax VALUES LESS THAN (MAXVALUE)\n)")
	return b.String()
}

// batchLogSQL is the table that makes batch writes idempotent: every batch
// transaction inserts its id; a retried batch whose first attempt did
// commit fails on the duplicate key and is known to be stored.
const batchLogSQL = "CREATE TABLE IF NOT EXISTS `xhep_batch_log` (\n" +
	"  id BIGINT UNSIGNED NOT NULL,\n" +
	"  part INT UNSIGNED NOT NULL,\n" +
	"  created DATETIME NOT NULL,\n" +
	"  PRIMARY KEY (id, part),\n" +
	"  KEY idx_created (created)\n" +
	") ENGINE=InnoDB"

// markLogSQL keeps the marks of batches (backend.Marker): per producer
// stream and table, the sequence range a committed batch holds. Written in
// the batch's transaction; pruned with the batch log.
const markLogSQL = "CREATE TABLE IF NOT EXISTS `xhep_mark_log` (\n" +
	"  stream BIGINT UNSIGNED NOT NULL,\n" +
	"  tbl VARCHAR(64) NOT NULL,\n" +
	"  lo BIGINT UNSIGNED NOT NULL,\n" +
	"  hi BIGINT UNSIGNED NOT NULL,\n" +
	"  created DATETIME NOT NULL,\n" +
	"  PRIMARY KEY (stream, tbl, lo),\n" +
	"  KEY idx_hi (stream, hi),\n" +
	"  KEY idx_created (created)\n" +
	") ENGINE=InnoDB"

// QuoteDatabase returns name in backquotes, or an error when it holds
// characters other than letters, digits, '_' and '$'.
func QuoteDatabase(name string) (string, error) {
	if name == "" || len(name) > 64 {
		return "", fmt.Errorf("database name %q: length must be 1..64", name)
	}
	for _, c := range name {
		if !(c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", fmt.Errorf("database name %q: only letters, digits, _ and $ are allowed", name)
		}
	}
	return "`" + name + "`", nil
}

// GeneratedColumns names the generated columns of table, in order.
func GeneratedColumns(table string) []string {
	var out []string
	for _, c := range generatedCols(table) {
		out = append(out, c.name)
	}
	return out
}

// searchCols are the generated columns of the search headers: VARCHAR(255)
// from protocol_header, indexed with create_date like the users (an
// absent header is NULL, which the index holds at no search cost).
func searchCols(names []string) ([]genCol, error) {
	hs, err := backend.SearchHeaders(names)
	if err != nil {
		return nil, err
	}
	out := make([]genCol, len(hs))
	for i, h := range hs {
		out[i] = genCol{h.Column, "protocol_header", h.Column, 255, true}
	}
	return out, nil
}

// addColumnSQL adds a search header's column and its index to a table
// made before the header was configured (a VIRTUAL column is added in
// place; the index is built from the existing rows, online).
func addColumnSQL(table string, c genCol) string {
	return fmt.Sprintf("ALTER TABLE `%s` ADD COLUMN %s %s GENERATED ALWAYS AS (%s) VIRTUAL, ADD KEY idx_%s (%s, create_date)",
		table, c.name, c.sqlType(), c.expr(), c.name, c.name)
}
