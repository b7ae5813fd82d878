package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/backend"
)

// markedBatch is n SIP rows of table from day, in the store's record
// format, with mark m.
func markedBatch(id uint64, table string, n int, day time.Time, m backend.Mark) *backend.Batch {
	var g rowGen
	var rows []store.Row
	for i := range n {
		r := *g.sip(table, int(id)*1000+i, day.Add(time.Duration(i)*300*time.Millisecond))
		r.HepHeader, r.ProtocolHeader, r.Payload, r.Raw = clone(r.HepHeader), clone(r.ProtocolHeader), clone(r.Payload), clone(r.Raw)
		rows = append(rows, r)
	}
	return &backend.Batch{ID: id, Table: table, Rows: n, Body: store.EncodeRows(rows), Mark: m}
}

// TestMarks: a marked batch's mark is returned once all its rows are
// stored; a batch cut short (a day of it lost, as a crash between its
// parts leaves it) is not a stored mark and its rows are deleted, so the
// journal replay writes it whole; repair parts and unmarked batches carry
// no mark; tables made before the mark columns get them.
func TestMarks(t *testing.T) {
	defer func(old int) { blockRows = old }(blockRows)
	blockRows = 3
	b := newTestBackend(t, Config{})
	s := openStore(t, b, store.Config{})
	flush(t, s)
	ctx := context.Background()
	wr, err := b.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2025, 3, 10, 23, 59, 58, 0, time.UTC)
	const stream = 77
	batches := []*backend.Batch{
		markedBatch(1, "hep_proto_1_call", 10, day.Add(-time.Hour), backend.Mark{Stream: stream, Lo: 100, Hi: 190}),
		markedBatch(2, "hep_proto_1_call", 10, day, backend.Mark{Stream: stream, Lo: 200, Hi: 290}), // over two days
		markedBatch(3, "hep_proto_1_registration", 4, day.Add(-time.Hour), backend.Mark{Stream: stream, Lo: 191, Hi: 199}),
		markedBatch(4, "hep_proto_1_call", 5, day.Add(-time.Hour), backend.Mark{Stream: stream + 1, Lo: 1, Hi: 5}), // another stream
		markedBatch(5, "hep_proto_1_call", 5, day.Add(-time.Hour), backend.Mark{}),                                 // unmarked
	}
	part := markedBatch(6, "hep_proto_1_call", 1, day.Add(-time.Hour), backend.Mark{Stream: stream, Lo: 300, Hi: 300})
	part.Part = 1 // a repair part: never a mark
	for _, bt := range append(batches, part) {
		if err := b.EnsureTable(ctx, bt.Table); err != nil {
			t.Fatal(err)
		}
		if err := wr.WriteBatch(ctx, bt); err != nil {
			t.Fatalf("batch %d: %v", bt.ID, err)
		}
	}
	want := []backend.TableMark{
		{Table: "hep_proto_1_call", Lo: 100, Hi: 190},
		{Table: "hep_proto_1_call", Lo: 200, Hi: 290},
		{Table: "hep_proto_1_registration", Lo: 191, Hi: 199},
	}
	got, err := b.Marks(ctx, stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("marks (-want +got):\n%s", diff)
	}
	if got, _ := b.Marks(ctx, stream, 190); !cmp.Equal(got, want[1:]) {
		t.Errorf("marks above 190 = %v, want %v", got, want[1:])
	}
	// The store asks its backend.
	if got, err := s.Marks(ctx, 0); err != nil || len(got) != 0 {
		t.Errorf("store marks of stream 0 = %v, %v", got, err)
	}

	// Cut batch 2 short: its second day is lost.
	db := b.DB()
	if _, err := db.Exec("ALTER TABLE hep_proto_1_call DROP PARTITION 20250311"); err != nil {
		t.Fatal(err)
	}
	left := count(t, db, "SELECT count() FROM hep_proto_1_call WHERE batch = 2")
	if left == 0 || left == 10 {
		t.Fatalf("batch 2 after dropping a day: %d rows, want a part of 10", left)
	}
	got, err = b.Marks(ctx, stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]backend.TableMark{want[0], want[2]}, got); diff != "" {
		t.Errorf("marks with batch 2 partial (-want +got):\n%s", diff)
	}
	if n := count(t, db, "SELECT count() FROM hep_proto_1_call WHERE batch = 2"); n != 0 {
		t.Errorf("partial batch 2: %d rows left, want them deleted", n)
	}
	if n := count(t, db, "SELECT count() FROM hep_proto_1_call"); n != 10+5+5+1 {
		t.Errorf("rows = %d, want the other batches' 21", n)
	}

	// A table made before the mark columns: EnsureTable adds them and
	// marked batches work.
	for _, c := range markCols {
		if _, err := db.Exec("ALTER TABLE hep_proto_1_registration DROP COLUMN " + c.name); err != nil {
			t.Fatal(err)
		}
	}
	bt := markedBatch(7, "hep_proto_1_registration", 3, day, backend.Mark{Stream: stream, Lo: 400, Hi: 402})
	if err := wr.WriteBatch(ctx, bt); err == nil {
		t.Fatal("insert with the mark columns into the old table: no error")
	}
	if err := b.EnsureTable(ctx, "hep_proto_1_registration"); err != nil {
		t.Fatal(err)
	}
	if err := wr.WriteBatch(ctx, bt); err != nil {
		t.Fatalf("after EnsureTable: %v", err)
	}
	got, err = b.Marks(ctx, stream, 300)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]backend.TableMark{{Table: "hep_proto_1_registration", Lo: 400, Hi: 402}}, got); diff != "" {
		t.Errorf("marks after the migration (-want +got):\n%s", diff)
	}
	// Written again (a retry): stored once, the mark once.
	bt.Retry = true
	if err := wr.WriteBatch(ctx, bt); !errors.Is(err, backend.ErrStored) {
		t.Errorf("retry: %v, want ErrStored", err)
	}
	if got, _ := b.Marks(ctx, stream, 300); len(got) != 1 {
		t.Errorf("marks after a retry: %v", got)
	}
}

// TestStoreMarks: rows written through the store with Row.Mark and
// Config.MarkStream come back as marks covering every row.
func TestStoreMarks(t *testing.T) {
	b := newTestBackend(t, Config{})
	s := openStore(t, b, store.Config{MarkStream: 9, BatchRows: 100, FlushInterval: 20 * time.Millisecond})
	var g rowGen
	base := time.Now().UTC().Add(-time.Minute)
	const n = 1000
	for i := range n {
		r := g.sip("hep_proto_1_call", i, base.Add(time.Duration(i)*time.Millisecond))
		if i%3 == 0 {
			r.Table = "hep_proto_1_default"
		}
		r.Mark = uint64(i + 1)
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, s)
	ms, err := s.Marks(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]int{}
	for _, m := range ms {
		for seq := m.Lo; seq <= m.Hi; seq++ {
			tbl := "hep_proto_1_call"
			if (seq-1)%3 == 0 {
				tbl = "hep_proto_1_default"
			}
			if tbl == m.Table {
				covered[fmt.Sprint(seq)]++
			}
		}
	}
	if len(covered) != n {
		t.Errorf("marks cover %d of %d rows (%d marks)", len(covered), n, len(ms))
	}
	for seq, c := range covered {
		if c != 1 {
			t.Errorf("row %s in %d marks", seq, c)
		}
	}
}
