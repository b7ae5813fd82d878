//go:build linux

package bpf

import (
	"errors"
	"strings"
	"testing"
)

// TestChooseBuffer: the buffer each configuration gets on kernels with
// and without a BPF ring buffer, and the one-line error where the
// configuration cannot work.
func TestChooseBuffer(t *testing.T) {
	tests := []struct {
		buf     Buffer
		legacy  bool
		ring    bool
		want    Buffer
		wantErr string
	}{
		{"", false, true, BufferRing, ""},
		{BufferAuto, false, true, BufferRing, ""},
		{BufferAuto, false, false, BufferPerf, ""},
		{BufferAuto, true, true, BufferPerf, ""},
		{BufferPerf, false, true, BufferPerf, ""},
		{BufferRing, true, true, BufferRing, ""},
		{BufferRing, false, false, "", "has no BPF ring buffer (5.8+); use --bpf-buffer perf or auto"},
		{"mmap", false, true, "", `unknown buffer "mmap"`},
	}
	for _, tt := range tests {
		got, err := chooseBuffer(&Config{Buffer: tt.buf}, tt.legacy, tt.ring)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("buffer %q legacy %v ring %v: error %v, want one line containing %q", tt.buf, tt.legacy, tt.ring, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("buffer %q legacy %v ring %v: %q, %v; want %q", tt.buf, tt.legacy, tt.ring, got, err, tt.want)
		}
	}
}

// TestUnsupportedMessage: a kernel that lacks a feature gets one line
// naming it, the kernel and the mode to use instead.
func TestUnsupportedMessage(t *testing.T) {
	err := unsupported("bounded loops in BPF programs (Linux 5.3+)", false, errors.New("not supported"))
	msg := err.Error()
	for _, want := range []string{"Linux " + KernelRelease(), "bounded loops", "use --mode afpacket"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || !errors.Is(err, ErrUnsupported) {
		t.Errorf("%q: want one line wrapping ErrUnsupported", msg)
	}
}
