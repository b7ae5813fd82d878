package store

import (
	"github.com/xhep/xhep/collector/store/mysql"

	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func partNames(t *testing.T, s *Store, table string) []string {
	t.Helper()
	parts, err := s.be.(*mysql.Backend).Partitions(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range parts {
		out = append(out, p.Name)
	}
	return out
}

func TestRetention(t *testing.T) {
	day := 24 * time.Hour
	clock := newClock(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	s := openTest(t, Config{
		Now:       clock.now,
		Retention: map[string]time.Duration{"call": 14 * day, "registration": 3 * day, "default": 7 * day},
	})
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
	write("hep_proto_1_registration", time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC), 10)
	write("hep_proto_1_registration", time.Date(2025, 3, 11, 8, 0, 0, 0, time.UTC), 10)
	write("hep_proto_1_registration", time.Date(2025, 3, 12, 8, 0, 0, 0, time.UTC), 10)
	write("hep_proto_1_registration", time.Unix(0, 0), 5) // p_old
	write("hep_proto_1_call", time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC), 10)
	flush(t, s)

	// Four days later: registration (3 days) loses 2025-03-10 and p_old is
	// emptied; call (14 days) keeps everything; partitions are added ahead.
	clock.set(time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC))
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	want := []string{"p_old", "p20250311", "p20250312", "p20250314", "p20250315", "p20250316", "pmax"}
	if diff := cmp.Diff(want, partNames(t, s, "hep_proto_1_registration")); diff != "" {
		t.Errorf("registration partitions (-want +got):\n%s", diff)
	}
	want = []string{"p_old", "p20250310", "p20250311", "p20250312", "p20250314", "p20250315", "p20250316", "pmax"}
	if diff := cmp.Diff(want, partNames(t, s, "hep_proto_1_call")); diff != "" {
		t.Errorf("call partitions (-want +got):\n%s", diff)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_registration"); got != 20 {
		t.Errorf("registration rows = %d, want 20", got)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"); got != 10 {
		t.Errorf("call rows = %d, want 10", got)
	}
	if got := metricValue(s.m.partitions.WithLabelValues("drop_retention")); got != 1 {
		t.Errorf("retention drops = %v, want 1", got)
	}
	if got := metricValue(s.m.partitions.WithLabelValues("truncate_old")); got != 1 {
		t.Errorf("p_old truncations = %v, want 1", got)
	}

	// Fifteen days later (the store was away for ten): call drops
	// 2025-03-10; the new first partition ahead covers the gap.
	clock.set(time.Date(2025, 3, 25, 0, 0, 0, 0, time.UTC))
	if err := s.Maintain(context.Background()); err != nil {
		t.Fatalf("Maintain: %v", err)
	}
	want = []string{"p_old", "p20250311", "p20250312", "p20250314", "p20250315", "p20250316", "p20250325", "p20250326", "p20250327", "pmax"}
	if diff := cmp.Diff(want, partNames(t, s, "hep_proto_1_call")); diff != "" {
		t.Errorf("call partitions (-want +got):\n%s", diff)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"); got != 0 {
		t.Errorf("call rows = %d, want 0", got)
	}
	// A row in the gap still has a home.
	write("hep_proto_1_call", time.Date(2025, 3, 20, 8, 0, 0, 0, time.UTC), 1)
	flush(t, s)
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call PARTITION (p20250325)"); got != 1 {
		t.Errorf("gap row in p20250325: %d, want 1", got)
	}
}

func TestMaxDBSize(t *testing.T) {
	day := 24 * time.Hour
	clock := newClock(time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC))
	s := openTest(t, Config{
		Now:       clock.now,
		Retention: map[string]time.Duration{"call": 60 * day, "registration": 60 * day, "default": 60 * day},
	})
	var g rowGen
	big := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB of raw per row
	id := 0
	for d := 5; d <= 7; d++ {
		for range 3000 {
			r := g.sip("hep_proto_1_default", id, time.Date(2025, 3, d, 8, 0, 0, 0, time.UTC))
			r.Raw = big
			if err := s.Write(r); err != nil {
				t.Fatal(err)
			}
			id++
		}
	}
	flush(t, s)
	clock.set(time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC))
	ctx := context.Background()
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec("ANALYZE TABLE hep_proto_1_default"); err != nil {
		t.Fatal(err)
	}
	var total int64
	if err := s.DB().QueryRow(`SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, s.Database()).Scan(&total); err != nil {
		t.Fatal(err)
	}
	parts, err := s.be.(*mysql.Backend).Partitions(ctx, "hep_proto_1_default")
	if err != nil {
		t.Fatal(err)
	}
	var first int64
	for _, p := range parts {
		if p.Name == "p20250305" {
			first = p.Size
		}
	}
	t.Logf("database %d bytes, p20250305 of hep_proto_1_default %d bytes", total, first)
	if first < 1<<20 {
		t.Fatalf("p20250305 holds only %d bytes: statistics not refreshed?", first)
	}

	// Over the limit by half the oldest day: only that day goes.
	s.cfg.MaxDBSize = total - first/2
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"p_old", "p20250306", "p20250307", "p20250310", "p20250311", "p20250312", "pmax"}
	for _, table := range []string{"hep_proto_1_default", "hep_proto_1_call"} {
		if diff := cmp.Diff(want, partNames(t, s, table)); diff != "" {
			t.Errorf("%s partitions (-want +got):\n%s", table, diff)
		}
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_default"); got != 6000 {
		t.Errorf("rows = %d, want 6000", got)
	}

	// An impossible limit: everything before today goes, today and later stay.
	s.cfg.MaxDBSize = 1
	if err := s.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{"p_old", "p20250310", "p20250311", "p20250312", "pmax"}
	if diff := cmp.Diff(want, partNames(t, s, "hep_proto_1_default")); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_default"); got != 0 {
		t.Errorf("rows = %d, want 0", got)
	}
}
