package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestRequested(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--version"}, true},
		{[]string{"--read", "x.pcap", "-version"}, true},
		{[]string{"--", "--version"}, false},
		{[]string{"--versions"}, false},
	} {
		if got := Requested(tc.args); got != tc.want {
			t.Errorf("Requested(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	s := String("xhep-agent", true)
	for _, want := range []string{"xhep-agent dev\n", "commit: ", "go: " + runtime.Version(), "bpf objects: unknown"} {
		if !strings.Contains(s, want) {
			t.Errorf("version text lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(String("xhep-collector", false), "bpf") {
		t.Error("collector version mentions BPF objects")
	}
}
