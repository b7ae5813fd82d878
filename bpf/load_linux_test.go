//go:build linux

package bpf

import "testing"

func TestLoad(t *testing.T) {
	requireBPF(t)
	for _, cfg := range []Config{{}, {WakeupBytes: 1 << 20}, {AFXDP: true, DropUnmatched: true}} {
		f, err := Load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}
