package clickhouse

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/backend"
)

// TestWriteAndColumns writes SIP rows through the store and reads the
// typed columns, the user index and the documents back.
func TestWriteAndColumns(t *testing.T) {
	b := newTestBackend(t, Config{})
	s := openStore(t, b, store.Config{BatchRows: 5000})
	const n = 20_000
	var g rowGen
	base := time.Date(2025, 3, 10, 12, 0, 0, 123456000, time.UTC)
	for i := range n {
		if err := s.Write(g.sip("hep_proto_1_call", i, base.Add(time.Duration(i)*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	db := b.DB()
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call"); got != n {
		t.Errorf("rows = %d, want %d", got, n)
	}
	if got := count(t, db, "SELECT uniqExact(id) FROM hep_proto_1_call"); got != n {
		t.Errorf("distinct ids = %d, want %d", got, n)
	}
	type rowT struct {
		TS                                      int64
		Callid, Method, From, To, RURI, UA, Src string
		SrcPort, DstPort, Status                uint16
		Proto                                   uint8
		Raw                                     string
	}
	var got rowT
	err := db.QueryRow("SELECT ts, callid, method, from_user, to_user, ruri_user, user_agent, src_ip, src_port, dst_port, status, proto, raw FROM hep_proto_1_call WHERE callid = ?",
		"a84b4c76e66710-7@pc33.atlanta.example.com").Scan(&got.TS, &got.Callid, &got.Method, &got.From, &got.To, &got.RURI, &got.UA, &got.Src, &got.SrcPort, &got.DstPort, &got.Status, &got.Proto, &got.Raw)
	if err != nil {
		t.Fatal(err)
	}
	g.sip("hep_proto_1_call", 7, base)
	want := rowT{base.Add(7 * time.Millisecond).UnixMicro(), "a84b4c76e66710-7@pc33.atlanta.example.com", "INVITE", "alice7", "bob", "bob", "xhep-test/1.0",
		"192.0.2.7", 5060, 5062, 0, 17, string(g.raw)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	// The user index: from, to and ruri of every message.
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call_users WHERE user = 'alice7'"); got != n/100 {
		t.Errorf("user index rows for alice7 = %d, want %d", got, n/100)
	}
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call_users"); got != 3*n {
		t.Errorf("user index rows = %d, want %d", got, 3*n)
	}
	size, err := s.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d SIP rows: %d bytes on disk, %.0f B/row (data + user index; repetitive test rows, not a figure)", n, size, float64(size)/n)
}

// TestExactlyOnce: a batch written again (lost ack, spill replay) is found
// stored; a partial batch (a crash between the days of one block) is
// deleted and written whole.
func TestExactlyOnce(t *testing.T) {
	// Blocks of 3 rows: the batch goes as one INSERT of four blocks.
	defer func(old int) { blockRows = old }(blockRows)
	blockRows = 3
	b := newTestBackend(t, Config{})
	s := openStore(t, b, store.Config{})
	flush(t, s)
	wr, err := b.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	// A batch of 10 rows over two days, in the store's record format.
	var g rowGen
	day1 := time.Date(2025, 3, 10, 23, 59, 59, 0, time.UTC)
	var rows []store.Row
	for i := range 10 {
		r := *g.sip("hep_proto_1_call", i, day1.Add(time.Duration(i)*300*time.Millisecond))
		r.HepHeader, r.ProtocolHeader, r.Payload, r.Raw = clone(r.HepHeader), clone(r.ProtocolHeader), clone(r.Payload), clone(r.Raw)
		rows = append(rows, r)
	}
	bt := &backend.Batch{ID: 424242, Table: "hep_proto_1_call", Rows: len(rows), Body: store.EncodeRows(rows)}
	ctx := context.Background()
	if err := wr.WriteBatch(ctx, bt); err != nil {
		t.Fatal(err)
	}
	bt.Retry = true
	if err := wr.WriteBatch(ctx, bt); !errors.Is(err, backend.ErrStored) {
		t.Fatalf("second write: %v, want ErrStored", err)
	}
	db := b.DB()
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call"); got != 10 {
		t.Fatalf("rows = %d, want 10", got)
	}
	// Remove the second day's part: the batch is now partial.
	if _, err := db.Exec("ALTER TABLE hep_proto_1_call DROP PARTITION 20250311"); err != nil {
		t.Fatal(err)
	}
	partial := count(t, db, "SELECT count() FROM hep_proto_1_call")
	if partial == 0 || partial == 10 {
		t.Fatalf("after dropping a day: %d rows, want a part of 10", partial)
	}
	if err := wr.WriteBatch(ctx, bt); err != nil {
		t.Fatalf("rewrite of a partial batch: %v", err)
	}
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call"); got != 10 {
		t.Errorf("rows after the rewrite = %d, want 10", got)
	}
	if got := count(t, db, "SELECT uniqExact(id) FROM hep_proto_1_call"); got != 10 {
		t.Errorf("distinct ids = %d, want 10", got)
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// TestRetentionAndSize drops days past retention and, over MaxDBSize, the
// oldest days, never today.
func TestRetentionAndSize(t *testing.T) {
	day := 24 * time.Hour
	now := time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC)
	b := newTestBackend(t, Config{})
	s := openStore(t, b, store.Config{Now: func() time.Time { return now },
		Retention: map[string]time.Duration{"call": 14 * day, "registration": 3 * day, "default": 7 * day}})
	var g rowGen
	for d, ts := range []time.Time{now.AddDate(0, 0, -4), now.AddDate(0, 0, -2), now} {
		for i := range 100 {
			for _, tb := range []string{"hep_proto_1_registration", "hep_proto_1_call"} {
				if err := s.Write(g.sip(tb, d*1000+i, ts)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	flush(t, s)
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	days := func(table string) []string {
		rows, err := b.DB().Query("SELECT DISTINCT partition_id FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition_id", b.Database(), table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var p string
			rows.Scan(&p)
			out = append(out, p)
		}
		return out
	}
	if diff := cmp.Diff([]string{"20250312", "20250314"}, days("hep_proto_1_registration")); diff != "" {
		t.Errorf("registration days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"20250312", "20250314"}, days("hep_proto_1_registration_users")); diff != "" {
		t.Errorf("registration user index days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"20250310", "20250312", "20250314"}, days("hep_proto_1_call")); diff != "" {
		t.Errorf("call days (-want +got):\n%s", diff)
	}
	// A limit of 1 byte: every day before today goes, today stays.
	s2cfg := backend.Policy{Retention: map[string]time.Duration{"call": 14 * day, "registration": 3 * day, "default": 7 * day}, MaxDBSize: 1}
	if err := b.Maintain(context.Background(), s2cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"20250314"}, days("hep_proto_1_call")); diff != "" {
		t.Errorf("call days after the size limit (-want +got):\n%s", diff)
	}
}
