//go:build linux

package source

import (
	"testing"

	cbpf "golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bpf"
)

// ClassicFilter builds classicFilter(cfg) and returns it with a
// golang.org/x/net/bpf VM running it. Exported for the external tests
// (agree_linux_test.go, which also needs agent/packet, which imports this
// package).
func ClassicFilter(t testing.TB, cfg bpf.Config) ([]unix.SockFilter, *cbpf.VM) {
	t.Helper()
	prog, err := classicFilter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ins := make([]cbpf.Instruction, len(prog))
	for i, p := range prog {
		ins[i] = cbpf.RawInstruction{Op: p.Code, Jt: p.Jt, Jf: p.Jf, K: p.K}.Disassemble()
	}
	vm, err := cbpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	return prog, vm
}
