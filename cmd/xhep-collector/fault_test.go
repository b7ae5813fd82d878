package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/bench/gen"
)

// The fault table of acknowledged delivery, against the real binaries and
// a real MariaDB: a capture is replayed by xhep-agent over TCP into
// xhep-collector while a part is stopped or killed; afterwards every
// message must be in the database exactly once (lost and duplicated are
// computed from the rows: total, and distinct by capture time and raw
// bytes). Each case logs its line of the table.

var (
	faultBinsOnce sync.Once
	faultBinsDir  string
	faultBinsErr  error
)

// faultBins builds xhep-agent and xhep-collector once per test binary.
func faultBins(t *testing.T) (agent, coll string) {
	t.Helper()
	faultBinsOnce.Do(func() {
		faultBinsDir, faultBinsErr = os.MkdirTemp("", "xhep-fault-bins-")
		if faultBinsErr != nil {
			return
		}
		for _, c := range []string{"xhep-agent", "xhep-collector"} {
			cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(faultBinsDir, c), "../"+c)
			if out, err := cmd.CombinedOutput(); err != nil {
				faultBinsErr = fmt.Errorf("go build %s: %v\n%s", c, err, out)
				return
			}
		}
	})
	if faultBinsErr != nil {
		t.Fatal(faultBinsErr)
	}
	return filepath.Join(faultBinsDir, "xhep-agent"), filepath.Join(faultBinsDir, "xhep-collector")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if faultBinsDir != "" {
		os.RemoveAll(faultBinsDir)
	}
	os.Exit(code)
}

// keepCapture keeps faultCapture's rows: the generator dates them from
// 2026-01-01, and the store deletes rows past retention even from p_old.
var keepCapture = []string{"--retention", "call=3650d,registration=3650d,default=3650d"}

// faultCapture writes a generated capture and returns its path and the
// number of HEP messages the agent makes of it.
func faultCapture(t *testing.T, calls int) (string, int) {
	t.Helper()
	gc := gen.DefaultConfig()
	gc.Calls, gc.Registrations, gc.Options = calls, calls/6, calls/6
	path := filepath.Join(t.TempDir(), "calls.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := gen.WritePcap(f, gc)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return path, len(truth.SIP) + len(truth.RTCP) + len(truth.DNS)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a started binary with its output kept.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *strings.Builder
	mu   sync.Mutex
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, out: new(strings.Builder), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	r, w, _ := os.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *proc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits for the exit and returns the exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("%s did not exit within %v\n%s", p.name, d, p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitListen waits until addr accepts TCP connections.
func waitListen(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// metric reads a sample (name with labels, as printed) from a /metrics
// page; a sample ending in "{" sums every label set. -1 when absent.
func metric(addr, sample string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sum, found := 0.0, false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasSuffix(sample, "{") && strings.HasPrefix(line, sample) {
			i := strings.LastIndexByte(line, ' ')
			f, _ := strconv.ParseFloat(line[i+1:], 64)
			sum, found = sum+f, true
			continue
		}
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	if found {
		return sum
	}
	return -1
}

// waitMetric waits until sample reaches at least v.
func waitMetric(t *testing.T, addr, sample string, v float64, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if metric(addr, sample) >= v {
			return
		}
	}
	t.Fatalf("%s did not reach %v within %v (now %v)", sample, v, d, metric(addr, sample))
}

// faultDB makes a fresh database name on the server of dsn and drops it
// at cleanup; it returns a handle without a default database.
func faultDB(t *testing.T, dsn string) (string, *sql.DB) {
	t.Helper()
	var r [4]byte
	rand.Read(r[:])
	name := "xhep_fault_" + hex.EncodeToString(r[:])
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dc.DBName = ""
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + name)
		db.Close()
	})
	return name, db
}

// countRows returns all rows and distinct rows (by capture time and raw
// bytes) over every hep_proto table of database name on MariaDB.
func countRows(t *testing.T, db *sql.DB, name string) (total, distinct int) {
	t.Helper()
	return countTables(t, db, name,
		"SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 'hep\\_proto\\_%'",
		"SELECT COUNT(*), COUNT(DISTINCT create_date, MD5(raw)) FROM `%s`.`%s`")
}

