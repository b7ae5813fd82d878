package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/xhep/xhep/agent/packet"
)

// defaults is what parseFlags returns for the minimal --read command line.
func defaults() config {
	return config{
		Read: "x.pcap", Loop: 1,
		Mode: "ringbuf", XDPMode: "auto", BPFBuffer: "auto", SIPPorts: "5060-5061", DNSPorts: "53", Snaplen: 9216,
		RTCP: true, SIPByContent: true,
		Collectors: []string{"udp://127.0.0.1:9060"}, SendMode: "all", Queue: 65536, SpoolMax: 1 << 30,
		DrainTimeout: 30 * time.Second, CorrelateMax: 65536, CorrelateTTL: 10 * time.Minute, LogLevel: "info",
		RTPReportInterval: 5 * time.Second, RTPIdle: 15 * time.Second, RTPMaxStreams: 16384, RTPMaxEndpoints: 65536, RTPJitterBuffer: 60,
	}
}

var cmpPrefix = cmpopts.EquateComparable(netip.Prefix{})

func TestParseFlags(t *testing.T) {
	base := []string{"--read", "x.pcap", "--collector", "udp://127.0.0.1:9060"}
	tests := []struct {
		name string
		args []string
		want func(*config)
	}{
		{"defaults", base, func(*config) {}},
		{
			"everything",
			[]string{
				"--iface", "eth0", "--iface=eth1,eth2", "--mode", "afxdp", "--xdp-mode", "native",
				"--sip-ports", "5060-5090,5260", "--dns-ports", "53,5353", "--snaplen", "1500", "--ring-size", "16M", "--drop-unmatched",
				"--bpf-buffer", "perf", "--perf-buffer-size", "1M", "--bpf-legacy",
				"--allow", "10.0.0.0/8", "--allow", "fd00::1", "--deny", "10.1.2.3/16", "--rtcp=false", "--sip-by-content=false",
				"--drop-method", "OPTIONS,NOTIFY", "--drop-ip", "192.0.2.0/24", "--drop-payload", "friendly-scanner",
				"--node-id", "4294967295", "--node-name", "edge-1", "--auth-key", "k", "--compress-over", "1000",
				"--collector", "udp://a:9060", "--collector", "tls://b:9061", "--send-mode", "hash", "--queue", "1000",
				"--spool-dir", "/var/spool/xhep", "--spool-max", "512M", "--tls-ca", "/ca.pem", "--tls-insecure",
				"--drain-timeout", "5s", "--correlate-max", "100", "--correlate-ttl", "1h", "--metrics", ":9096",
				"--log-level", "debug",
				"--rtp-stats", "--rtp-report-interval", "2s", "--rtp-idle", "9s", "--rtp-max-streams", "64",
				"--rtp-max-endpoints", "128", "--rtp-jitter-buffer", "100",
			},
			func(c *config) {
				*c = config{
					Loop: 1, Ifaces: []string{"eth0", "eth1", "eth2"}, Mode: "afxdp", XDPMode: "native",
					SIPPorts: "5060-5090,5260", DNSPorts: "53,5353", Snaplen: 1500, RingSize: 16 << 20, DropUnmatched: true,
					BPFBuffer: "perf", PerfSize: 1 << 20, BPFLegacy: true,
					Allow:       []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::1/128")},
					Deny:        []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
					DropMethods: []string{"OPTIONS", "NOTIFY"}, DropIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
					DropPayload: []string{"friendly-scanner"},
					NodeID:      4294967295, NodeName: "edge-1", AuthKey: "k", CompressOver: 1000,
					Collectors: []string{"udp://a:9060", "tls://b:9061"}, SendMode: "hash", Queue: 1000,
					SpoolDir: "/var/spool/xhep", SpoolMax: 512 << 20, TLSCA: "/ca.pem", TLSInsecure: true,
					DrainTimeout: 5 * time.Second, CorrelateMax: 100, CorrelateTTL: time.Hour, Metrics: ":9096", LogLevel: "debug",
					RTPStats: true, RTPReportInterval: 2 * time.Second, RTPIdle: 9 * time.Second, RTPMaxStreams: 64,
					RTPMaxEndpoints: 128, RTPJitterBuffer: 100,
				}
			},
		},
		{"speed and loop", append(base, "--speed", "2.5", "--loop", "10"), func(c *config) { c.Speed, c.Loop = 2.5, 10 }},
		{"spool-max plain bytes", append(base, "--spool-max", "12345"), func(c *config) { c.SpoolMax = 12345 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if diff := cmp.Diff(want, got, cmpPrefix); diff != "" {
				t.Errorf("parseFlags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	base := []string{"--read", "x.pcap", "--collector", "udp://127.0.0.1:9060"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to read", []string{"--collector", "udp://a:1"}, "nothing to capture"},
		{"no collector", []string{"--read", "x"}, "no --collector"},
		{"read and iface", append(base, "--iface", "eth0"), "exclude each other"},
		{"bad mode", []string{"--iface", "eth0", "--collector", "udp://a:1", "--mode", "pcap"}, "--mode"},
		{"bad xdp mode", []string{"--iface", "eth0", "--collector", "udp://a:1", "--xdp-mode", "fast"}, "--xdp-mode"},
		{"bad bpf buffer", []string{"--iface", "eth0", "--collector", "udp://a:1", "--bpf-buffer", "mmap"}, "--bpf-buffer"},
		{"bad cidr", append(base, "--allow", "10.0.0.0/33"), "--allow"},
		{"bad drop-ip", append(base, "--drop-ip", "nope"), "--drop-ip"},
		{"bad node id", append(base, "--node-id", "-1"), "node id"},
		{"bad spool size", append(base, "--spool-max", "1Q"), "size"},
		{"negative speed", append(base, "--speed", "-1"), "--speed"},
		{"zero loop", append(base, "--loop", "0"), "--loop"},
		{"unknown flag", append(base, "--frobnicate"), "not defined"},
		{"stray argument", append(base, "extra"), "unexpected argument"},
		{"bad log level", append(base, "--log-level", "loud"), "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFlags error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestParseFlagsConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	yml := `
read: file.pcap
collector:
  - udp://10.0.0.1:9060
  - tcp://10.0.0.2:9061
send-mode: failover
node-id: 7
node-name: from-file
drop-method: [OPTIONS, SUBSCRIBE]
spool-max: 2G
tls-insecure: true
drain-timeout: 1m
`
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	// Command-line flags win; a list flag on the command line replaces the
	// file's list.
	got, err := parseFlags([]string{"--config", path, "--node-name", "from-flag", "--collector", "udp://127.0.0.1:1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.Read, want.Config = "file.pcap", path
	want.Collectors = []string{"udp://127.0.0.1:1"}
	want.SendMode, want.NodeID, want.NodeName = "failover", 7, "from-flag"
	want.DropMethods = []string{"OPTIONS", "SUBSCRIBE"}
	want.SpoolMax, want.TLSInsecure, want.DrainTimeout = 2<<30, true, time.Minute
	if diff := cmp.Diff(want, got, cmpPrefix); diff != "" {
		t.Errorf("parseFlags (-want +got):\n%s", diff)
	}

	for name, body := range map[string]string{
		"unknown key":     "reed: x\n",
		"bad yaml":        "read: [\n",
		"list for scalar": "read: [a, b]\n",
		"bad value":       "read: x\ncollector: udp://a:1\nqueue: many\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := parseFlags([]string{"--config=" + p}, io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := parseFlags([]string{"--config", filepath.Join(dir, "missing.yaml")}, io.Discard); err == nil {
		t.Error("missing config file: no error")
	}
}

func TestReassemblyBoundFlags(t *testing.T) {
	c, err := parseFlags([]string{"--read", "x.pcap", "--collector", "udp://127.0.0.1:9060",
		"--ws-ports", "8080,8443", "--frag-max", "10", "--frag-bytes", "1M", "--frag-timeout", "5s",
		"--tcp-max-streams", "100", "--tcp-stream-bytes", "64K", "--tcp-total-bytes", "8M",
		"--tcp-idle", "1m", "--tcp-gap-timeout", "500ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pipelineConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	d := pc.Decoder
	got := []any{d.WebSocketPorts.Has(8443), d.MaxFragments, d.MaxFragBytes, d.FragTimeout,
		d.MaxStreams, d.MaxStreamBytes, d.MaxTotalStreamBytes, d.StreamIdle, d.GapTimeout}
	want := []any{true, 10, 1 << 20, 5 * time.Second, 100, 64 << 10, 8 << 20, time.Minute, 500 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoder bounds (-want +got):\n%s", diff)
	}

	// Without the flags the decoder keeps its own defaults.
	c, err = parseFlags([]string{"--read", "x.pcap", "--collector", "udp://127.0.0.1:9060"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if pc, err = pipelineConfig(c); err != nil {
		t.Fatal(err)
	}
	def := packet.DefaultConfig()
	if pc.Decoder.MaxStreams != def.MaxStreams || pc.Decoder.FragTimeout != def.FragTimeout {
		t.Errorf("defaults changed: %d %v", pc.Decoder.MaxStreams, pc.Decoder.FragTimeout)
	}
}

// TestAuthKeyFromFileOrEnv: the HEP auth key need not be on the command
// line (visible in ps).
func TestAuthKeyFromFileOrEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte("filekey\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--read", "x.pcap", "--collector", "udp://127.0.0.1:9060"}
	t.Setenv("XHEP_AUTH_KEY", "envkey")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth-key-file", p}, "filekey"},
		{nil, "envkey"},
		{[]string{"--auth-key", "flagkey"}, "flagkey"},
	} {
		c, err := parseFlags(append(base, tc.args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.AuthKey != tc.want {
			t.Errorf("%q: auth key %q, want %q", tc.args, c.AuthKey, tc.want)
		}
	}
	if _, err := parseFlags(append(base, "--auth-key", "a", "--auth-key-file", p), io.Discard); err == nil {
		t.Error("--auth-key and --auth-key-file both accepted")
	}
}

// TestVersionFlag: --version prints the agent's name, build and BPF
// objects and exits 0 before any other flag is looked at.
func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--mode", "bogus", "--version"}} {
		var out, errOut strings.Builder
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Errorf("run(%q) = %d, want 0 (stderr %q)", args, code, errOut.String())
		}
		if s := out.String(); !strings.HasPrefix(s, "xhep-agent ") || !strings.Contains(s, "commit:") || !strings.Contains(s, "bpf objects:") {
			t.Errorf("run(%q) printed %q", args, s)
		}
	}
}
