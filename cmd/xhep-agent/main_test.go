package main

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// TestRunRead runs the command on a generated capture against the real
// collector listener: exit 0, every message delivered, summary printed.
func TestRunRead(t *testing.T) {
	gc := gen.DefaultConfig()
	gc.Calls, gc.Registrations, gc.Options = 20, 5, 5
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
	var got, bad atomic.Uint64
	srv, err := ingest.New(ingest.Config{
		Listen:    []string{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"},
		NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
	}, func(b []byte, _ netip.AddrPort, _ string) {
		if len(b) == 0 {
			return // the agent's UDP probe
		}
		var m hep.Message
		if m.DecodeFromBytes(b) != nil || m.NodeID != 42 || string(m.NodeName) != "t" {
			bad.Add(1)
			return
		}
		got.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	st := srv.Status()

	var stdout, stderr bytes.Buffer
	args := []string{
		"--read", path, "--loop", "2", "--node-id", "42", "--node-name", "t",
		"--collector", "udp://" + st[0].Addr.String(), "--collector", "tcp://" + st[1].Addr.String(),
		"--spool-dir", t.TempDir(), "--metrics", "127.0.0.1:0",
	}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	per := 2 * (len(truth.SIP) + len(truth.RTCP) + len(truth.DNS)) // two loops
	// Delivered means handed to the kernel: wait for the listener to read it.
	for deadline := time.Now().Add(10 * time.Second); int(got.Load()) < 2*per && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if int(got.Load()) != 2*per || bad.Load() != 0 {
		t.Errorf("collector got %d good and %d bad messages, want %d (both collectors, mode all)", got.Load(), bad.Load(), 2*per)
	}
	out := stdout.String()
	for _, want := range []string{
		"read:        " + itoa(2*truth.Stats.Frames) + " frames",
		"dropped:     none",
		"udp://" + st[0].Addr.String() + " " + itoa(per) + " messages",
		"tcp://" + st[1].Addr.String() + " " + itoa(per) + " messages",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--read"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"--read", "/nonexistent.pcap", "--collector", "udp://127.0.0.1:9"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d for a missing file, want 1", code)
	}
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d for -h, want 0", code)
	}
}

func itoa(n int) string {
	var b []byte
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
