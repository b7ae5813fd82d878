package spool

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func open(t testing.TB, cfg Config) *Spool {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func rec(i int) []byte {
	return fmt.Appendf(nil, "INVITE sip:%d@example.com SIP/2.0\r\nCall-ID: call-%d\r\n\r\n", i, i)
}

// drain reads and removes every sealed segment, returning the records.
func drain(t testing.TB, s *Spool) []string {
	t.Helper()
	var got []string
	for {
		seg, err := s.Oldest()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Oldest: %v", err)
		}
		for _, r := range seg.Records {
			got = append(got, string(r))
		}
		if err := s.Remove(seg.ID); err != nil {
			t.Fatalf("Remove(%d): %v", seg.ID, err)
		}
	}
}

func want(from, to int) []string {
	var w []string
	for i := from; i < to; i++ {
		w = append(w, string(rec(i)))
	}
	return w
}

// diskBytes sums the sizes of the files in dir.
func diskBytes(t testing.TB, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestAppendSealReadRemove(t *testing.T) {
	s := open(t, Config{SegmentBytes: 1000, MaxAge: time.Hour})
	for i := range 100 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.Segments < 5 || st.Records != 100 || st.Appended != 100 {
		t.Errorf("Stats after appends = %+v, want several segments, 100 records", st)
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	// Oldest does not consume: the same segment comes back until Remove.
	a, err := s.Oldest()
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Oldest()
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID {
		t.Errorf("Oldest twice gave %d then %d", a.ID, b.ID)
	}
	if diff := cmp.Diff(want(0, 100), drain(t, s)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	st = s.Stats()
	if diff := cmp.Diff(Stats{Appended: 100, Removed: 100}, st); diff != "" {
		t.Errorf("Stats after drain (-want +got):\n%s", diff)
	}
	if n := diskBytes(t, s.cfg.Dir); n != 0 {
		t.Errorf("%d bytes left on disk after drain", n)
	}
	if err := s.Remove(12345); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Remove(unknown) = %v, want ErrNotExist", err)
	}
}

func TestRestartResumesInOrder(t *testing.T) {
	dir := t.TempDir()
	s1, err := Open(Config{Dir: dir, SegmentBytes: 500})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s1.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s1.Append(rec(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}

	s2 := open(t, Config{Dir: dir, SegmentBytes: 500, MaxAge: time.Hour})
	if st := s2.Stats(); st.Records != 50 || st.Corrupt != 0 {
		t.Errorf("reopened Stats = %+v, want 50 records, 0 corrupt", st)
	}
	// Read part, then append more: new segments come after the old ones.
	seg, err := s2.Oldest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range seg.Records {
		got = append(got, string(r))
	}
	if err := s2.Remove(seg.ID); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < 80; i++ {
		if err := s2.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Seal(); err != nil {
		t.Fatal(err)
	}
	got = append(got, drain(t, s2)...)
	if diff := cmp.Diff(want(0, 80), got); diff != "" {
		t.Errorf("records across restart (-want +got):\n%s", diff)
	}
}

func TestBound(t *testing.T) {
	const max = 4096
	s := open(t, Config{MaxBytes: max, SegmentBytes: 1024, MaxAge: time.Hour})
	n := 0
	for ; ; n++ {
		err := s.Append(rec(n))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatalf("Append %d: %v", n, err)
		}
		if n > 10000 {
			t.Fatal("never full")
		}
	}
	if err := s.Append(rec(n)); !errors.Is(err, ErrFull) {
		t.Fatalf("second Append when full = %v, want ErrFull", err)
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if got := diskBytes(t, s.cfg.Dir); got > max {
		t.Errorf("%d bytes on disk, bound %d", got, max)
	}
	if st := s.Stats(); st.Full != 2 || st.Records != int64(n) {
		t.Errorf("Stats = %+v, want Full 2, Records %d", st, n)
	}
	// Delivering the oldest segment makes room again.
	seg, err := s.Oldest()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(seg.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(rec(n)); err != nil {
		t.Errorf("Append after Remove: %v", err)
	}
	if err := s.Append(make([]byte, max)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append of a record the size of the spool = %v, want ErrTooLarge", err)
	}
}

// TestIncompressible checks that random data is stored raw and still
// stays within the bound.
func TestIncompressible(t *testing.T) {
	const max = 64 << 10
	s := open(t, Config{MaxBytes: max, SegmentBytes: 8 << 10, MaxAge: time.Hour})
	var recs []string
	for {
		r := make([]byte, 1000)
		rand.Read(r)
		if err := s.Append(r); errors.Is(err, ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(r))
	}
	if err := s.Seal(); err != nil {
		t.Fatal(err)
	}
	if got := diskBytes(t, s.cfg.Dir); got > max {
		t.Errorf("%d bytes on disk, bound %d", got, max)
	}
	if diff := cmp.Diff(recs, drain(t, s)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestMaxAge(t *testing.T) {
	young := open(t, Config{MaxAge: time.Hour})
	if err := young.Append(rec(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := young.Oldest(); !errors.Is(err, io.EOF) {
		t.Errorf("Oldest with a young open segment = %v, want io.EOF", err)
	}
	old := open(t, Config{MaxAge: time.Nanosecond})
	if err := old.Append(rec(1)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	seg, err := old.Oldest()
	if err != nil {
		t.Fatalf("Oldest with an old open segment: %v", err)
	}
	if diff := cmp.Diff([]string{string(rec(1))}, []string{string(seg.Records[0])}); diff != "" || len(seg.Records) != 1 {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// makeSegments writes n sealed segments of 10 records each into dir and
// returns their file paths in order.
func makeSegments(t *testing.T, dir string, n int) []string {
	t.Helper()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n * 10 {
		if err := s.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := s.Seal(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(paths) != n {
		t.Fatalf("want %d segment files, got %v (%v)", n, paths, err)
	}
	return paths
}

func TestCorruptSegments(t *testing.T) {
	tests := []struct {
		name          string
		damage        func(t *testing.T, dir string, paths []string)
		corruptAtOpen uint64
		want          []string
	}{
		{"flipped data byte", func(t *testing.T, dir string, p []string) {
			b, _ := os.ReadFile(p[1])
			b[len(b)-3] ^= 0x40
			os.WriteFile(p[1], b, 0o640)
		}, 0, append(want(0, 10), want(20, 30)...)},
		{"flipped header byte", func(t *testing.T, dir string, p []string) {
			b, _ := os.ReadFile(p[0])
			b[8] ^= 1 // record count
			os.WriteFile(p[0], b, 0o640)
		}, 0, want(10, 30)},
		{"torn last segment", func(t *testing.T, dir string, p []string) {
			fi, _ := os.Stat(p[2])
			os.Truncate(p[2], fi.Size()/2)
		}, 1, want(0, 20)},
		{"header only", func(t *testing.T, dir string, p []string) {
			os.Truncate(p[2], 10)
		}, 1, want(0, 20)},
		{"bad magic", func(t *testing.T, dir string, p []string) {
			b, _ := os.ReadFile(p[0])
			copy(b, "JUNK")
			os.WriteFile(p[0], b, 0o640)
		}, 1, want(10, 30)},
		{"leftover temporary file", func(t *testing.T, dir string, p []string) {
			os.WriteFile(filepath.Join(dir, "00000000000000ff.tmp"), []byte("half a segment"), 0o640)
		}, 1, want(0, 30)},
		{"foreign file ignored", func(t *testing.T, dir string, p []string) {
			os.WriteFile(filepath.Join(dir, "README"), []byte("hello"), 0o640)
			os.WriteFile(filepath.Join(dir, "notes.seg"), []byte("hello"), 0o640)
		}, 0, want(0, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := makeSegments(t, dir, 3)
			tt.damage(t, dir, paths)
			s := open(t, Config{Dir: dir})
			if got := s.Stats().Corrupt; got != tt.corruptAtOpen {
				t.Errorf("Corrupt after Open = %d, want %d", got, tt.corruptAtOpen)
			}
			got := drain(t, s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			wantCorrupt := uint64(1)
			if tt.name == "foreign file ignored" {
				wantCorrupt = 0
			}
			if s.Stats().Corrupt != wantCorrupt {
				t.Errorf("Corrupt after drain = %d, want %d", s.Stats().Corrupt, wantCorrupt)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	t.Run("file removed under the spool", func(t *testing.T) {
		dir := t.TempDir()
		paths := makeSegments(t, dir, 2)
		s := open(t, Config{Dir: dir})
		os.Remove(paths[0])
		if diff := cmp.Diff(want(10, 20), drain(t, s)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		if s.Stats().Corrupt != 1 {
			t.Errorf("Corrupt = %d, want 1", s.Stats().Corrupt)
		}
	})
}

func TestConcurrentAppends(t *testing.T) {
	s := open(t, Config{SegmentBytes: 4096, MaxAge: time.Millisecond})
	const writers, per = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				for {
					err := s.Append(fmt.Appendf(nil, "%d/%d", w, i))
					if err == nil {
						break
					}
					if !errors.Is(err, ErrFull) {
						t.Errorf("Append: %v", err)
						return
					}
				}
			}
		})
	}
	// Read concurrently with the writers.
	done := make(chan struct{})
	var got []string
	go func() {
		defer close(done)
		for len(got) < writers*per {
			seg, err := s.Oldest()
			if errors.Is(err, io.EOF) {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				t.Errorf("Oldest: %v", err)
				return
			}
			for _, r := range seg.Records {
				got = append(got, string(r))
			}
			if err := s.Remove(seg.ID); err != nil {
				t.Errorf("Remove: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	<-done
	// Every record exactly once, each writer's records in its order.
	next := make([]int, writers)
	for _, r := range got {
		var w, i int
		if _, err := fmt.Sscanf(r, "%d/%d", &w, &i); err != nil {
			t.Fatalf("bad record %q", r)
		}
		if i != next[w] {
			t.Fatalf("writer %d: record %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	if st := s.Stats(); st.Appended != writers*per || st.Removed != writers*per || st.Records != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Error("Open without a directory succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o640)
	if _, err := Open(Config{Dir: filepath.Join(file, "sub")}); err == nil || !strings.Contains(err.Error(), "open spool") {
		t.Errorf("Open under a file = %v, want an open spool error", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	s := open(b, Config{SegmentBytes: 4 << 20, MaxBytes: 1 << 40})
	r := bytes.Repeat([]byte("x"), 600)
	base := rec(0)
	copy(r, base)
	b.SetBytes(int64(len(r)))
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		r[100] = byte(n) // vary the records a little
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
		n++
		if n%8192 == 0 {
			// Deliver sealed segments without reading them, to keep the disk small.
			s.mu.Lock()
			ids := make([]uint64, 0, len(s.segs))
			for _, m := range s.segs {
				ids = append(ids, m.id)
			}
			s.mu.Unlock()
			for _, id := range ids {
				if err := s.Remove(id); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
}

func BenchmarkOldest(b *testing.B) {
	s := open(b, Config{SegmentBytes: 4 << 20, MaxBytes: 1 << 40})
	r := bytes.Repeat([]byte("x"), 600)
	copy(r, rec(0))
	for range (4 << 20) / 604 {
		if err := s.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Seal(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Oldest(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNext reads segments past the oldest while the earlier ones stay in
// the spool (in flight), and skips what was removed.
func TestNext(t *testing.T) {
	sp, err := Open(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := range 3 {
		if err := sp.Append([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if err := sp.Seal(); err != nil {
			t.Fatal(err)
		}
	}
	if got := sp.OpenRecords(); got != 0 {
		t.Errorf("OpenRecords = %d after seal", got)
	}
	var got []byte
	var after uint64
	for {
		seg, err := sp.Next(after)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, seg.Records[0][0])
		after = seg.ID
	}
	if string(got) != "\x00\x01\x02" {
		t.Errorf("Next walked %v, want 0 1 2", got)
	}
	first, _ := sp.Oldest()
	if err := sp.Remove(first.ID); err != nil {
		t.Fatal(err)
	}
	if seg, err := sp.Next(0); err != nil || seg.Records[0][0] != 1 {
		t.Errorf("Next(0) after Remove = %v, %v", seg.Records, err)
	}
	sp.Append([]byte{9})
	if got := sp.OpenRecords(); got != 1 {
		t.Errorf("OpenRecords = %d, want 1", got)
	}
}
