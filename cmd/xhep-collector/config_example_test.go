package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/xhep/xhep/collector"
)

// TestExampleConfig loads the example configuration the package installs
// as /etc/xhep/collector.yaml, and checks that flags still override it.
func TestExampleConfig(t *testing.T) {
	const path = "../../deploy/config/collector.yaml"
	got, err := parseFlags([]string{"--config", path})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	want := defaults(collector.Config{
		Listen: []string{"udp://0.0.0.0:9060", "tcp://0.0.0.0:9061"},
		MySQL:  "xhep:xhep@tcp(127.0.0.1:3306)/", Database: "xhep",
		Retention: "call=14d,registration=3d,default=7d", PartitionsAhead: 2,
		JournalDir: "/var/lib/xhep-collector/journal", JournalMax: 1 << 30, HTTP: "127.0.0.1:9080",
		Aliases:     []string{"192.0.2.0/24=carrier-a", "198.51.100.10=carrier-b"},
		KPIMaxPeers: 64, KPIMaxNodes: 64, KPIWindow: 2 * time.Minute, KPICallTimeout: 4 * time.Hour,
	})
	if diff := cmp.Diff(want, got.Config, cmpopts.IgnoreFields(collector.Config{}, "Logger", "Output")); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
	got, err = parseFlags([]string{"--config", path, "--listen", "udp://127.0.0.1:9999", "--alias", "10.0.0.0/8=lab"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"udp://127.0.0.1:9999"}, {"10.0.0.0/8=lab"}}, [][]string{got.Listen, got.Aliases}); diff != "" {
		t.Errorf("flags over the file (-want +got):\n%s", diff)
	}
}
