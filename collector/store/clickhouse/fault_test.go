package clickhouse

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/api"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/clickhouse/chtest"
)

// metric reads a counter or gauge of reg by name (summed over labels).
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func waitUp(t *testing.T, reg *prometheus.Registry, up float64) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if metric(t, reg, "xhep_store_db_up") == up {
			return
		}
	}
	t.Fatalf("xhep_store_db_up never became %v", up)
}

// TestOutage: the server stops while rows arrive; they spill, and when it
// is back they are written, each once.
func TestOutage(t *testing.T) {
	srv := chtest.Start(t, 25910, "")
	b := newTestBackend(t, Config{Addrs: []string{srv.Addr}})
	reg := prometheus.NewRegistry()
	s := openStore(t, b, store.Config{SpillDir: t.TempDir(), Registerer: reg, BatchRows: 500, FlushInterval: 50 * time.Millisecond})
	var g rowGen
	base := time.Now().UTC()
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := s.Write(g.sip("hep_proto_1_call", i, base.Add(time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 3000)
	flush(t, s)
	srv.Stop(t)
	write(3000, 6000)
	flush(t, s) // returns once spilled
	waitUp(t, reg, 0)
	if got := metric(t, reg, "xhep_store_spilled_rows_total"); got == 0 {
		t.Errorf("nothing spilled while the server was down")
	}
	write(6000, 8000) // behind the spill
	srv.Start(t)
	waitUp(t, reg, 1)
	flush(t, s)
	db := b.DB()
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call"); got != 8000 {
		t.Errorf("rows = %d, want 8000", got)
	}
	if got := count(t, db, "SELECT uniqExact(batch, bpart, id) FROM hep_proto_1_call"); got != 8000 {
		t.Errorf("distinct rows = %d, want 8000", got)
	}
	if got := count(t, db, "SELECT uniqExact(callid) FROM hep_proto_1_call"); got != 8000 {
		t.Errorf("distinct Call-IDs = %d, want 8000", got)
	}
	t.Logf("spilled %v rows, %v duplicate batches found stored", metric(t, reg, "xhep_store_spilled_rows_total"), metric(t, reg, "xhep_store_duplicate_batches_total"))
}

// TestCluster: two shards on loopback. Writes spread over both and a
// call's legs share a shard; the Distributed tables answer for all; with
// one shard down writes spill and the API says which shard is missing;
// back up, everything is stored once.
func TestCluster(t *testing.T) {
	shards := chtest.Cluster(t, "xhep_two", 25920, 25930)
	b := newTestBackend(t, Config{Addrs: []string{shards[0].Addr}, Cluster: "xhep_two"})
	reg := prometheus.NewRegistry()
	s := openStore(t, b, store.Config{SpillDir: t.TempDir(), Registerer: reg, BatchRows: 400, FlushInterval: 50 * time.Millisecond})
	if diff := strings.Join(b.Shards(), ","); diff != shards[0].Addr+","+shards[1].Addr {
		t.Fatalf("shards %s", diff)
	}
	var g rowGen
	base := time.Now().UTC().Add(-time.Minute)
	n := 0
	write := func(calls int) {
		for range calls {
			// An A-leg and its B-leg (callid_aleg = the A-leg's Call-ID).
			r := g.sip("hep_proto_1_call", n, base.Add(time.Duration(n)*time.Millisecond))
			if err := s.Write(r); err != nil {
				t.Fatal(err)
			}
			aleg := fmt.Sprintf("a84b4c76e66710-%d@pc33.atlanta.example.com", n)
			r = g.sip("hep_proto_1_call", n+1_000_000, base.Add(time.Duration(n)*time.Millisecond+time.Microsecond))
			r.ProtocolHeader = []byte(strings.Replace(string(r.ProtocolHeader), `"callid_aleg":""`, `"callid_aleg":"`+aleg+`"`, 1))
			if err := s.Write(r); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	write(1000)
	flush(t, s)
	db := b.DB()
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call"); got != 2000 {
		t.Errorf("distributed rows = %d, want 2000", got)
	}
	for i, sh := range b.currentShards() {
		var local, orphans uint64
		ctx := context.Background()
		if err := sh.rep().conn.QueryRow(ctx, "SELECT count() FROM `"+b.db+"`.hep_proto_1_call_local").Scan(&local); err != nil {
			t.Fatal(err)
		}
		if err := sh.rep().conn.QueryRow(ctx, "SELECT count() FROM `"+b.db+"`.hep_proto_1_call_local WHERE callid_aleg != '' AND callid_aleg NOT IN (SELECT callid FROM `"+b.db+"`.hep_proto_1_call_local)").Scan(&orphans); err != nil {
			t.Fatal(err)
		}
		t.Logf("shard %d: %d rows", i+1, local)
		if local < 500 || local > 1500 {
			t.Errorf("shard %d holds %d of 2000 rows: not spread", i+1, local)
		}
		if orphans != 0 {
			t.Errorf("shard %d: %d B-leg rows without their A-leg on the same shard", i+1, orphans)
		}
	}
	// The API over the Distributed tables, with a shard down.
	a, err := api.New(api.Config{DB: db, Backend: "clickhouse", Cluster: true, Unavailable: b.DownShards})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	defer hs.Close()
	callURL := hs.URL + "/api/v1/calls/" + "a84b4c76e66710-7@pc33.atlanta.example.com" + "/flow"
	if resp, err := http.Get(callURL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("flow with both shards up: %v %v", resp, err)
	}
	shards[1].Stop(t)
	write(500)
	flush(t, s) // spilled: shard 2 does not answer
	if got := metric(t, reg, "xhep_store_spilled_rows_total"); got == 0 {
		t.Errorf("nothing spilled with shard 2 down")
	}
	resp, err := http.Get(hs.URL + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 4096)
	nb, _ := resp.Body.Read(body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body[:nb]), "shard 2 ("+shards[1].Addr+")") {
		t.Errorf("search with shard 2 down: %d %s, want 503 naming shard 2", resp.StatusCode, body[:nb])
	}
	shards[1].Start(t)
	waitUp(t, reg, 1)
	flush(t, s)
	if got := count(t, db, "SELECT count() FROM hep_proto_1_call"); got != 3000 {
		t.Errorf("distributed rows after shard 2 came back = %d, want 3000", got)
	}
	if got := count(t, db, "SELECT uniqExact(batch, bpart, id) FROM hep_proto_1_call"); got != 3000 {
		t.Errorf("distinct rows = %d, want 3000", got)
	}
}
