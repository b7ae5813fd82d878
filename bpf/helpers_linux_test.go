//go:build linux

package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// requireBPF skips the test unless this process may load BPF programs.
func requireBPF(t testing.TB) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.XDP,
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 2),
			asm.Return(),
		},
		License: "MIT",
	})
	if err != nil {
		t.Skipf("skipping: this process may not load BPF programs (needs root or CAP_BPF+CAP_NET_ADMIN): %v", err)
	}
	prog.Close()
	if err := Probe(false); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

func newReader(f *Filter) (*Reader, error) { return NewReader(f, 0) }
