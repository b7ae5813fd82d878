package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/bench/gen"
)

// TestMetricsPromtool runs the command on a generated capture at capture
// pace, scrapes its --metrics endpoint while it runs and checks the output
// with promtool (Debian's prometheus package): names, units, help texts.
func TestMetricsPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: apt-get install prometheus (scripts/deps.sh does)")
	}
	gc := gen.DefaultConfig()
	gc.Calls, gc.Registrations, gc.Options = 10, 5, 5
	path := filepath.Join(t.TempDir(), "calls.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WritePcap(f, gc); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go func() {
		b := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFrom(b); err != nil {
				return
			}
		}
	}()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--read", path, "--loop", "1000", "--speed", "1", "--node-name", "promtool",
			"--collector", "udp://" + sink.LocalAddr().String(), "--metrics", addr}, &stdout, &stderr)
	}()
	var text []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		text, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(text, []byte(`xhep_agent_hep_messages_total{class="sip"}`)) {
			break
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !bytes.Contains(text, []byte(`xhep_agent_decoder_total{counter="frames"}`)) {
		t.Fatalf("no decoder counters in the scrape:\n%s", text)
	}
	checkMetrics(t, promtool, text)
}

// checkMetrics runs promtool check metrics on a scrape.
func checkMetrics(t *testing.T, promtool string, text []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if n := strings.Count(string(text), "\n# HELP "); n < 50 {
		t.Errorf("only %d metric families in the scrape", n)
	}
}

// freePort returns a loopback address with a port free right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