// countTables sums count (a query with the database and table for %s,
// returning all and distinct rows) over the tables list names in database
// name; both backends' row counters are this with their own SQL.
func countTables(t *testing.T, db *sql.DB, name, list, count string) (total, distinct int) {
	t.Helper()
	rows, err := db.Query(list, name)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		tables = append(tables, s)
	}
	rows.Close()
	for _, tb := range tables {
		var n, d uint64
		if err := db.QueryRow(fmt.Sprintf(count, name, tb)).Scan(&n, &d); err != nil {
			t.Fatal(err)
		}
		total += int(n)
		distinct += int(d)
	}
	return total, distinct
}

// waitRows waits until the database holds at least want distinct rows and
// stays unchanged for a second, or the timeout.
func waitRows(t *testing.T, db *sql.DB, name string, want int, d time.Duration) (total, distinct int) {
	t.Helper()
	last, stable := -1, time.Now()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		total, distinct = countRows(t, db, name)
		if total != last {
			last, stable = total, time.Now()
		}
		if distinct >= want && time.Since(stable) > time.Second {
			return
		}
	}
	return
}

// faultCase is one line of the fault table.
type faultCase struct {
	name    string
	journal bool // collector with --journal-dir (else --spill-dir, or neither with noSpill)
	noSpill bool
	calls   int
	speed   float64 // agent --speed (0: full speed)
	// collExtra are more collector flags; agentOut, when set, checks the
	// agent's output.
	collExtra []string
	agentOut  func(t *testing.T, out string)
	// fault runs while the agent replays; it may replace *coll with a
	// restarted collector.
	fault func(t *testing.T, f *faultRun)
}

// faultRun is the state a fault acts on.
type faultRun struct {
	t            *testing.T
	collBin      string
	collArgs     []string
	coll         *proc
	http, listen string
	db           *own
}

func (f *faultRun) startCollector() {
	f.coll = startProc(f.t, "xhep-collector", f.collBin, f.collArgs...)
	waitListen(f.t, f.listen)
}

func (f *faultRun) received() float64 {
	return metric(f.http, `xhep_collector_received_messages_total{transport="tcp"}`)
}

// waitReceived waits until the collector received n messages over TCP.
func (f *faultRun) waitReceived(n float64) {
	waitMetric(f.t, f.http, `xhep_collector_received_messages_total{transport="tcp"}`, n, 60*time.Second)
}

// own is a MariaDB server of the test's own, to stop and kill.
type own struct {
	t   *testing.T
	env []string
	dir string
	dsn string
}

func startOwnDB(t *testing.T, port int) *own {
	t.Helper()
	if _, err := exec.LookPath("mariadbd"); err != nil {
		t.Skip("mariadbd is not installed: cannot start a server to kill")
	}
	dir := filepath.Join(t.TempDir(), "mdb")
	o := &own{t: t, dir: dir, env: append(os.Environ(), "XHEP_MARIADB_DIR="+dir, fmt.Sprintf("XHEP_MARIADB_PORT=%d", port), "XHEP_MARIADB_BUFFER_POOL=256M")}
	t.Cleanup(func() { o.run("wipe") })
	o.dsn = strings.TrimSpace(o.run("start"))
	return o
}

func (o *own) run(verb string) string {
	cmd := exec.Command("../../scripts/mariadb.sh", verb)
	cmd.Env = o.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		o.t.Errorf("mariadb.sh %s: %v\n%s", verb, err, out)
	}
	return string(out)
}

