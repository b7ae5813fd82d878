package store

import (
	"github.com/xhep/xhep/collector/store/mysql"

	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuTicks reads utime+stime (clock ticks) of a process from /proc.
func cpuTicks(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the ")" of the command name; utime and stime are
	// fields 14 and 15 of the line, 12 and 13 after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, true
}

const ticksPerSec = 100 // USER_HZ on Linux

// mariadbPID finds the test server's pid: XHEP_TEST_MARIADB_PID, or the
// pid file of scripts/mariadb.sh.
func mariadbPID() int {
	if v, err := strconv.Atoi(os.Getenv("XHEP_TEST_MARIADB_PID")); err == nil {
		return v
	}
	dir := os.Getenv("XHEP_MARIADB_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "run", "mariadb")
	}
	b, err := os.ReadFile(filepath.Join(dir, "mysqld.pid"))
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// BenchmarkWrite writes realistic SIP rows into hep_proto_1_call (9
// indexed generated columns) and hep_proto_100_default (3), with each
// method, and reports rows/s from the first Write until
// Flush returns, and the CPU used by this process and by mariadbd over
// that time (cores = CPU seconds / wall seconds). Use a fixed count:
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 50000x ./collector/store/
//
// mariadbd-µs/row is the stable figure on a shared machine (rows/s
// depends on how much CPU the server gets).
func BenchmarkWrite(b *testing.B) {
	for _, table := range []string{"hep_proto_1_call", "hep_proto_100_default"} {
		for _, m := range []Method{MethodLoad, MethodInsert} {
			b.Run(table+"/"+string(m), func(b *testing.B) { benchWrite(b, table, m) })
		}
	}
}

func benchWrite(b *testing.B, table string, m Method) {
	// XHEP_BENCH_CONNS and XHEP_BENCH_BATCH_ROWS override Conns and
	// BatchRows, to compare writer settings.
	conns, _ := strconv.Atoi(os.Getenv("XHEP_BENCH_CONNS"))
	batch, _ := strconv.Atoi(os.Getenv("XHEP_BENCH_BATCH_ROWS"))
	// XHEP_BENCH_SEARCH_HEADERS (comma-separated) adds --search-header
	// columns (the generated rows do not carry those headers).
	var hdrs []string
	if v := os.Getenv("XHEP_BENCH_SEARCH_HEADERS"); v != "" {
		hdrs = strings.Split(v, ",")
	}
	s := openTest(b, Config{Method: m, Conns: conns, BatchRows: batch, SearchHeaders: hdrs})
	// 1000 distinct prebuilt rows, cycled, so the CPU measured is the
	// store's and not the row generator's.
	rows := make([]Row, 1000)
	now := time.Now()
	for i := range rows {
		var g rowGen
		rows[i] = *g.sip(table, i, now)
	}
	db := mariadbPID()
	self := os.Getpid()
	c0, _ := cpuTicks(self)
	d0, okDB := cpuTicks(db)
	start := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Write(&rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start).Seconds()
	c1, _ := cpuTicks(self)
	b.ReportMetric(float64(i)/el, "rows/s")
	b.ReportMetric(float64(c1-c0)/ticksPerSec/el, "collector-cores")
	b.ReportMetric(float64(c1-c0)/ticksPerSec*1e6/float64(i), "collector-µs/row")
	if d1, ok := cpuTicks(db); ok && okDB {
		b.ReportMetric(float64(d1-d0)/ticksPerSec/el, "mariadbd-cores")
		b.ReportMetric(float64(d1-d0)/ticksPerSec*1e6/float64(i), "mariadbd-µs/row")
	}
	if s.be.(*mysql.Backend).UsesLoad() != (m == MethodLoad) {
		b.Fatalf("method %s not in use", m)
	}
}

// BenchmarkWriteCall measures Write alone (the ingest side's cost per row:
// lookup, copy into the table's batch, hand-off) with a prebuilt row; the
// writers store in the background. Steady state allocates nothing.
func BenchmarkWriteCall(b *testing.B) {
	s := openTest(b, Config{QueueRows: 1 << 30})
	var g rowGen
	r := g.sip("hep_proto_1_call", 1, time.Now())
	b.ReportAllocs()
	b.SetBytes(int64(len(r.HepHeader) + len(r.ProtocolHeader) + len(r.Payload) + len(r.Raw)))
	for b.Loop() {
		if err := s.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}
