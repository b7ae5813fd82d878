package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFutureRowsRemoved: rows dated far in the future (a sender's clock in
// 2090, written before the collector clamped such times, or by another
// writer) sit in pmax, and every daily partition change would move them
// all. The partition manager removes those more than MaxFuture ahead
// before it splits pmax — wholly when pmax holds nothing else, otherwise
// row by row, keeping rows of the near future — and counts them.
func TestFutureRowsRemoved(t *testing.T) {
	clock := newClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	s := openTest(t, Config{Now: clock.now, MaxFuture: time.Hour})
	var g rowGen
	id := 0
	write := func(table string, ts time.Time, n int) {
		for range n {
			if err := s.Write(g.sip(table, id, ts)); err != nil {
				t.Fatal(err)
			}
			id++
		}
	}
	y2090 := time.Date(2090, 6, 1, 12, 0, 0, 0, time.UTC)
	write("hep_proto_1_call", y2090, 300)
	write("hep_proto_1_default", y2090, 200)
	// A row beyond the partitions that is not far ahead once the manager
	// runs again (written while it was away, e.g. replayed from the
	// spill): kept, and moved to its day.
	write("hep_proto_1_default", time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC), 1)
	flush(t, s)
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call PARTITION (pmax)"); got != 300 {
		t.Fatalf("pmax holds %d rows, want 300", got)
	}

	clock.set(time.Date(2025, 3, 15, 1, 0, 0, 0, time.UTC))
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	for table, want := range map[string]int64{"hep_proto_1_call": 0, "hep_proto_1_default": 1} {
		if got := count(t, s, "SELECT COUNT(*) FROM "+table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
		if got := count(t, s, "SELECT COUNT(*) FROM "+table+" PARTITION (pmax)"); got != 0 {
			t.Errorf("%s: %d rows left in pmax", table, got)
		}
	}
	want := []string{"p_old", "p20250310", "p20250311", "p20250312", "p20250315", "p20250316", "p20250317", "pmax"} // p20250315 takes the gap
	if diff := cmp.Diff(want, partNames(t, s, "hep_proto_1_default")); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	if got := metricValue(s.m.partitions.WithLabelValues("remove_future")); got != 2 {
		t.Errorf("remove_future actions = %v, want 2 (one per table)", got)
	}

	// MaxFuture 0: far-future rows are kept (moved along, as before).
	s2 := openTest(t, Config{Now: clock.now})
	if err := s2.Write(g.sip("hep_proto_1_call", id, y2090)); err != nil {
		t.Fatal(err)
	}
	flush(t, s2)
	clock.set(time.Date(2025, 3, 16, 1, 0, 0, 0, time.UTC))
	if err := s2.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s2, "SELECT COUNT(*) FROM hep_proto_1_call PARTITION (pmax)"); got != 1 {
		t.Errorf("without MaxFuture pmax holds %d rows, want 1", got)
	}
}
