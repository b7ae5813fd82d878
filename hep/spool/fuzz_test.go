package spool

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSegment writes arbitrary bytes as a segment file and reads the spool:
// nothing may panic, and a bad segment is dropped and counted, never
// returned. The seed corpus is in testdata/fuzz/FuzzSegment.
func FuzzSegment(f *testing.F) {
	f.Add([]byte("XSP1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.seg"), data, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		seg, err := s.Oldest()
		if errors.Is(err, io.EOF) {
			if s.Stats().Corrupt != 1 {
				t.Fatalf("segment neither read nor counted corrupt: %+v", s.Stats())
			}
			return
		}
		if err != nil {
			t.Fatalf("Oldest: %v", err)
		}
		if int64(len(seg.Records)) != s.Stats().Records {
			t.Fatalf("%d records read, Stats says %d", len(seg.Records), s.Stats().Records)
		}
		if err := s.Remove(seg.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
	})
}