// kill9 kills the server with SIGKILL.
func (o *own) kill9() {
	b, err := os.ReadFile(filepath.Join(o.dir, "mysqld.pid"))
	if err != nil {
		o.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		o.t.Fatalf("pid file %s: %q", filepath.Join(o.dir, "mysqld.pid"), b)
	}
	// Only ever the server of this test: its command line names its datadir.
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !strings.Contains(string(cmdline), o.dir) {
		o.t.Fatalf("pid %d is not this test's server (%q)", pid, cmdline)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Remove(filepath.Join(o.dir, "mysqld.pid"))
}

func runFault(t *testing.T, tc faultCase, dsn string, db *sql.DB, ownDB *own) {
	agentBin, collBin := faultBins(t)
	pcap, want := faultCapture(t, tc.calls)
	name, admin := faultDB(t, dsn)
	if db == nil {
		db = admin
	}
	f := &faultRun{t: t, collBin: collBin, http: freeAddr(t), listen: freeAddr(t), db: ownDB}
	f.collArgs = []string{"--listen", "tcp://" + f.listen, "--mysql", dsn, "--database", name,
		"--http", f.http, "--drain-timeout", "60s", "--log-level", "info"}
	f.collArgs = append(f.collArgs, keepCapture...)
	switch {
	case tc.journal:
		f.collArgs = append(f.collArgs, "--journal-dir", t.TempDir())
	case !tc.noSpill:
		f.collArgs = append(f.collArgs, "--spill-dir", t.TempDir())
	}
	f.collArgs = append(f.collArgs, tc.collExtra...)
	f.startCollector()
	spool := t.TempDir()
	args := []string{"--read", pcap, "--collector", "tcp://" + f.listen, "--spool-dir", spool, "--drain-timeout", "120s"}
	if tc.speed > 0 {
		args = append(args, "--speed", strconv.FormatFloat(tc.speed, 'f', -1, 64))
	}
	begin := time.Now()
	agent := startProc(t, "xhep-agent", agentBin, args...)
	if tc.fault != nil {
		tc.fault(t, f)
	}
	if code := agent.wait(3 * time.Minute); code != 0 {
		t.Errorf("agent exit %d\n%s", code, agent.output())
	}
	took := time.Since(begin)
	if tc.agentOut != nil {
		tc.agentOut(t, agent.output())
	}
	total, distinct := waitRows(t, db, name, want, 2*time.Minute)
	f.coll.signal(syscall.SIGTERM)
	if code := f.coll.wait(2 * time.Minute); code != 0 {
		t.Errorf("collector exit %d\n%s", code, f.coll.output())
	}
	lost, dup := want-distinct, total-distinct
	summary := agent.output()
	var delivery string
	for _, l := range strings.Split(summary, "\n") {
		if strings.HasPrefix(l, "delivery:") || strings.HasPrefix(l, "dropped:") {
			delivery += strings.TrimSpace(l) + "; "
		}
	}
	t.Logf("FAULT | %s | messages %d | lost %d | duplicated %d | %v | agent: %s", tc.name, want, lost, dup, took.Round(100*time.Millisecond), delivery)
	if lost != 0 || dup != 0 {
		t.Errorf("%s: %d lost, %d duplicated of %d\nagent:\n%s\ncollector:\n%s", tc.name, lost, dup, want, summary, f.coll.output())
	}
}

func faultDSN(t *testing.T) string {
	if testing.Short() {
		t.Skip("fault tests run the binaries against MariaDB: skipped in -short mode")
	}
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	return dsn
}

// restartAfter stops the collector with sig once it received at of the
// messages, waits pause and starts it again.
func restartAfter(sig syscall.Signal, at float64, pause time.Duration) func(*testing.T, *faultRun) {
	return func(t *testing.T, f *faultRun) {
		f.waitReceived(at)
		f.coll.signal(sig)
		f.coll.wait(2 * time.Minute)
		time.Sleep(pause)
		f.startCollector()
	}
}

func TestFaultTable(t *testing.T) {
	dsn := faultDSN(t)
	cases := []faultCase{
		{name: "collector SIGTERM while behind (full speed), journal", journal: true, calls: 2000,
			fault: restartAfter(syscall.SIGTERM, 20000, 500*time.Millisecond)},
		{name: "collector SIGTERM while behind (full speed), spill", calls: 2000,
			fault: restartAfter(syscall.SIGTERM, 20000, 500*time.Millisecond)},
		{name: "collector kill -9, paced 8k msg/s, journal", journal: true, calls: 1000, speed: 8,
			fault: restartAfter(syscall.SIGKILL, 8000, 500*time.Millisecond)},
		{name: "collector kill -9 with a backlog (full speed), journal", journal: true, calls: 2000,
			fault: restartAfter(syscall.SIGKILL, 30000, 500*time.Millisecond)},
		{name: "full-speed burst, journal", journal: true, calls: 2000},
		{name: "full-speed burst, no journal, no spill (backpressure)", noSpill: true, calls: 2000},
		{name: "foreign peer (collector --no-ack): plain HEP fallback", calls: 500, collExtra: []string{"--no-ack"},
			agentOut: func(t *testing.T, out string) {
				if !strings.Contains(out, "does not acknowledge") || !strings.Contains(out, "plain HEP (the collector does not acknowledge)") {
					t.Errorf("the agent did not say it fell back to plain HEP:\n%s", out)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(strings.NewReplacer(" ", "_", ",", "").Replace(tc.name), func(t *testing.T) {
			runFault(t, tc, dsn, nil, nil)
		})
	}
}

// TestFaultDatabase kills and stops a MariaDB of the test's own (on a free port).
func TestFaultDatabase(t *testing.T) {
	faultDSN(t)
	// An ephemeral port: other runs of this test may hold any fixed one.
	_, port, _ := net.SplitHostPort(freeAddr(t))
	p, _ := strconv.Atoi(port)
	srv := startOwnDB(t, p)
	cases := []faultCase{
		{name: "database kill -9 mid-run, journal", journal: true, calls: 2000, fault: func(t *testing.T, f *faultRun) {
			f.waitReceived(10000)
			f.db.kill9()
			time.Sleep(2 * time.Second)
			f.db.run("start")
		}},
		{name: "collector kill -9 while the database is down, journal", journal: true, calls: 2000, fault: func(t *testing.T, f *faultRun) {
			f.db.run("stop")
			f.waitReceived(20000)
			time.Sleep(time.Second)
			f.coll.signal(syscall.SIGKILL)
			f.coll.wait(time.Minute)
			f.db.run("start")
			f.startCollector()
		}},
	}
	for _, tc := range cases {
		t.Run(strings.NewReplacer(" ", "_", ",", "").Replace(tc.name), func(t *testing.T) {
			runFault(t, tc, srv.dsn, nil, srv)
		})
	}
}

// TestFaultAgentKill: the collector is down; the agent spools the whole
// capture and is killed with SIGKILL; a second run with the same spool
// delivers what the first spooled. The spool's open segment is sealed
// every 200 ms while the collector is away, so after that the loss is 0.
func TestFaultAgentKill(t *testing.T) {
	dsn := faultDSN(t)
	agentBin, collBin := faultBins(t)
	pcap, want := faultCapture(t, 1000)
	empty, _ := faultCapture(t, 0)
	name, db := faultDB(t, dsn)
	f := &faultRun{t: t, collBin: collBin, http: freeAddr(t), listen: freeAddr(t)}
	f.collArgs = []string{"--listen", "tcp://" + f.listen, "--mysql", dsn, "--database", name, "--http", f.http, "--journal-dir", t.TempDir()}
	f.collArgs = append(f.collArgs, keepCapture...)
	spool := t.TempDir()
	agentHTTP := freeAddr(t)
	a1 := startProc(t, "xhep-agent", agentBin, "--read", pcap, "--collector", "tcp://"+f.listen, "--spool-dir", spool, "--drain-timeout", "60s", "--metrics", agentHTTP)
	// Wait until the agent has made every message (all spooled: nobody
	// listens), then give the spool one seal interval and kill it.
	waitMetric(t, agentHTTP, "xhep_agent_spooled_total{", float64(want), time.Minute)
	time.Sleep(400 * time.Millisecond)
	a1.kill()
	f.startCollector()
	a2 := startProc(t, "xhep-agent", agentBin, "--read", empty, "--collector", "tcp://"+f.listen, "--spool-dir", spool, "--drain-timeout", "60s")
	if code := a2.wait(2 * time.Minute); code != 0 {
		t.Errorf("second agent exit %d\n%s", code, a2.output())
	}
	total, distinct := waitRows(t, db, name, want, time.Minute)
	f.coll.signal(syscall.SIGTERM)
	f.coll.wait(time.Minute)
	lost, dup := want-distinct, total-distinct
	t.Logf("FAULT | agent kill -9 while the collector is down (spooled, then resumed) | messages %d | lost %d | duplicated %d", want, lost, dup)
	if lost != 0 || dup != 0 {
		t.Errorf("%d lost, %d duplicated\n%s", lost, dup, a2.output())
	}
}

// TestFaultReadCollectorDown: --read with the collector down for good
// waits --drain-timeout, exits 1 and names the spool.
func TestFaultReadCollectorDown(t *testing.T) {
	agentBin, _ := faultBins(t)
	pcap, _ := faultCapture(t, 5)
	spool := t.TempDir()
	begin := time.Now()
	a := startProc(t, "xhep-agent", agentBin, "--read", pcap, "--collector", "tcp://"+freeAddr(t), "--spool-dir", spool, "--drain-timeout", "2s")
	code := a.wait(time.Minute)
	took := time.Since(begin)
	if code != 1 || !strings.Contains(a.output(), spool) || took < 2*time.Second {
		t.Errorf("exit %d after %v, want 1 after at least 2s naming %s\n%s", code, took, spool, a.output())
	}
	_ = context.Background
}

// TestFaultUDP: the path without acks. A full-speed UDP burst may lose
// datagrams; whatever is lost must be counted on the side that lost it
// (the collector's socket drops, the store's drops, the agent's drops).
func TestFaultUDP(t *testing.T) {
	dsn := faultDSN(t)
	agentBin, collBin := faultBins(t)
	pcap, want := faultCapture(t, 1000)
	name, db := faultDB(t, dsn)
	udp, httpAddr := freeAddr(t), freeAddr(t)
	coll := startProc(t, "xhep-collector", collBin, append([]string{"--listen", "udp://" + udp, "--mysql", dsn, "--database", name,
		"--http", httpAddr, "--spill-dir", t.TempDir(), "--udp-rcvbuf", "4M"}, keepCapture...)...)
	waitMetric(t, httpAddr, "xhep_collector_udp_socket_drops_total", 0, 30*time.Second)
	agentHTTP := freeAddr(t)
	a := startProc(t, "xhep-agent", agentBin, "--read", pcap, "--collector", "udp://"+udp, "--metrics", agentHTTP)
	if code := a.wait(2 * time.Minute); code != 0 {
		t.Errorf("agent exit %d\n%s", code, a.output())
	}
	var agentDrops float64
	for _, l := range strings.Split(a.output(), "\n") {
		if rest, ok := strings.CutPrefix(l, "dropped:"); ok && !strings.Contains(rest, "none") {
			for _, f := range strings.Split(rest, ",") {
				fs := strings.Fields(f)
				if len(fs) == 2 {
					n, _ := strconv.ParseFloat(fs[1], 64)
					agentDrops += n
				}
			}
		}
	}
	received := 0.0
	deadline := time.Now().Add(5 * time.Second)
	for {
		sock := metric(httpAddr, "xhep_collector_udp_socket_drops_total")
		received = metric(httpAddr, `xhep_collector_received_messages_total{transport="udp"}`)
		if received+sock+agentDrops >= float64(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sock := metric(httpAddr, "xhep_collector_udp_socket_drops_total")
	storeDrops := max(metric(httpAddr, "xhep_store_dropped_rows_total{"), 0)
	probes := max(metric(httpAddr, "xhep_collector_no_payload_total"), 0) // the agent's empty UDP probes
	received -= probes
	begin := time.Now()
	total, distinct := waitRows(t, db, name, int(received-storeDrops), time.Minute)
	t.Logf("rows settled in %v", time.Since(begin).Round(time.Millisecond))
	coll.signal(syscall.SIGTERM)
	coll.wait(time.Minute)
	lost := want - distinct
	counted := int(sock + storeDrops + agentDrops)
	t.Logf("FAULT | full-speed UDP burst (no acks) | messages %d | lost %d | duplicated %d | counted: collector socket %v, store %v, agent %v", want, lost, total-distinct, sock, storeDrops, agentDrops)
	// A datagram the kernel dropped after the socket counters were read,
	// or one lost on the way that no counter sees, would show here.
	if lost != counted || total != distinct {
		t.Errorf("lost %d, counted %d (socket %v + store %v + agent %v), duplicated %d", lost, counted, sock, storeDrops, agentDrops, total-distinct)
	}
}
