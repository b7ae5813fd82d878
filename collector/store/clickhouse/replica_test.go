package clickhouse

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/api"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/collector/store/clickhouse/chtest"
)

// Ports of the replication test: the repl range 46000-46999 (ZooKeeper,
// then each server's native, HTTP and interserver ports).
const (
	replZKPort = 46000
	replPort1  = 46010
	replPort2  = 46020
)

// TestReplicas: one shard of two replicas (ReplicatedMergeTree, one
// ZooKeeper). retry: the exactly-once retry on the other replica, with
// ZooKeeper's block deduplication (helps: the first attempt's blocks
// are dropped when written again; interferes: a partial batch deleted
// and written again would be dropped too, so it is written with
// insert_deduplicate = 0). marks: the journal marks hold. kill: under
// load, kill -9 of the replica being written, writes go on on the other,
// nothing spills, nothing is lost or doubled, the API answers; the killed
// replica restarted catches up.
func TestReplicas(t *testing.T) {
	zk := chtest.StartZooKeeper(t, replZKPort)
	reps := chtest.Replicas(t, "xhep_repl", zk, replPort1, replPort2)
	addrs := []string{reps[0].Addr, reps[1].Addr}

	t.Run("setup", func(t *testing.T) {
		b := newTestBackend(t, Config{Addrs: addrs, Cluster: "xhep_repl"})
		openStore(t, b, store.Config{})
		if !b.Replicated() {
			t.Errorf("a shard of two replicas: tables not replicated")
		}
		if diff := cmp.Diff([]string{addrs[0] + "," + addrs[1]}, b.Shards()); diff != "" {
			t.Errorf("shards (-want +got):\n%s", diff)
		}
		for _, r := range b.currentShards()[0].replicas {
			var engine string
			if err := r.conn.QueryRow(context.Background(), "SELECT engine FROM system.tables WHERE database = ? AND name = 'hep_proto_1_call_users_local'", b.db).Scan(&engine); err != nil {
				t.Fatal(err)
			}
			if engine != "ReplicatedMergeTree" {
				t.Errorf("user index on %s: engine %s", r.addr, engine)
			}
		}
		// A cluster's plain MergeTree table (made before its shard had a
		// second replica) is refused.
		repl := newTestBackend(t, Config{Addrs: addrs, Cluster: "xhep_repl", Database: b.db + "_p"})
		plain := repl.createSQL("hep_proto_1_call") // before Setup: not replicated yet
		if !strings.Contains(plain, "ENGINE = MergeTree()") {
			t.Fatalf("DDL before Setup: %s", plain)
		}
		r1 := b.currentShards()[0].replicas[0]
		replicaExec(t, r1, "CREATE DATABASE "+repl.db)
		replicaExec(t, r1, plain)
		err := repl.Setup(context.Background(), []string{"hep_proto_1_call"})
		if err == nil || !strings.Contains(err.Error(), "must be replicated") {
			t.Errorf("plain MergeTree tables under replicas: %v, want an error", err)
		}
		repl.Close()
	})

	t.Run("retry", func(t *testing.T) { testReplicaRetry(t, addrs) })
	t.Run("marks", func(t *testing.T) { testReplicaMarks(t, addrs) })
	t.Run("zookeeper down", func(t *testing.T) { testZooKeeperDown(t, zk, addrs) })
	t.Run("kill", func(t *testing.T) { testReplicaKill(t, reps) })
}

