package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ownServer starts a throwaway MariaDB of this test's own (so that it can
// be stopped) with scripts/mariadb.sh, and wipes it at cleanup.
type ownServer struct {
	tb   testing.TB
	env  []string
	dsn  string
	path string
}

func startOwnServer(tb testing.TB, dir string, port int) *ownServer {
	tb.Helper()
	if _, err := exec.LookPath("mariadbd"); err != nil {
		tb.Skip("mariadbd is not installed (scripts/deps.sh installs mariadb-server): cannot start a server to stop")
	}
	abs, err := filepath.Abs(filepath.Join("..", "..", "run", dir))
	if err != nil {
		tb.Fatal(err)
	}
	o := &ownServer{
		tb:   tb,
		env:  append(os.Environ(), "XHEP_MARIADB_DIR="+abs, fmt.Sprintf("XHEP_MARIADB_PORT=%d", port)),
		path: filepath.Join("..", "..", "scripts", "mariadb.sh"),
	}
	tb.Cleanup(func() { o.run("wipe") })
	o.dsn = strings.TrimSpace(o.run("start"))
	return o
}

func (o *ownServer) run(verb string) string {
	cmd := exec.Command(o.path, verb)
	cmd.Env = o.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		o.tb.Errorf("mariadb.sh %s: %v\n%s", verb, err, out)
	}
	return string(out)
}

// TestOutage stops the database in the middle of a load and starts it
// again: every row must be stored exactly once.
func TestOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("outage test stops and starts a server: skipped in -short mode")
	}
	srv := startOwnServer(t, "store-outage", 33317)
	spill := t.TempDir()
	s, err := Open(context.Background(), Config{
		DSN: srv.dsn, Database: "xhep_outage", SpillDir: spill,
		BatchRows: 500, FlushInterval: 50 * time.Millisecond, QueueRows: 5000,
		DrainTimeout: 5 * time.Minute, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 30_000
	var g rowGen
	stopped, started := make(chan struct{}), make(chan struct{})
	for i := range n {
		switch i {
		case n / 3:
			go func() { srv.run("stop"); t.Log("server stopped"); close(stopped) }()
		case 2 * n / 3:
			<-stopped
			go func() { srv.run("start"); t.Log("server started"); close(started) }()
		}
		if err := s.Write(g.sip("hep_proto_100_default", i, time.Now())); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	<-started
	// The store notices within its probe interval; Close then drains the
	// spill into the database.
	for deadline := time.Now().Add(time.Minute); !s.dbUp.Load() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	spilled := metricValue(s.m.spilled)
	dups := metricValue(s.m.dupBatches)
	t.Logf("rows spilled during the outage: %v; duplicate batches skipped: %v", spilled, dups)
	if spilled == 0 {
		t.Errorf("nothing was spilled: the outage did not happen during the load")
	}
	db := adminDB(t, srv.dsn)
	var total, distinct int
	err = db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT JSON_EXTRACT(payload, '$.id')) FROM xhep_outage.hep_proto_100_default").Scan(&total, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if total != n || distinct != n {
		t.Errorf("stored %d rows, %d distinct; want %d and %d", total, distinct, n, n)
	}
	left, _ := filepath.Glob(filepath.Join(spill, "*.seg"))
	if len(left) != 0 {
		t.Errorf("spill segments left after Close: %v", left)
	}
}

// TestSpillResume: with the database unreachable from the start, Open
// still succeeds, rows spill, Close keeps them on disk, and the next Open
// (database reachable) writes them all.
func TestSpillResume(t *testing.T) {
	dsn := testDSN(t)
	dbName := testDatabase(t, dsn)
	spill := t.TempDir()
	// Nothing listens on port 1.
	down, err := Open(context.Background(), Config{
		DSN: "xhep:xhep@tcp(127.0.0.1:1)/", Database: dbName, SpillDir: spill,
		BatchRows: 100, DrainTimeout: time.Second, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("Open with the database down: %v", err)
	}
	var g rowGen
	const n = 1000
	for i := range n {
		if err := down.Write(g.sip("hep_proto_1_registration", i, time.Now())); err != nil {
			t.Fatalf("Write %d: %v", i, err)
		}
	}
	if err := down.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := metricValue(down.m.spilled); got != n {
		t.Fatalf("spilled %v rows, want %d", got, n)
	}
	up := openTest(t, Config{DSN: dsn, Database: dbName, SpillDir: spill})
	flush(t, up)
	if got := count(t, up, "SELECT COUNT(*) FROM hep_proto_1_registration"); got != n {
		t.Errorf("rows after resume = %d, want %d", got, n)
	}
	if got := count(t, up, "SELECT COUNT(DISTINCT JSON_EXTRACT(payload, '$.id')) FROM hep_proto_1_registration"); got != n {
		t.Errorf("distinct rows after resume = %d, want %d", got, n)
	}
}

// TestDropWhenFull: with the database away, Write keeps returning at once;
// once memory and spill are both full it returns ErrDropped and counts
// the drop. Needs no server: nothing listens on port 1.
func TestDropWhenFull(t *testing.T) {
	for _, spill := range []bool{false, true} {
		t.Run(fmt.Sprintf("spill=%v", spill), func(t *testing.T) {
			cfg := Config{
				DSN: "xhep:xhep@tcp(127.0.0.1:1)/", Database: "xhep_nowhere",
				BatchRows: 10, QueueRows: 100, DrainTimeout: 100 * time.Millisecond, Logger: testLogger(t),
			}
			if spill {
				cfg.SpillDir, cfg.SpillMax = t.TempDir(), 64<<10
			}
			s, err := Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var g rowGen
			accepted, dropped := 0, 0
			for i := range 2000 {
				err := s.Write(g.sip("hep_proto_1_call", i, time.Now()))
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, ErrDropped):
					dropped++
				default:
					t.Fatalf("Write %d: %v", i, err)
				}
			}
			if dropped == 0 {
				t.Errorf("no row dropped with memory and spill full (%d accepted)", accepted)
			}
			if got := metricValue(s.m.dropFullC); got != float64(dropped) {
				t.Errorf("drop counter %v, want %d", got, dropped)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// Every accepted row is either on disk or counted as lost at shutdown.
			spilled := metricValue(s.m.spilled)
			lost := metricValue(s.m.dropped.WithLabelValues(dropShutdown))
			t.Logf("accepted %d, dropped at Write %d, spilled %v, lost at Close %v", accepted, dropped, spilled, lost)
			if spilled+lost != float64(accepted) {
				t.Errorf("accepted %d rows but spilled %v and lost %v", accepted, spilled, lost)
			}
			if !spill && spilled != 0 {
				t.Errorf("spilled %v without a spill", spilled)
			}
		})
	}
}
