package clickhouse

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/collector/store"
)

// BenchmarkWrite writes realistic SIP rows (1000 distinct, cycled)
// through the store into ClickHouse with the collector's batch settings
// and reports rows/s from the first Write until Flush returns and this
// process's CPU per row. Use a fixed count:
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 200000x ./collector/store/clickhouse/
func BenchmarkWrite(b *testing.B) {
	// XHEP_BENCH_CLUSTER=name@host:port,host:port writes a cluster of
	// those servers instead (replicated when a shard has replicas).
	var cfg Config
	if c := os.Getenv("XHEP_BENCH_CLUSTER"); c != "" {
		name, addrs, _ := strings.Cut(c, "@")
		cfg = Config{Cluster: name, Addrs: strings.Split(addrs, ",")}
	}
	be := newTestBackend(b, cfg)
	// XHEP_BENCH_CONNS and XHEP_BENCH_BATCH_ROWS override the writer
	// count and the batch size (default the collector's 50,000),
	// XHEP_BENCH_BLOCK_ROWS the rows per native block (blockRows).
	conns, _ := strconv.Atoi(os.Getenv("XHEP_BENCH_CONNS"))
	rowsPerBatch, _ := strconv.Atoi(os.Getenv("XHEP_BENCH_BATCH_ROWS"))
	if n, _ := strconv.Atoi(os.Getenv("XHEP_BENCH_BLOCK_ROWS")); n > 0 {
		defer func(old int) { blockRows = old }(blockRows)
		blockRows = n
	}
	if rowsPerBatch == 0 {
		rowsPerBatch = 50_000
	}
	s := openStore(b, be, store.Config{Conns: conns, BatchRows: rowsPerBatch, BatchBytes: 64 << 20, FlushInterval: time.Second, QueueRows: 400_000})
	flush(b, s)
	rows := make([]store.Row, 1000)
	now := time.Now()
	for i := range rows {
		var g rowGen
		rows[i] = *g.sip("hep_proto_1_call", i, now.Add(time.Duration(i)*time.Millisecond))
	}
	c0 := cpuNow()
	start := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Write(&rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	flush(b, s)
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(i)/el, "rows/s")
	b.ReportMetric((cpuNow()-c0).Seconds()*1e6/float64(i), "collector-µs/row")
}
