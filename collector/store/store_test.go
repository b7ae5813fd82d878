package store

import (
	"github.com/xhep/xhep/collector/store/mysql"

	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestSchema(t *testing.T) {
	clock := newClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	s := openTest(t, Config{Now: clock.now})

	for _, table := range standardTables {
		t.Run(table, func(t *testing.T) {
			// Generated columns.
			rows, err := s.DB().Query(`SELECT COLUMN_NAME FROM information_schema.COLUMNS
				WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA LIKE '%VIRTUAL%' ORDER BY ORDINAL_POSITION`, s.Database(), table)
			if err != nil {
				t.Fatal(err)
			}
			var gotCols []string
			for rows.Next() {
				var c string
				rows.Scan(&c)
				gotCols = append(gotCols, c)
			}
			rows.Close()
			wantCols := mysql.GeneratedColumns(table)
			if diff := cmp.Diff(wantCols, gotCols); diff != "" {
				t.Errorf("generated columns (-want +got):\n%s", diff)
			}

			// Indexes: PRIMARY (id, create_date) and (col, create_date) per indexed generated column.
			rows, err = s.DB().Query(`SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)
				FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
				GROUP BY INDEX_NAME ORDER BY INDEX_NAME`, s.Database(), table)
			if err != nil {
				t.Fatal(err)
			}
			gotIdx := map[string]string{}
			for rows.Next() {
				var n, c string
				rows.Scan(&n, &c)
				gotIdx[n] = c
			}
			rows.Close()
			wantIdx := map[string]string{"PRIMARY": "id,create_date"}
			indexed := []string{"src_ip", "dst_ip", "correlation_id"}
			if strings.HasPrefix(table, "hep_proto_1_") {
				indexed = append(indexed, "callid", "callid_aleg", "method", "ruri_user", "from_user", "to_user")
			}
			for _, c := range indexed {
				wantIdx["idx_"+c] = c + ",create_date"
			}
			if diff := cmp.Diff(wantIdx, gotIdx); diff != "" {
				t.Errorf("indexes (-want +got):\n%s", diff)
			}

			parts, err := s.be.(*mysql.Backend).Partitions(context.Background(), table)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range parts {
				names = append(names, p.Name)
			}
			want := []string{"p_old", "p20250310", "p20250311", "p20250312", "pmax"}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("partitions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrite100k(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTest(t, Config{Registerer: reg})
	const n = 100_000
	var g rowGen
	start := time.Now()
	base := time.Now().UTC()
	for i := range n {
		if err := s.Write(g.sip("hep_proto_1_call", i, base.Add(time.Duration(i)*time.Microsecond))); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	flush(t, s)
	el := time.Since(start)
	t.Logf("%d rows in %v: %.0f rows/s (method %s; timing reported, not asserted; shared machine)", n, el, n/el.Seconds(), s.cfg.Method)
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"); got != n {
		t.Errorf("COUNT(*) = %d, want %d", got, n)
	}
	if got := count(t, s, "SELECT COUNT(DISTINCT JSON_EXTRACT(payload, '$.id')) FROM hep_proto_1_call"); got != n {
		t.Errorf("distinct payload ids = %d, want %d", got, n)
	}
	if got := metricValue(s.m.written.WithLabelValues("hep_proto_1_call")); got != n {
		t.Errorf("rows written metric = %v, want %d", got, n)
	}
	if got := metricValue(s.m.dbUp); got != 1 {
		t.Errorf("db up = %v", got)
	}
}

// TestRoundTrip checks every column comes back as written, with both
// write methods: binary raw bytes, JSON with escapes, microseconds.
func TestRoundTrip(t *testing.T) {
	raw := make([]byte, 256)
	for i := range raw {
		raw[i] = byte(i)
	}
	raw = append(raw, "\\N\t\n\\\r\n"...)
	row := Row{
		Table:          "hep_proto_1_call",
		CreateDate:     time.Date(2025, 3, 10, 12, 34, 56, 789012000, time.UTC),
		GID:            4294967295,
		HepHeader:      []byte(`{"srcIp":"2001:db8::1","dstIp":"2001:db8::2","srcPort":5061,"dstPort":65535,"correlation_id":"c\\d\t"}`),
		ProtocolHeader: []byte(`{"callid":"ab\"c\\d\u00e9 é 日本","method":"200","status":200,"from_user":"alice","user_agent":"` + strings.Repeat("u", 300) + `"}`),
		Payload:        []byte(`{"x":"\\N","tab":"\t","nl":"\n"}`),
		Raw:            raw,
	}
	for _, m := range []Method{MethodLoad, MethodInsert} {
		t.Run(string(m), func(t *testing.T) {
			s := openTest(t, Config{Method: m})
			if err := s.Write(&row); err != nil {
				t.Fatal(err)
			}
			flush(t, s)
			type got struct {
				GID                  uint32
				Date                 time.Time
				HH, PH, PL           string
				Raw                  []byte
				SrcIP, CallID        string
				SrcPort, DstPort, St int64
				UA                   string
			}
			var g got
			err := s.DB().QueryRow(`SELECT gid, create_date, hep_header, protocol_header, payload, raw,
				src_ip, callid, src_port, dst_port, status, user_agent FROM hep_proto_1_call`).
				Scan(&g.GID, &g.Date, &g.HH, &g.PH, &g.PL, &g.Raw, &g.SrcIP, &g.CallID, &g.SrcPort, &g.DstPort, &g.St, &g.UA)
			if err != nil {
				t.Fatal(err)
			}
			want := got{4294967295, row.CreateDate, string(row.HepHeader), string(row.ProtocolHeader), string(row.Payload), raw,
				"2001:db8::1", "ab\"c\\dé é 日本", 5061, 65535, 200, strings.Repeat("u", 255)}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOddTimestamps(t *testing.T) {
	clock := newClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	s := openTest(t, Config{Now: clock.now})
	tests := []struct {
		ts        time.Time
		partition string
		stored    string
	}{
		{time.Unix(0, 0), "p_old", "1970-01-01 00:00:00.000000"},
		{time.Time{}, "p_old", "1000-01-01 00:00:00.000000"},
		{time.Date(2025, 3, 11, 23, 59, 59, 999999000, time.UTC), "p20250311", "2025-03-11 23:59:59.999999"},
		{time.Date(2092, 2, 29, 1, 2, 3, 0, time.UTC), "pmax", "2092-02-29 01:02:03.000000"},
		{time.Date(2025, 3, 12, 1, 0, 0, 0, time.FixedZone("x", 5*3600)), "p20250311", "2025-03-11 20:00:00.000000"},
	}
	var g rowGen
	for i, tt := range tests {
		if err := s.Write(g.sip("hep_proto_1_default", i, tt.ts)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	for i, tt := range tests {
		var stored string
		q := fmt.Sprintf("SELECT DATE_FORMAT(create_date, '%%Y-%%m-%%d %%H:%%i:%%s.%%f') FROM hep_proto_1_default PARTITION (%s) WHERE JSON_EXTRACT(payload, '$.id') = ?", tt.partition)
		if err := s.DB().QueryRow(q, i).Scan(&stored); err != nil {
			t.Errorf("row %d (%v) not in partition %s: %v", i, tt.ts, tt.partition, err)
			continue
		}
		if stored != tt.stored {
			t.Errorf("row %d stored %s, want %s", i, stored, tt.stored)
		}
	}
}

func TestInvalidTable(t *testing.T) {
	s := openTest(t, Config{})
	for _, name := range []string{"", "users", "hep_proto_1_call`; DROP DATABASE x; --", "hep_proto_1000_default", "hep_proto_1_other"} {
		err := s.Write(&Row{Table: name})
		if !errors.Is(err, ErrInvalidTable) {
			t.Errorf("Write(table %q) error %v, want ErrInvalidTable", name, err)
		}
	}
	if got := metricValue(s.m.dropInvalid); got != 5 {
		t.Errorf("invalid table drops = %v, want 5", got)
	}
	big := make([]byte, maxField+1)
	if err := s.Write(&Row{Table: "hep_proto_1_call", Raw: big}); !errors.Is(err, ErrRowTooLarge) {
		t.Errorf("oversized row: %v, want ErrRowTooLarge", err)
	}
}

func TestNewTableOnFirstUse(t *testing.T) {
	s := openTest(t, Config{})
	var g rowGen
	for i := range 10 {
		if err := s.Write(g.sip("hep_proto_34_default", i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_34_default"); got != 10 {
		t.Errorf("rows = %d, want 10", got)
	}
	// A non-SIP table has only the hep_header generated columns.
	if got := count(t, s, `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?
		AND TABLE_NAME = 'hep_proto_34_default' AND EXTRA LIKE '%VIRTUAL%'`, s.Database()); got != int64(len(mysql.GeneratedColumns("hep_proto_34_default"))) {
		t.Errorf("generated columns = %d, want %d", got, len(mysql.GeneratedColumns("hep_proto_34_default")))
	}
}

// TestRepair: rows the database refuses are stored with an error mark,
// not dropped, and do not hold up the rest of their batch.
func TestRepair(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openTest(t, Config{Registerer: reg})
	var g rowGen
	for i := range 100 {
		r := g.sip("hep_proto_1_call", i, time.Now())
		switch i {
		case 10:
			r.Payload = []byte(`{"broken":`)
		case 20:
			r.ProtocolHeader = []byte("{\"callid\":\"\xff\xfe\"}")
		}
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"); got != 100 {
		t.Errorf("rows = %d, want 100", got)
	}
	if got := count(t, s, `SELECT COUNT(*) FROM hep_proto_1_call WHERE JSON_EXTRACT(payload, '$.error') IS NOT NULL
		OR JSON_EXTRACT(protocol_header, '$.error') IS NOT NULL`); got != 2 {
		t.Errorf("rows with an error mark = %d, want 2", got)
	}
	if got := metricValue(s.m.repaired); got != 2 {
		t.Errorf("repaired = %v, want 2", got)
	}
}

func TestExplainUsesIndexAndPrunes(t *testing.T) {
	clock := newClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	s := openTest(t, Config{Now: clock.now})
	var g rowGen
	for i := range 2000 {
		ts := time.Date(2025, 3, 10+i%3, 10, 0, 0, 0, time.UTC)
		if err := s.Write(g.sip("hep_proto_1_call", i, ts)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	if _, err := s.DB().Exec("ANALYZE TABLE hep_proto_1_call"); err != nil {
		t.Fatal(err)
	}
	var id, sel, tbl, parts, typ, keys, key, keyLen, ref, rows, extra []byte
	err := s.DB().QueryRow(`EXPLAIN PARTITIONS SELECT id, create_date FROM hep_proto_1_call
		WHERE callid = ? AND create_date BETWEEN ? AND ?`,
		"a84b4c76e66710-7@pc33.atlanta.example.com", "2025-03-11 00:00:00", "2025-03-11 23:59:59").
		Scan(&id, &sel, &tbl, &parts, &typ, &keys, &key, &keyLen, &ref, &rows, &extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("EXPLAIN: partitions=%s type=%s key=%s rows=%s extra=%s", parts, typ, key, rows, extra)
	if string(parts) != "p20250311" {
		t.Errorf("partitions = %s, want p20250311 only", parts)
	}
	if string(key) != "idx_callid" {
		t.Errorf("key = %s, want idx_callid", key)
	}
}

// TestCloseDrain: rows still in partial batches at Close end up stored.
func TestCloseDrain(t *testing.T) {
	dsn := testDSN(t)
	dbName := testDatabase(t, dsn)
	s, err := Open(context.Background(), Config{DSN: dsn, Database: dbName, FlushInterval: time.Hour, BatchRows: 1 << 20, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var g rowGen
	tables := []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_5_default", "hep_proto_77_default"}
	for i := range 4000 {
		if err := s.Write(g.sip(tables[i%4], i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Write(g.sip(tables[0], 0, time.Now())); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	db := adminDB(t, dsn)
	for _, tb := range tables {
		var n int
		if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s.%s", dbName, tb)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1000 {
			t.Errorf("%s: %d rows, want 1000", tb, n)
		}
	}
}

// TestBatchLogMakesRetryIdempotent: a batch written again (its commit ack
// lost, or replayed from the spill) is not stored twice.
func TestBatchLogMakesRetryIdempotent(t *testing.T) {
	s := openTest(t, Config{})
	var g rowGen
	tb := s.lookup("hep_proto_1_call")
	b := s.newBatch(tb)
	for i := range 10 {
		b.add(g.sip(tb.name, i, time.Now()), time.Now().UnixMicro())
	}
	w, err := s.newWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.bw.Close()
	if err := s.writeBatch(w, b, 0); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if err := s.writeBatch(w, b, 0); !errors.Is(err, errStored) {
		t.Fatalf("second write: %v, want errStored", err)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"); got != 10 {
		t.Errorf("rows = %d, want 10", got)
	}
}

var _ = bytes.Equal

// TestConcurrentWriters: several goroutines write to several tables at
// once (small batches, so hand-offs and interval flushes interleave);
// every row is stored once.
func TestConcurrentWriters(t *testing.T) {
	s := openTest(t, Config{BatchRows: 37, FlushInterval: 5 * time.Millisecond, Conns: 3})
	tables := []string{"hep_proto_1_call", "hep_proto_5_default", "hep_proto_53_default", "hep_proto_200_default"}
	const per = 2500
	errs := make(chan error, len(tables))
	for w := range len(tables) {
		go func() {
			var g rowGen
			for i := range per {
				id := w*per + i
				if err := s.Write(g.sip(tables[(w+i)%len(tables)], id, time.Now())); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range tables {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	var total int64
	for _, tb := range tables {
		n := count(t, s, "SELECT COUNT(*) FROM "+tb)
		d := count(t, s, "SELECT COUNT(DISTINCT JSON_EXTRACT(payload, '$.id')) FROM "+tb)
		if n != d {
			t.Errorf("%s: %d rows, %d distinct", tb, n, d)
		}
		total += n
	}
	if total != int64(len(tables)*per) {
		t.Errorf("stored %d rows, want %d", total, len(tables)*per)
	}
}

// TestGeneratedValues: odd protocol_header documents never fail an insert;
// a missing key or a JSON null is NULL, an integer column is NULL unless
// the value is all digits.
func TestGeneratedValues(t *testing.T) {
	s := openTest(t, Config{})
	tests := []struct {
		ph     string
		method *string
		status *int64
	}{
		{`{"callid":"a","method":"INVITE","status":0}`, ptr("INVITE"), ptr[int64](0)},
		{`{"callid":"b","method":"180","status":180}`, ptr("180"), ptr[int64](180)},
		{`{"callid":"c","method":null,"status":null}`, nil, nil},
		{`{"callid":"d"}`, nil, nil},
		{`{"callid":"e","method":"` + strings.Repeat("M", 40) + `","status":"abc"}`, ptr(strings.Repeat("M", 32)), nil},
		{`{"callid":"f","method":"x","status":1.5}`, ptr("x"), nil},
		{`{"callid":"g","method":"x","status":-3}`, ptr("x"), nil},
		{`{"callid":"h","method":"x","status":123456789012345678901234}`, ptr("x"), nil},
		{`{"callid":"i","method":"x","status":{"a":1}}`, ptr("x"), nil},
		{`{"callid":"j","method":"x","status":"200"}`, ptr("x"), ptr[int64](200)},
	}
	var g rowGen
	for _, tt := range tests {
		r := g.sip("hep_proto_1_call", 1, time.Now())
		r.ProtocolHeader = []byte(tt.ph)
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	if got := metricValue(s.m.repaired); got != 0 {
		t.Errorf("repaired rows = %v, want 0 (no document may fail an insert)", got)
	}
	for _, tt := range tests {
		var method *string
		var status *int64
		if err := s.DB().QueryRow("SELECT method, status FROM hep_proto_1_call WHERE protocol_header = ?", tt.ph).Scan(&method, &status); err != nil {
			t.Fatalf("%s: %v", tt.ph, err)
		}
		if diff := cmp.Diff(tt.method, method); diff != "" {
			t.Errorf("%s: method (-want +got):\n%s", tt.ph, diff)
		}
		if diff := cmp.Diff(tt.status, status); diff != "" {
			t.Errorf("%s: status (-want +got):\n%s", tt.ph, diff)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestPageCompression: with MySQLPageCompression the tables are created
// page-compressed, rows read back, and Size counts allocated bytes.
func TestPageCompression(t *testing.T) {
	s := openTest(t, Config{MySQLPageCompression: 1})
	var g rowGen
	for i := range 3000 {
		if err := s.Write(g.sip("hep_proto_1_call", i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	var name, ddl string
	if err := s.DB().QueryRow("SHOW CREATE TABLE hep_proto_1_call").Scan(&name, &ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ddl, "`PAGE_COMPRESSED`='1'") {
		t.Errorf("table not page-compressed:\n%s", ddl[strings.Index(ddl, ") ENGINE"):])
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call WHERE callid LIKE 'a84b4c76e66710-%'"); got != 3000 {
		t.Errorf("rows = %d, want 3000", got)
	}
	size, err := s.Size(context.Background())
	if err != nil || size <= 0 {
		t.Errorf("Size = %d, %v", size, err)
	}
	if _, err := Open(context.Background(), Config{DSN: testDSN(t), MySQLPageCompression: 10}); err == nil {
		t.Error("level 10 accepted")
	}
}
