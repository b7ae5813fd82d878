//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLiveNotPermitted runs the agent as an unprivileged user with the
// default ringbuf mode: one clear line says BPF is not permitted and
// what is needed (not that the kernel lacks a feature), exit 1, no panic.
func TestLiveNotPermitted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to run the agent as another user")
	}
	// A copy of this test binary that user nobody may run.
	dir, err := os.MkdirTemp("", "xhep-nobpf-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "xhep-agent")
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(out, in)
	in.Close()
	if err2 := out.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--iface", "lo", "--collector", "udp://127.0.0.1:9")
	cmd.Env = append(os.Environ(), "XHEP_AGENT_EXEC=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("agent as nobody: %v, want exit status 1; output:\n%s", err, b)
	}
	s := string(b)
	if !strings.Contains(s, "not permitted to load BPF programs") || strings.Contains(s, "kernel lacks") ||
		strings.Contains(s, "panic") || strings.Count(strings.TrimSpace(s), "\n") != 0 {
		t.Errorf("want one line saying BPF is not permitted, got:\n%s", s)
	}
}
