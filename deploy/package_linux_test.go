//go:build linux

package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Fixed ports of this test (helper range 28000-28999).
const (
	pkgHEPPort  = 28060
	pkgHTTPPort = 28080
	pkgPromPort = 28090
	pkgAgentMet = 28096
)

// TestPackageInstallAndMonitor is the operator's path end to end: `make
// package`, dpkg -i of the three packages (binaries, units, example
// configs, the xhep user, nothing started), --version of every installed
// binary, systemd-analyze verify of the installed units; then the
// installed collector (as user xhep, no capabilities) and the installed
// agent (as user xhep with exactly the unit's ambient capabilities,
// capturing live with XDP/TC on a veth pair) run from the installed
// example configs, generated calls flow through the pair, a real
// Prometheus scrapes both with the shipped rules, and every query of every
// shipped dashboard must return data. Everything is removed at the end
// (dpkg --purge, the user if the test created it, the namespace, the
// database).
func TestPackageInstallAndMonitor(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: installs .deb packages and captures with BPF")
	}
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "make", "ip", "setpriv", "prometheus", "promtool", "systemd-analyze", "useradd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (scripts/deps.sh installs what is missing)", tool)
		}
	}
	// One run at a time on a machine (packages and ports are global).
	lock, err := os.OpenFile("/tmp/xhep-package-test.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	pkgs := []string{"xhep-agent", "xhep-collector", "xhep-bench"}
	for _, p := range pkgs {
		if out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output(); strings.Contains(string(out), "installed") {
			t.Skipf("%s is already installed on this machine; the test does not touch an existing installation", p)
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()

	// make package, as an operator would.
	dist := filepath.Join(tmp, "dist")
	begin := time.Now()
	mustRun(t, exec.Command("make", "-C", root, "--no-print-directory", "package", "DIST="+dist))
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) != 3 {
		t.Fatalf("make package built %d packages, want 3: %v", len(debs), debs)
	}
	t.Logf("make package: %v", time.Since(begin).Round(time.Second))

	// Install; remove everything afterwards, even on failure.
	_, userErr := user.Lookup("xhep")
	userExisted := userErr == nil
	t.Cleanup(func() {
		if out, err := dpkg(append([]string{"--purge"}, pkgs...)...); err != nil {
			t.Errorf("dpkg --purge: %v\n%s", err, out)
		}
		if !userExisted {
			exec.Command("userdel", "xhep").Run()
			exec.Command("groupdel", "xhep").Run()
		}
		for _, f := range []string{"/usr/bin/xhep-agent", "/usr/bin/xhep-collector", "/usr/lib/systemd/system/xhep-agent.service"} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%s is still there after dpkg --purge", f)
			}
		}
	})
	if out, err := dpkg(append([]string{"-i"}, debs...)...); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}

	// What the packages put in place.
	u, err := user.Lookup("xhep")
	if err != nil {
		t.Fatalf("the packages did not create the xhep user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, f := range []string{"/etc/xhep/agent.yaml", "/etc/xhep/collector.yaml"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 || int(st.Sys().(*syscall.Stat_t).Gid) != gid {
			t.Errorf("%s: mode %v gid %d, want 0640 and group xhep", f, st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Gid)
		}
	}
	if pids := processesOf("/usr/bin/xhep-agent", "/usr/bin/xhep-collector"); len(pids) > 0 {
		t.Errorf("installing started services: pids %v", pids)
	}
	verifyUnits(t, "systemd-analyze", "/usr/lib/systemd/system/xhep-agent.service", "/usr/lib/systemd/system/xhep-collector.service")
	checkVersions(t, root)

	// The network: the host side of a veth pair is the SIP proxy side, a
	// namespace holds the phones.
	ns := fmt.Sprintf("x18p%d", os.Getpid())
	ifHost, ifPeer := fmt.Sprintf("x18h%d", os.Getpid()), fmt.Sprintf("x18n%d", os.Getpid())
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", ifHost).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	mustRun(t, exec.Command("ip", "netns", "add", ns))
	mustRun(t, exec.Command("ip", "link", "add", ifHost, "type", "veth", "peer", "name", ifPeer, "netns", ns))
	mustRun(t, exec.Command("ip", "link", "set", ifHost, "up"))
	mustRun(t, exec.Command("ip", "-n", ns, "link", "set", ifPeer, "up"))
	mustRun(t, exec.Command("ip", "-n", ns, "link", "set", "lo", "up"))

	// Directories the services write, owned by xhep (as StateDirectory=
	// would make them).
	stateDir := func(name string) string {
		d, err := os.MkdirTemp("", "xhep18-"+name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		os.Chmod(d, 0o750)
		os.Chown(d, uid, gid)
		return d
	}

	// The installed collector from the installed example config, as xhep
	// without any capability.
	var r [4]byte
	rand.Read(r[:])
	db := "xhep_pkg_t_" + hex.EncodeToString(r[:])
	t.Cleanup(func() { dropDB(t, dsn, db) })
	collector := startService(t, "collector", []string{"--bounding-set=-all"}, "/usr/bin/xhep-collector",
		"--config", "/etc/xhep/collector.yaml",
		"--listen", fmt.Sprintf("udp://127.0.0.1:%d", pkgHEPPort), "--listen", fmt.Sprintf("tcp://127.0.0.1:%d", pkgHEPPort+1),
		"--mysql", dsn, "--database", db, "--http", fmt.Sprintf("127.0.0.1:%d", pkgHTTPPort), "--journal-dir", stateDir("journal"),
		"--alias", "10.0.0.30=trunk-gw", "--alias", "10.0.0.20=pbx-1", "--alias", "10.1.0.0/16=phones")
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", pkgHTTPPort), collector)

	// The installed agent from the installed example config, as xhep with
	// the capabilities the installed unit grants, nothing more.
	caps := unitCapabilities(t, "/usr/lib/systemd/system/xhep-agent.service")
	agent := startService(t, "agent", []string{"--inh-caps=-all," + caps, "--ambient-caps=-all," + caps, "--bounding-set=-all," + caps},
		"/usr/bin/xhep-agent", "--config", "/etc/xhep/agent.yaml", "--iface", ifHost,
		"--collector", fmt.Sprintf("udp://127.0.0.1:%d", pkgHEPPort), "--metrics", fmt.Sprintf("127.0.0.1:%d", pkgAgentMet),
		"--spool-dir", stateDir("spool"), "--node-name", "pkg-edge")
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", pkgAgentMet), agent)

	// Prometheus with the shipped rules, scraping both every second.
	promDir := filepath.Join(tmp, "prometheus")
	os.MkdirAll(filepath.Join(promDir, "data"), 0o755)
	promCfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [/usr/share/xhep/prometheus/xhep-rules.yml]
scrape_configs:
  - job_name: xhep-agent
    static_configs: [{targets: ["127.0.0.1:%d"]}]
  - job_name: xhep-collector
    static_configs: [{targets: ["127.0.0.1:%d"]}]
`, pkgAgentMet, pkgHTTPPort)
	os.WriteFile(filepath.Join(promDir, "prometheus.yml"), []byte(promCfg), 0o644)
	prom := startProcess(t, "prometheus", exec.Command("prometheus", "--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDir, "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", pkgPromPort),
		"--log.level=warn"))
	promURL := fmt.Sprintf("http://127.0.0.1:%d", pkgPromPort)
	waitHTTP(t, promURL+"/-/ready", prom)

	// Traffic (at 500 frames/s: replay's sendmmsg bursts lose frames before
	// XDP on this veth above about 1000/s, which would starve the KPIs of
	// whole exchanges): generated calls, registrations, RTCP and DNS (a new seed per
	// round, so Call-IDs never repeat), replayed through the pair by the
	// installed xhep-bench until the queries are done.
	ctx, stopTraffic := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var rounds int
	var trafficErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for seed := 1; ctx.Err() == nil; seed++ {
			pcap := filepath.Join(tmp, "traffic.pcap")
			out, err := exec.Command("/usr/bin/xhep-bench", "gen", "--calls", "40", "--registrations", "20", "--options", "5",
				"--seed", strconv.Itoa(seed), "--out", pcap).CombinedOutput()
			if err == nil {
				out, err = exec.CommandContext(ctx, "/usr/bin/xhep-bench", "replay", "--read", pcap, "--iface", ifHost,
					"--peer", ifPeer, "--peer-netns", ns, "--local", "10.0.0.0/24", "--pps", "500").CombinedOutput()
			}
			if err != nil && ctx.Err() == nil {
				trafficErr = fmt.Errorf("traffic round %d: %v\n%s", seed, err, out)
				return
			}
			rounds++
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopTraffic()
			wg.Wait()
		}
	}
	t.Cleanup(stop)

	// Wait for a minute of data with calls completed, then ask for every
	// dashboard query.
	trafficStart := time.Now()
	deadline := trafficStart.Add(3 * time.Minute)
	for {
		v, _ := promQuery(promURL, `sum(xhep_sip_call_duration_seconds_count) and sum(up{job=~"xhep-.*"}) == 2`)
		if len(v) > 0 && time.Since(trafficStart) > 45*time.Second {
			break
		}
		if trafficErr != nil {
			t.Fatal(trafficErr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed calls in Prometheus after 3 minutes (agent log:\n%s\ncollector log:\n%s)", agent.log(), collector.log())
		}
		time.Sleep(time.Second)
	}
	window := fmt.Sprintf("%ds", int(time.Since(trafficStart).Seconds()))
	var queries, failed int
	for _, d := range readDashboards(t, "/usr/share/xhep/grafana/dashboards") {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				queries++
				expr := Expand(tg.Expr, "20s", window)
				res, err := promQuery(promURL, expr)
				switch {
				case err != nil:
					t.Errorf("%s / %s: %s: %v", d.UID, p.Title, expr, err)
				case len(res) == 0:
					t.Errorf("%s / %s: no data: %s", d.UID, p.Title, expr)
				case !anyFinite(res):
					t.Errorf("%s / %s: only NaN/Inf: %s = %v", d.UID, p.Title, expr, res)
				default:
					continue
				}
				failed++
			}
		}
	}
	t.Logf("%d dashboard queries evaluated by Prometheus after %s of traffic (%d replay rounds), %d without data", queries, window, rounds, failed)
	if failed > 0 {
		for _, u := range []string{fmt.Sprintf("http://127.0.0.1:%d/metrics", pkgAgentMet), fmt.Sprintf("http://127.0.0.1:%d/metrics", pkgHTTPPort)} {
			resp, err := http.Get(u)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var keep []string
			for line := range strings.Lines(string(b)) {
				if strings.HasPrefix(line, "xhep_sip_responses_total") || strings.HasPrefix(line, "xhep_agent_hep_messages_total") ||
					strings.HasPrefix(line, "xhep_agent_bpf_matched_total") || strings.HasPrefix(line, "xhep_store_partition") {
					keep = append(keep, line)
				}
			}
			t.Logf("%s (excerpt):\n%s", u, strings.Join(keep, ""))
		}
	}

	// Zero-valued series would pass the loop above: what the traffic must
	// have moved is checked to be above 0.
	for _, expr := range []string{
		`sum(xhep_agent_bpf_captured_total)`, `sum(xhep_agent_sent_total)`,
		`sum(xhep_sip_invite_attempts_total{peer="phones"})`, `sum(xhep_sip_invite_outcomes_total{outcome="answered"})`,
		`sum(xhep_sip_invite_outcomes_total{outcome="failed",peer="trunk-gw"})`, `sum(xhep_sip_invite_outcomes_total{outcome="cancelled"})`,
		`sum(xhep_sip_invite_outcomes_total{outcome="user"})`, `sum(xhep_sip_invite_attempts_total{peer="pbx-1"})`,
		`sum(xhep_sip_register_responses_total{outcome="success"})`, `sum(xhep_sip_register_responses_total{outcome="challenge"})`,
		`sum(xhep_sip_call_duration_seconds_count)`, `sum(xhep_sip_srd_seconds_count)`, `sum(xhep_sip_rrd_seconds_count)`, `sum(xhep_rtcp_mos_count{node="pkg-edge"})`,
		`sum(xhep_rtcp_jitter_seconds_count)`, `sum(xhep_store_rows_written_total)`,
	} {
		res, err := promQuery(promURL, expr)
		if err != nil || len(res) == 0 || !(res[0] > 0) {
			t.Errorf("%s = %v (%v), want > 0", expr, res, err)
		}
	}

	// The shipped rules load and evaluate without errors; the KPI
	// recording rules have data.
	checkRules(t, promURL)
	for _, rec := range []string{"xhep:sip_asr:ratio15m", "xhep:sip_ner:ratio15m", "xhep:sip_invite_attempts:rate15m",
		"xhep:sip_register_success:ratio15m", "xhep:rtcp_mos:avg10m", "xhep:rtcp_fraction_lost:avg10m"} {
		if res, err := promQuery(promURL, rec); err != nil || !anyFinite(res) {
			t.Errorf("recording rule %s: %v %v", rec, res, err)
		}
	}
	// The live binaries' metrics pass promtool's lint.
	for name, u := range map[string]string{"agent": fmt.Sprintf("http://127.0.0.1:%d/metrics", pkgAgentMet), "collector": fmt.Sprintf("http://127.0.0.1:%d/metrics", pkgHTTPPort)} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cmd := exec.Command("promtool", "check", "metrics")
		cmd.Stdin = bytes.NewReader(b)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on the running %s: %v\n%s", name, err, out)
		}
	}
	stop()
	agent.stop(t)
	collector.stop(t)
	prom.stop(t)
}

// mustRun runs cmd and fails the test with its output on error.
func mustRun(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// dpkg runs dpkg, waiting up to five minutes while another process holds
// its lock (other work on the machine installs packages too).
func dpkg(args ...string) ([]byte, error) {
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(2 * time.Second) {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("lock")) || time.Now().After(deadline) {
			return out, err
		}
	}
}

// checkVersions runs --version of every installed binary.
func checkVersions(t *testing.T, root string) {
	t.Helper()
	objs, _ := filepath.Glob(filepath.Join(root, "bpf", "*.o"))
	sort.Strings(objs)
	h := sha256.New()
	for _, o := range objs {
		b, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	bpfHash := hex.EncodeToString(h.Sum(nil))
	commit := regexp.MustCompile(`(?m)^commit: [0-9a-f]{40}(-dirty)?$`)
	for _, b := range []string{"xhep-agent", "xhep-collector", "xhep-bench"} {
		out, err := exec.Command("/usr/bin/"+b, "--version").CombinedOutput()
		if err != nil {
			t.Errorf("%s --version: %v\n%s", b, err, out)
			continue
		}
		s := string(out)
		if !strings.HasPrefix(s, b+" 0.") || !commit.MatchString(s) || !strings.Contains(s, "go: go1.") {
			t.Errorf("%s --version:\n%s", b, s)
		}
		if b != "xhep-collector" && !strings.Contains(s, "bpf objects: sha256:"+bpfHash) {
			t.Errorf("%s --version does not name the BPF objects' hash %s:\n%s", b, bpfHash, s)
		}
	}
}

// processesOf returns the pids running one of the executables.
func processesOf(exes ...string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, _ := os.Readlink("/proc/" + e.Name() + "/exe")
		for _, x := range exes {
			if exe == x {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// unitCapabilities reads AmbientCapabilities= of a unit as setpriv's list:
// "CAP_BPF CAP_NET_ADMIN" → "+bpf,+net_admin".
func unitCapabilities(t *testing.T, unit string) string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "AmbientCapabilities="); ok {
			var caps []string
			for _, c := range strings.Fields(v) {
				caps = append(caps, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
			}
			return strings.Join(caps, ",")
		}
	}
	t.Fatalf("%s has no AmbientCapabilities=", unit)
	return ""
}

// process is a started program whose output is kept.
type process struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startProcess(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// startService runs an installed binary as user xhep through setpriv with
// the given capability options.
func startService(t *testing.T, name string, caps []string, bin string, args ...string) *process {
	t.Helper()
	sp := append([]string{"--reuid=xhep", "--regid=xhep", "--init-groups", "--no-new-privs"}, caps...)
	sp = append(append(sp, "--", bin), args...)
	return startProcess(t, name, exec.Command("setpriv", sp...))
}

// stop sends SIGTERM and wants a clean exit within a minute.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%s exited with %v:\n%s", p.name, err, p.log())
		}
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within a minute of SIGTERM:\n%s", p.name, p.log())
	}
}

// waitHTTP waits until url answers 200, or fails with the process's log.
func waitHTTP(t *testing.T, url string, p *process) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited (%v):\n%s", p.name, err, p.log())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s does not answer on %s:\n%s", p.name, url, p.log())
}

// promQuery evaluates an instant query and returns the sample values.
func promQuery(base, expr string) ([]float64, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", r.Error)
	}
	parse := func(v []any) float64 {
		s, _ := v[1].(string)
		f, _ := strconv.ParseFloat(s, 64)
		if s == "NaN" {
			return math.NaN()
		}
		return f
	}
	var out []float64
	switch r.Data.ResultType {
	case "vector":
		var vs []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vs); err != nil {
			return nil, err
		}
		for _, v := range vs {
			out = append(out, parse(v.Value))
		}
	case "scalar":
		var v []any
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return nil, err
		}
		out = append(out, parse(v))
	default:
		return nil, fmt.Errorf("result type %s", r.Data.ResultType)
	}
	return out, nil
}

func anyFinite(vs []float64) bool {
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// checkRules wants every loaded rule evaluated without error.
func checkRules(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(time.Second) {
		resp, err := http.Get(base + "/api/v1/rules")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data struct {
				Groups []struct {
					Name  string `json:"name"`
					Rules []struct {
						Name      string `json:"name"`
						Health    string `json:"health"`
						LastError string `json:"lastError"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var bad []string
		n := 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				n++
				if rule.Health != "ok" {
					bad = append(bad, fmt.Sprintf("%s/%s: %s %s", g.Name, rule.Name, rule.Health, rule.LastError))
				}
			}
		}
		if n >= 20 && len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d rules loaded; not healthy:\n%s", n, strings.Join(bad, "\n"))
			return
		}
	}
}

// dropDB removes a test database.
func dropDB(t *testing.T, dsn, name string) {
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Error(err)
		return
	}
	dc.DBName = ""
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		t.Error(err)
		return
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
		t.Error(err)
	}
}