// testZooKeeperDown: without ZooKeeper the replicated tables are
// read-only; the store sees the backend down and spills, and writes all
// once ZooKeeper is back.
func testZooKeeperDown(t *testing.T, zk *chtest.ZooKeeper, addrs []string) {
	b := newTestBackend(t, Config{Addrs: addrs, Cluster: "xhep_repl"})
	reg := prometheus.NewRegistry()
	s := openStore(t, b, store.Config{SpillDir: t.TempDir(), Registerer: reg, BatchRows: 400, FlushInterval: 50 * time.Millisecond})
	const table = "hep_proto_1_call"
	var g rowGen
	base := time.Now().UTC().Add(-5 * time.Minute)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := s.Write(g.sip(table, i, base.Add(time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 2000)
	flush(t, s)
	zk.Stop(t)
	write(2000, 4000)
	flush(t, s) // returns once spilled
	waitUp(t, reg, 0)
	if got := metric(t, reg, "xhep_store_spilled_rows_total"); got == 0 {
		t.Errorf("nothing spilled without ZooKeeper")
	}
	if got := b.DownShards(context.Background()); len(got) != 0 {
		t.Errorf("reads need no ZooKeeper, but down shards: %v", got)
	}
	zk.Start(t)
	waitUp(t, reg, 1)
	flush(t, s)
	sh := b.currentShards()[0]
	for _, r := range sh.replicas {
		for _, q := range []string{table + "_local", table + "_users_local"} {
			replicaExec(t, r, "SYSTEM SYNC REPLICA "+b.q(q))
		}
	}
	for _, r := range sh.replicas {
		if n, d := replicaCount(t, b, r, table, 0); n != 4000 || d != 4000 {
			t.Errorf("%s: %d rows, %d distinct, want 4000", r.addr, n, d)
		}
	}
	t.Logf("spilled %v rows", metric(t, reg, "xhep_store_spilled_rows_total"))
}

// replicaCount is the rows of batch id (all when id is 0) and their
// distinct ids in table's local data on replica r.
func replicaCount(t *testing.T, b *Backend, r *replica, table string, id uint64) (rows, distinct uint64) {
	t.Helper()
	q := fmt.Sprintf("SELECT count(), uniqExact(id) FROM %s WHERE batch = ? OR ? = 0", b.q(table+"_local"))
	if err := r.conn.QueryRow(context.Background(), q, id, id).Scan(&rows, &distinct); err != nil {
		t.Fatalf("count on %s: %v", r.addr, err)
	}
	return rows, distinct
}

func replicaExec(t *testing.T, r *replica, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s on %s: %v", q, r.addr, err)
	}
}

// replicaBackend is a backend on a fresh database of the test cluster,
// its shard and the shard's two replicas, and a writer.
func replicaBackend(t *testing.T, addrs []string) (*Backend, *shard, *replica, *replica, backend.Writer) {
	t.Helper()
	b := newTestBackend(t, Config{Addrs: addrs, Cluster: "xhep_repl"})
	openStore(t, b, store.Config{})
	sh := b.currentShards()[0]
	wr, err := b.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	return b, sh, sh.replicas[0], sh.replicas[1], wr
}

func testReplicaRetry(t *testing.T, addrs []string) {
	b, sh, r1, r2, wr := replicaBackend(t, addrs)
	const table = "hep_proto_1_call"
	local := b.q(table + "_local")
	ctx := context.Background()
	// 300 rows 300 ms apart, the first 100 of them before midnight: one
	// INSERT, two parts (one a day), so an attempt cut by a crash can
	// have stored the first day only. (18.16 squashes the blocks of one
	// INSERT, min_insert_block_size_rows, and writes them at its end: a
	// batch cut between blocks stores nothing.)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-30 * time.Second)
	type retryCase struct {
		name string
		id   uint64
		// lag: replica 2 has not fetched the first attempt when the
		// retry comes to it (it counts nothing); else it has (it counts
		// a partial batch).
		lag bool
		// firstRows: what the first attempt stored on replica 1 (100: the
		// first day's part only, a crash between the days).
		firstRows   int
		dataOnly    bool   // the first attempt stored no user index (killed between the two)
		wantOnRetry uint64 // rows on replica 2 right after the retry
		wantErr     error  // of the retry
	}
	// The cases without lag first; then replica 2 stops fetching for the
	// others (once: fetches resumed take ~10 s to be tried again).
	cases := []retryCase{
		{name: "first day fetched: partial batch deleted, written again without deduplication", id: 13, firstRows: 100, wantOnRetry: 300},
		{name: "first attempt stored without its user index, fetched", id: 15, firstRows: 300, dataOnly: true, wantOnRetry: 300, wantErr: backend.ErrStored},
		{name: "whole first attempt not fetched yet: ZooKeeper drops its blocks", id: 11, lag: true, firstRows: 300, wantOnRetry: 0},
		{name: "first day of the first attempt not fetched yet: ZooKeeper drops that day", id: 12, lag: true, firstRows: 100, wantOnRetry: 200},
		{name: "first attempt stored without its user index, not fetched yet", id: 14, lag: true, firstRows: 300, dataOnly: true, wantOnRetry: 0},
	}
	stopped := false
	for _, tc := range cases {
		if tc.lag && !stopped {
			replicaExec(t, r2, "SYSTEM STOP FETCHES "+local)
			stopped = true
		}
		t.Run(tc.name, func(t *testing.T) {
			// The first day's rows alone are the same rows, ids and batch
			// key as the whole batch's first part.
			first := markedBatch(tc.id, table, tc.firstRows, day, backend.Mark{})
			whole := markedBatch(tc.id, table, 300, day, backend.Mark{})
			sh.cur.Store(0)
			var err error
			if tc.dataOnly {
				w := wr.(*Writer)
				if err = w.split(first, 1); err == nil {
					err = w.writeData(ctx, first, r1, 0, false)
				}
			} else {
				err = wr.WriteBatch(ctx, first)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.lag {
				replicaExec(t, r2, "SYSTEM SYNC REPLICA "+local)
			}
			// The retry goes to replica 2 (replica 1 failed, say).
			sh.cur.Store(1)
			whole.Retry = true
			if err := wr.WriteBatch(ctx, whole); err != tc.wantErr {
				t.Fatalf("retry on replica 2: %v, want %v", err, tc.wantErr)
			}
			if n, _ := replicaCount(t, b, r2, table, tc.id); n != tc.wantOnRetry {
				t.Errorf("replica 2 right after the retry: %d rows, want %d", n, tc.wantOnRetry)
			}
		})
	}
	if stopped {
		replicaExec(t, r2, "SYSTEM START FETCHES "+local) // its postponed fetches are tried again in ~10 s
	}
	users := b.q(table + "_users_local")
	for _, q := range []string{local, users} {
		replicaExec(t, r1, "SYSTEM SYNC REPLICA "+q)
		replicaExec(t, r2, "SYSTEM SYNC REPLICA "+q)
	}
	for _, tc := range cases {
		t.Run(tc.name+", replicated", func(t *testing.T) {
			for _, r := range []*replica{r1, r2} {
				if n, d := replicaCount(t, b, r, table, tc.id); n != 300 || d != 300 {
					t.Errorf("%s: %d rows, %d distinct, want 300 (each once)", r.addr, n, d)
				}
				var idx uint64
				q := fmt.Sprintf("SELECT count() FROM %s WHERE callid IN (SELECT callid FROM %s WHERE batch = %d)", users, local, tc.id)
				if err := r.conn.QueryRow(ctx, q).Scan(&idx); err != nil {
					t.Fatal(err)
				}
				if idx != 900 {
					t.Errorf("%s: %d user index rows, want 900 (from, to and request-URI user of 300 rows)", r.addr, idx)
				}
			}
			// A third attempt finds it stored on either replica.
			whole := markedBatch(tc.id, table, 300, day, backend.Mark{})
			whole.Retry = true
			for i := range 2 {
				sh.cur.Store(int32(i))
				if err := wr.WriteBatch(ctx, whole); err != backend.ErrStored {
					t.Errorf("attempt on replica %d: %v, want ErrStored", i+1, err)
				}
			}
		})
	}
}

func testReplicaMarks(t *testing.T, addrs []string) {
	b, sh, r1, r2, wr := replicaBackend(t, addrs)
	const table = "hep_proto_1_call"
	local := b.q(table + "_local")
	ctx := context.Background()
	day := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	const stream = 91
	// 21: whole, on replica 1. 22: cut to 4 of its 10 rows, on replica 2
	// (its rows past the fourth deleted, as a crash between blocks leaves
	// it). 23: 22 replayed whole with a new batch id, on replica 1.
	complete := markedBatch(21, table, 10, day, backend.Mark{Stream: stream, Lo: 1, Hi: 10})
	cut := markedBatch(22, table, 10, day.Add(time.Minute), backend.Mark{Stream: stream, Lo: 11, Hi: 20})
	sh.cur.Store(0)
	if err := wr.WriteBatch(ctx, complete); err != nil {
		t.Fatal(err)
	}
	sh.cur.Store(1)
	if err := wr.WriteBatch(ctx, cut); err != nil {
		t.Fatal(err)
	}
	replicaExec(t, r2, fmt.Sprintf("ALTER TABLE %s DELETE WHERE batch = 22 AND id >= %d", local, 22<<20+4))
	for _, r := range []*replica{r1, r2} { // the mutation runs in the background
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			n, _ := replicaCount(t, b, r, table, 22)
			if n == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the cut batch has %d rows, want 4", r.addr, n)
			}
		}
	}
	got, err := b.Marks(ctx, stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]backend.TableMark{{Table: table, Lo: 1, Hi: 10}}, got); diff != "" {
		t.Errorf("marks (-want +got):\n%s", diff)
	}
	// The cut batch's rows are gone from both replicas (the delete is a
	// replicated mutation), so the replay stores them once.
	replicaExec(t, r1, "SYSTEM SYNC REPLICA "+local)
	replicaExec(t, r2, "SYSTEM SYNC REPLICA "+local)
	for _, r := range []*replica{r1, r2} {
		if n, _ := replicaCount(t, b, r, table, 22); n != 0 {
			t.Errorf("%s: %d rows of the cut batch left", r.addr, n)
		}
	}
	replay := markedBatch(23, table, 10, day.Add(time.Minute), backend.Mark{Stream: stream, Lo: 11, Hi: 20})
	sh.cur.Store(0)
	if err := wr.WriteBatch(ctx, replay); err != nil {
		t.Fatal(err)
	}
	replicaExec(t, r2, "SYSTEM SYNC REPLICA "+local)
	got, err = b.Marks(ctx, stream, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]backend.TableMark{{Table: table, Lo: 1, Hi: 10}, {Table: table, Lo: 11, Hi: 20}}, got); diff != "" {
		t.Errorf("marks after the replay (-want +got):\n%s", diff)
	}
	for _, r := range []*replica{r1, r2} {
		if n, d := replicaCount(t, b, r, table, 0); n != 20 || d != 20 {
			t.Errorf("%s: %d rows, %d distinct, want 20", r.addr, n, d)
		}
	}
}

