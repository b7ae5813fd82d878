// Package chtest starts throwaway ClickHouse servers for tests, through
// scripts/clickhouse.sh (and a ZooKeeper for replicated tables through
// scripts/zookeeper.sh): own config, data dir and ports, stopped and
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

func script(tb testing.TB) string { return scriptNamed(tb, "clickhouse.sh") }

func scriptNamed(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "scripts", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("scripts/%s not found above the test's directory", name)
		}
		dir = parent
	}
}

// Start starts a server on port with data under a temporary directory;
// cluster, when not empty, is "name=host:port,host:port" for its
// remote_servers. Skips when clickhouse-server is not installed.
func Start(tb testing.TB, port int, cluster string) *Server {
	tb.Helper()
	return start(tb, port, cluster, "")
}

func start(tb testing.TB, port int, cluster, zookeeper string) *Server {
	tb.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		tb.Skip("clickhouse-server is not installed (scripts/deps.sh installs it)")
	}
	s := &Server{script: script(tb), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.env = append(os.Environ(), fmt.Sprintf("XHEP_CLICKHOUSE_PORT=%d", port),
		"XHEP_CLICKHOUSE_DIR="+filepath.Join(tb.TempDir(), "ch"), "XHEP_CLICKHOUSE_CLUSTER="+cluster,
		"XHEP_CLICKHOUSE_ZOOKEEPER="+zookeeper, "XHEP_CLICKHOUSE_SHARD=", "XHEP_CLICKHOUSE_REPLICA=")
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
		tb.Fatalf("%s %s: %v\n%s", filepath.Base(s.script), verb, err, out)
	}
}

// Start (re)starts the server.
func (s *Server) Start(tb testing.TB) { tb.Helper(); s.run(tb, "start") }

// Stop stops the server; its data stays.
func (s *Server) Stop(tb testing.TB) { tb.Helper(); s.run(tb, "stop") }

// Kill kills the server with SIGKILL; its data stays.
func (s *Server) Kill(tb testing.TB) { tb.Helper(); s.run(tb, "kill") }

// Cluster starts one server per port, each a one-replica shard of the
// cluster name, and returns them in shard order.
func Cluster(tb testing.TB, name string, ports ...int) []*Server {
	tb.Helper()
	spec := name + "=" + strings.Join(hosts(ports), ",")
	var out []*Server
	for _, p := range ports {
		out = append(out, Start(tb, p, spec))
	}
	return out
}

func hosts(ports []int) []string {
	var out []string
	for _, p := range ports {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return out
}

// ZooKeeper is a started throwaway ZooKeeper (Addr its client port).
type ZooKeeper struct{ Server }

// StartZooKeeper starts a ZooKeeper on port with data under a temporary
// directory, wiped at cleanup. Skips when Debian's zookeeper package is
// not installed.
func StartZooKeeper(tb testing.TB, port int) *ZooKeeper {
	tb.Helper()
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		tb.Skip("ZooKeeper is not installed (scripts/deps.sh installs Debian's zookeeper package)")
	}
	if _, err := exec.LookPath("java"); err != nil {
		tb.Skip("java is not installed (Debian's zookeeper package pulls a JRE; scripts/deps.sh)")
	}
	z := &ZooKeeper{Server{Addr: fmt.Sprintf("127.0.0.1:%d", port)}}
	z.script = scriptNamed(tb, "zookeeper.sh")
	z.env = append(os.Environ(), fmt.Sprintf("XHEP_ZOOKEEPER_PORT=%d", port), "XHEP_ZOOKEEPER_DIR="+filepath.Join(tb.TempDir(), "zk"))
	tb.Cleanup(func() { z.run(tb, "wipe") })
	z.Start(tb)
	return z
}

// Replicas starts one server per port, all replicas of the one shard of
// cluster name, with zk for their replicated tables; in replica order.
func Replicas(tb testing.TB, name string, zk *ZooKeeper, ports ...int) []*Server {
	tb.Helper()
	spec := name + "=" + strings.Join(hosts(ports), "|")
	var out []*Server
	for _, p := range ports {
		out = append(out, start(tb, p, spec, zk.Addr))
	}
	return out
}
