package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type rec struct {
	JSN, Stream, Seq uint64
	Data             string
}

func replayAll(t *testing.T, j *Journal) []rec {
	t.Helper()
	var got []rec
	if err := j.Replay(func(jsn, stream, seq uint64, data []byte) error {
		got = append(got, rec{jsn, stream, seq, string(data)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func open(t *testing.T, cfg Config) *Journal {
	t.Helper()
	j, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// TestDurableAndReplay: records become durable at the sync, survive a
// reopen without Close (the process died), the checkpoint removes what is
// committed, and the marks of every stream come back.
func TestDurableAndReplay(t *testing.T) {
	dir := t.TempDir()
	j := open(t, Config{Dir: dir, SyncInterval: time.Hour, SegmentBytes: 200})
	for i := 1; i <= 10; i++ {
		if _, err := j.Append(fmt.Appendf(nil, "m%d", i), 7, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	j.Append([]byte("udp"), 0, 0)
	if d := j.Durable(7); d != 0 {
		t.Errorf("Durable before the sync = %d", d)
	}
	if s := j.Seen(7); s != 10 {
		t.Errorf("Seen = %d, want 10", s)
	}
	ch := j.Changed()
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Error("Changed not closed by the sync")
	}
	if d := j.Durable(7); d != 10 {
		t.Errorf("Durable = %d, want 10", d)
	}
	for i := 11; i <= 20; i++ {
		j.Append(fmt.Appendf(nil, "m%d", i), 7, uint64(i))
		j.Sync() // small segments: several files
	}
	if err := j.Checkpoint(11); err != nil {
		t.Fatal(err)
	}
	// No Close: a crash. The open file was fsynced at each Sync.
	j2 := open(t, Config{Dir: dir})
	var want []rec
	for i := 12; i <= 21; i++ {
		want = append(want, rec{uint64(i), 7, uint64(i - 1), fmt.Sprintf("m%d", i-1)})
	}
	if diff := cmp.Diff(want, replayAll(t, j2)); diff != "" {
		t.Errorf("replay after the checkpoint (-want +got):\n%s", diff)
	}
	if d := j2.Durable(7); d != 20 {
		t.Errorf("Durable after reopen = %d, want 20", d)
	}
	jsn, _ := j2.Append([]byte("next"), 8, 1)
	if jsn != 22 {
		t.Errorf("next JSN = %d, want 22", jsn)
	}
	j2.Sync()
	// Everything committed: the segments go, the marks stay.
	if err := j2.Checkpoint(22); err != nil {
		t.Fatal(err)
	}
	j2.Close()
	j3 := open(t, Config{Dir: dir})
	if got := replayAll(t, j3); len(got) != 0 {
		t.Errorf("replay after a full checkpoint: %v", got)
	}
	if d7, d8 := j3.Durable(7), j3.Durable(8); d7 != 20 || d8 != 1 {
		t.Errorf("marks from the checkpoint: %d %d, want 20 1", d7, d8)
	}
	if st := j3.Stats(); st.Checkpoint != 22 || st.Streams != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestTornTail: a crash in the middle of a write leaves part of a record;
// Open cuts it and keeps the whole records before it.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	j := open(t, Config{Dir: dir})
	for i := 1; i <= 3; i++ {
		j.Append([]byte("whole"), 1, uint64(i))
	}
	j.Sync()
	j.Close()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.jnl"))
	f, err := os.OpenFile(paths[len(paths)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(appendRecord(nil, 4, 1, 4, []byte("torn"))[:20])
	f.Close()
	j2 := open(t, Config{Dir: dir})
	if got := replayAll(t, j2); len(got) != 3 {
		t.Errorf("replayed %d records, want 3", len(got))
	}
	if st := j2.Stats(); st.TornBytes != 20 {
		t.Errorf("TornBytes = %d, want 20", st.TornBytes)
	}
	if d := j2.Durable(1); d != 3 {
		t.Errorf("Durable = %d", d)
	}
}

// TestBackpressure: Append blocks at MaxBytes until a checkpoint frees
// room.
func TestBackpressure(t *testing.T) {
	j := open(t, Config{Dir: t.TempDir(), MaxBytes: 10 * (recHeader + 100), SegmentBytes: 3 * (recHeader + 100)})
	data := make([]byte, 100)
	for i := 1; i <= 10; i++ {
		if _, err := j.Append(data, 1, uint64(i)); err != nil {
			t.Fatal(err)
		}
		j.Sync()
	}
	done := make(chan uint64)
	go func() {
		jsn, _ := j.Append(data, 1, 11)
		done <- jsn
	}()
	select {
	case <-done:
		t.Fatal("Append did not block on a full journal")
	case <-time.After(100 * time.Millisecond):
	}
	if err := j.Checkpoint(6); err != nil {
		t.Fatal(err)
	}
	select {
	case jsn := <-done:
		if jsn != 11 {
			t.Errorf("JSN %d", jsn)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append still blocked after the checkpoint")
	}
	if st := j.Stats(); st.Blocked != 1 {
		t.Errorf("Blocked = %d", st.Blocked)
	}
}

func TestCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "checkpoint"), []byte("XJC1 nonsense here"), 0o600)
	if _, err := Open(Config{Dir: dir}); err == nil {
		t.Error("Open accepted a corrupt checkpoint")
	}
}

// BenchmarkAppend measures the fsync policies: messages of 1 KiB appended
// by 4 goroutines, the sync window varied. msgs/s is the append rate the
// journal sustains; µs/sync the cost of one write+fsync on this disk.
func BenchmarkAppend(b *testing.B) {
	for _, win := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond} {
		b.Run(win.String(), func(b *testing.B) {
			j, err := Open(Config{Dir: b.TempDir(), SyncInterval: win})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			data := make([]byte, 1024)
			b.ReportAllocs()
			b.SetParallelism(1)
			start := time.Now()
			var n uint64
			b.RunParallel(func(pb *testing.PB) {
				var seq uint64
				for pb.Next() {
					seq++
					if _, err := j.Append(data, 1, seq); err != nil {
						b.Error(err)
						return
					}
				}
			})
			j.Sync()
			n = uint64(b.N)
			el := time.Since(start)
			st := j.Stats()
			b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
			if st.Syncs > 0 {
				b.ReportMetric(float64(st.SyncTime.Microseconds())/float64(st.Syncs), "µs/sync")
				b.ReportMetric(float64(n)/float64(st.Syncs), "msgs/sync")
			}
		})
	}
}

// TestAppendNewHanded: resends are refused by the stream's mark, and
// Handed stays below records that are not Done.
func TestAppendNewHanded(t *testing.T) {
	j := open(t, Config{Dir: t.TempDir()})
	a, dup, err := j.AppendNew([]byte("a"), 5, 1)
	if err != nil || dup {
		t.Fatal(err, dup)
	}
	b, _, _ := j.AppendNew([]byte("b"), 5, 2)
	if _, dup, _ := j.AppendNew([]byte("a again"), 5, 1); !dup {
		t.Error("resend of seq 1 not refused")
	}
	u, _ := j.Append([]byte("udp"), 0, 0)
	if h := j.Handed(); h != a-1 {
		t.Errorf("Handed = %d, want %d", h, a-1)
	}
	j.Done(b)
	if h := j.Handed(); h != a-1 {
		t.Errorf("Handed after Done(b) = %d, want %d", h, a-1)
	}
	j.Done(a)
	if h := j.Handed(); h != u {
		t.Errorf("Handed = %d, want %d", h, u)
	}
}
