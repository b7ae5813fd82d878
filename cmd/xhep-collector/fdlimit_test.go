package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIdleConnectionFloodUnderFDLimit reproduces the flood that made the
// API and /metrics unreachable: the collector runs as an unprivileged user
// with 2,048 file descriptors (it cannot raise them), and 3,000 idle HEP
// connections from six sources arrive. The connection limit is fitted
// under the descriptor limit (1,024), the rest is refused and counted, and
// /metrics keeps answering.
func TestIdleConnectionFloodUnderFDLimit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start the collector as nobody under prlimit")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	dir, err := os.MkdirTemp("", "xhep-fdlimit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "xhep-collector")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := startCollector(t, prlimit, []string{"--nofile=2048:2048", "--", bin,
		"--listen", "udp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
		"--forward", "udp://127.0.0.1:9", "--http", "127.0.0.1:0"},
		func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		})
	if !strings.Contains(strings.Join(c.startup, "\n"), "tcp_max_conns=1024") {
		t.Errorf("no log of the connection limit fitted to 2,048 descriptors:\n%s", strings.Join(c.startup, "\n"))
	}
	for i := range 6 {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i))}, Timeout: 5 * time.Second}
		for range 500 {
			conn, err := d.Dial("tcp", c.addrs["tcp"])
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { conn.Close() })
		}
	}
	metric := func(text, name string) float64 {
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
		}
		return -1
	}
	var text string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + c.http + "/metrics")
		if err != nil {
			t.Fatalf("/metrics under the flood: %v", err)
		}
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		resp.Body.Close()
		text = b.String()
		if metric(text, "xhep_collector_stream_connections_accepted_total") >= 3000 || time.Now().After(deadline) {
			break
		}
	}
	if got := metric(text, "xhep_collector_stream_connections"); got != 1024 {
		t.Errorf("open connections %v, want 1024", got)
	}
	if got := metric(text, `xhep_collector_ingest_errors_total{reason="conn_limit_total",transport="tcp"}`); got != 3000-1024 {
		t.Errorf("refused %v, want %d", got, 3000-1024)
	}
	if got := metric(text, `xhep_collector_ingest_errors_total{reason="accept",transport="tcp"}`); got > 0 {
		t.Errorf("%v accept errors (descriptors ran out)", got)
	}
	c.stop(t)
}
