// Package chtest starts throwaway ClickHouse servers for tests, through
// scripts/clickhouse.sh: own config, data dir and ports, stopped and
// removed at the test's cleanup.
package chtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Server is one started server.
type Server struct {
	Addr   string // 127.0.0.1:port (native protocol)
	script string
	env    []string
}

func script(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "scripts", "clickhouse.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("scripts/clickhouse.sh not found above the test's directory")
		}
		dir = parent
	}
}

// Start starts a server on port with data under a temporary directory;
// cluster, when not empty, is "name=host:port,host:port" for its
// remote_servers. Skips when clickhouse-server is not installed.
func Start(tb testing.TB, port int, cluster string) *Server {
	tb.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		tb.Skip("clickhouse-server is not installed (scripts/deps.sh installs it)")
	}
	s := &Server{script: script(tb), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.env = append(os.Environ(), fmt.Sprintf("XHEP_CLICKHOUSE_PORT=%d", port),
		"XHEP_CLICKHOUSE_DIR="+filepath.Join(tb.TempDir(), "ch"), "XHEP_CLICKHOUSE_CLUSTER="+cluster)
	tb.Cleanup(func() { s.run(tb, "wipe") })
	s.Start(tb)
	return s
}

func (s *Server) run(tb testing.TB, verb string) {
	tb.Helper()
	cmd := exec.Command(s.script, verb)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("clickhouse.sh %s: %v\n%s", verb, err, out)
	}
}

// Start (re)starts the server.
func (s *Server) Start(tb testing.TB) { tb.Helper(); s.run(tb, "start") }

// Stop stops the server; its data stays.
func (s *Server) Stop(tb testing.TB) { tb.Helper(); s.run(tb, "stop") }

// Cluster starts one server per port, each a one-replica shard of the
// cluster name, and returns them in shard order.
func Cluster(tb testing.TB, name string, ports ...int) []*Server {
	tb.Helper()
	var hosts []string
	for _, p := range ports {
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", p))
	}
	spec := name + "=" + strings.Join(hosts, ",")
	var out []*Server
	for _, p := range ports {
		out = append(out, Start(tb, p, spec))
	}
	return out
}