func testReplicaKill(t *testing.T, reps []*chtest.Server) {
	b := newTestBackend(t, Config{Addrs: []string{reps[0].Addr, reps[1].Addr}, Cluster: "xhep_repl"})
	reg := prometheus.NewRegistry()
	s := openStore(t, b, store.Config{SpillDir: t.TempDir(), Registerer: reg, BatchRows: 400, FlushInterval: 50 * time.Millisecond})
	const table = "hep_proto_1_call"
	sh := b.currentShards()[0]
	r1, r2 := sh.replicas[0], sh.replicas[1]
	a, err := api.New(api.Config{DB: b.DB(), Backend: "clickhouse", Cluster: true, Unavailable: b.DownShards})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	defer hs.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// The load: n rows, paced, by one goroutine; it waits at 2n/3 until
	// replica 1 is killed, so rows are written before, during and after.
	const n = 30_000
	var written atomic.Int64
	killed := make(chan struct{})
	done := make(chan error, 1)
	base := time.Now().UTC().Add(-10 * time.Minute)
	go func() {
		var g rowGen
		for i := range n {
			if i == 2*n/3 {
				<-killed
			}
			if err := s.Write(g.sip(table, i, base.Add(time.Duration(i)*10*time.Millisecond))); err != nil {
				done <- err
				return
			}
			written.Add(1)
			if i%100 == 99 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		done <- nil
	}()
	// Kill replica 1 (the one written to) once it has stored a third.
	deadline := time.Now().Add(time.Minute)
	for {
		if rows, _ := replicaCount(t, b, r1, table, 0); rows >= n/3 {
			break
		}
		if time.Now().After(deadline) {
			close(killed)
			t.Fatalf("replica 1 never held %d rows", n/3)
		}
		time.Sleep(20 * time.Millisecond)
	}
	reps[0].Kill(t)
	t.Logf("replica 1 killed after %d rows written", written.Load())
	close(killed)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	flush(t, s)
	if got := metric(t, reg, "xhep_store_spilled_rows_total"); got != 0 {
		t.Errorf("%v rows spilled with one replica down, want none", got)
	}
	if got := metric(t, reg, "xhep_store_db_up"); got != 1 {
		t.Errorf("xhep_store_db_up = %v with one replica down, want 1", got)
	}
	if sh.rep() != r2 {
		t.Errorf("writes still go to %s, want the survivor %s", sh.rep().addr, r2.addr)
	}

	// The survivor: every row written after the kill, nothing doubled.
	// Rows acknowledged by replica 1 that replica 2 had not fetched when
	// replica 1 died (asynchronous replication) come back with it.
	var down, distinct uint64
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		down, distinct = replicaCount(t, b, r2, table, 0)
		if down == n || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("survivor holds %d of %d rows with replica 1 down (%d acknowledged by replica 1, not fetched before the kill)", down, n, n-down)
	if distinct != down || down > n {
		t.Errorf("survivor: %d rows, %d distinct, want each of at most %d once", down, distinct, n)
	}
	var after uint64
	q := fmt.Sprintf("SELECT count() FROM %s WHERE ts >= ?", b.q(table+"_local"))
	if err := r2.conn.QueryRow(context.Background(), q, base.Add(2*n/3*10*time.Millisecond).UnixMicro()).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != n-2*n/3 {
		t.Errorf("survivor holds %d of the %d rows written after the kill", after, n-2*n/3)
	}
	// Reads keep answering through the survivor.
	if got := b.DownShards(context.Background()); len(got) != 0 {
		t.Errorf("down shards with one replica down: %v", got)
	}
	if code, body := get("/api/v1/messages"); code != http.StatusOK {
		t.Errorf("search with replica 1 down: %d %s", code, body)
	}
	call := fmt.Sprintf("a84b4c76e66710-%d@pc33.atlanta.example.com", n-1)
	if code, body := get("/api/v1/calls/" + url.PathEscape(call) + "/flow"); code != http.StatusOK || !strings.Contains(body, call) {
		t.Errorf("flow of a call written while replica 1 was down: %d %.300s", code, body)
	}

	// Replica 1 back: both hold every row once.
	reps[0].Start(t)
	var c1, d1, c2, d2 uint64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		c1, d1 = replicaCount(t, b, r1, table, 0)
		c2, d2 = replicaCount(t, b, r2, table, 0)
		if c1 == n && c2 == n || time.Now().After(deadline) {
			break
		}
	}
	if c1 != n || d1 != n || c2 != n || d2 != n {
		t.Errorf("after replica 1 came back: replica 1 %d rows (%d distinct), replica 2 %d (%d), want %d each", c1, d1, c2, d2, n)
	}
	db := b.DB()
	if got := count(t, db, "SELECT uniqExact(callid) FROM hep_proto_1_call"); got != n {
		t.Errorf("distinct Call-IDs through the Distributed table = %d, want %d", got, n)
	}
	// The user index (its own replicated table, written by the writer
	// with the batch key) is whole and once on both.
	var u1, u2 uint64
	q = "SELECT count() FROM " + b.q("hep_proto_1_call_users_local")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := r1.conn.QueryRow(context.Background(), q).Scan(&u1); err != nil {
			t.Fatal(err)
		}
		if err := r2.conn.QueryRow(context.Background(), q).Scan(&u2); err != nil {
			t.Fatal(err)
		}
		if u1 == 3*n && u2 == 3*n || time.Now().After(deadline) {
			break
		}
	}
	if u1 != 3*n || u2 != 3*n {
		t.Errorf("user index rows: replica 1 %d, replica 2 %d, want %d each (from, to and request-URI user of every row)", u1, u2, 3*n)
	}
	t.Logf("duplicate batches found stored on retry: %v", metric(t, reg, "xhep_store_duplicate_batches_total"))
}
