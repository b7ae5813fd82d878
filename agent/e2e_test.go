package agent

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// BenchmarkEndToEndUDP is `xhep-agent --read` of a SIP capture delivering
// over UDP to the collector's listener on loopback: it reports HEP messages
// per second from the first frame read until the senders drained, and how
// many messages the listener did not get (lost) and the kernel dropped on
// its sockets. One iteration is one whole run; the capture has
// XHEP_E2E_PACKETS frames (default 200000; the README figure uses 1000000).
//
//	XHEP_E2E_PACKETS=1000000 go test ./agent -run XX -bench EndToEnd -benchtime 1x
func BenchmarkEndToEndUDP(b *testing.B) { endToEnd(b, "udp") }

// BenchmarkEndToEndTCP is BenchmarkEndToEndUDP delivering over TCP.
func BenchmarkEndToEndTCP(b *testing.B) { endToEnd(b, "tcp") }

func endToEnd(b *testing.B, scheme string) {
	want := 200000
	if s := os.Getenv("XHEP_E2E_PACKETS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("XHEP_E2E_PACKETS=%q: want a number >= 1000", s)
		}
		want = n
	}
	path, frames := sipCapture(b, want)

	var received atomic.Uint64
	srv, err := ingest.New(ingest.Config{
		Listen:    []string{scheme + "://127.0.0.1:0"},
		NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
	}, func(b []byte, _ netip.AddrPort, _ string) {
		if len(b) > 0 { // not the sender's UDP probe
			received.Add(1)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	url := scheme + "://" + srv.Status()[0].Addr.String()

	var sent, lost, drops uint64
	var elapsed time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		before := received.Load()
		drops0 := srv.Stats().UDPDrops
		p, err := New(testConfig(url))
		if err != nil {
			b.Fatal(err)
		}
		src, err := source.OpenFile(path, 1)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := p.Run(context.Background(), src); err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		src.Close()
		s := p.Summary()
		n := s.Send.Sent()
		sent += n
		// Wait until the listener has read what the kernel holds.
		last, still := received.Load(), 0
		for still < 20 {
			time.Sleep(10 * time.Millisecond)
			if r := received.Load(); r != last {
				last, still = r, 0
			} else {
				still++
			}
		}
		lost += n - (received.Load() - before)
		drops += srv.Stats().UDPDrops - drops0
		if s.Send.Dropped() != 0 || s.HEPTotal() != n {
			b.Errorf("agent dropped %d, encoded %d, sent %d", s.Send.Dropped(), s.HEPTotal(), n)
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "hep/s")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(drops), "kernel-drops")
	b.ReportMetric(float64(frames), "frames")
	b.ReportMetric(cpu.Seconds()/float64(sent)*1e9, "cpu-ns/hep")
}

// sipCapture writes a SIP-only capture (calls, registrations, OPTIONS over
// UDP) of at least n frames, once per process, and returns its path and
// frame count.
func sipCapture(tb testing.TB, n int) (string, int) {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), "xhep-agent-bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "sip-"+strconv.Itoa(n)+".pcap")
	cfg := gen.DefaultConfig()
	cfg.RTCP, cfg.DNS = false, false
	cfg.Rate = 100000
	// About 10 frames per scenario on average: scale to n.
	cfg.Calls, cfg.Registrations, cfg.Options = n/18, n/60, n/60
	if st, err := os.Stat(path + ".frames"); err == nil && st.Size() > 0 {
		b, _ := os.ReadFile(path + ".frames")
		if frames, err := strconv.Atoi(string(b)); err == nil {
			return path, frames
		}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	truth, err := gen.WritePcap(f, cfg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(path+".frames", []byte(strconv.Itoa(truth.Stats.Frames)), 0o644)
	return path, truth.Stats.Frames
}
