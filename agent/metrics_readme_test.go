package agent

import (
	"os"
	"strings"
	"testing"
)

// TestDecoderCountersInREADME keeps the README's table of decoder counters
// in step with DecoderCounters.
func TestDecoderCountersInREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skipf("no README beside the package: %v", err)
	}
	for c, desc := range DecoderCounters {
		if !strings.Contains(string(b), "| `"+c+"` | "+desc+" |") {
			t.Errorf("README lacks the row | `%s` | %s |", c, desc)
		}
	}
}
