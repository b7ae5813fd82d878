package main

import (
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExampleConfig loads the example configuration the package installs
// as /etc/xhep/agent.yaml, and checks that flags still override it.
func TestExampleConfig(t *testing.T) {
	const path = "../../deploy/config/agent.yaml"
	c, err := parseFlags([]string{"--config", path}, io.Discard)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	type view struct {
		Ifaces, Collectors           []string
		Mode, SIPPorts, DNSPorts     string
		NodeID                       uint32
		NodeName, SendMode, SpoolDir string
		Queue                        int
		SpoolMax                     int64
		Metrics, LogLevel            string
	}
	got := view{c.Ifaces, c.Collectors, c.Mode, c.SIPPorts, c.DNSPorts, c.NodeID, c.NodeName, c.SendMode, c.SpoolDir,
		c.Queue, c.SpoolMax, c.Metrics, c.LogLevel}
	want := view{[]string{"eth0"}, []string{"udp://127.0.0.1:9060"}, "ringbuf", "5060-5061", "53", 1, "edge-1", "all",
		"/var/lib/xhep-agent/spool", 65536, 1 << 30, "127.0.0.1:9096", "info"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
	c, err = parseFlags([]string{"--config", path, "--iface", "veth9", "--collector", "tcp://10.0.0.5:9061"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"veth9"}, {"tcp://10.0.0.5:9061"}}, [][]string{c.Ifaces, c.Collectors}); diff != "" {
		t.Errorf("flags over the file (-want +got):\n%s", diff)
	}
}
