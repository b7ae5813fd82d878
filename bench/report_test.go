package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{0, "allocs/op", "0 allocs/op"},
		{1234567, "pkts/s", "1,234,567 pkts/s"},
		{1234.6, "HEP/s", "1,235 HEP/s"},
		{-2500, "rows", "-2,500 rows"},
		{148.4, "ns/op", "148 ns/op"},
		{46.44, "ns/op", "46.4 ns/op"},
		{3.14159, "ms", "3.14 ms"},
		{7, "", "7"},
	} {
		if got := FormatValue(c.v, c.unit); got != c.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

func sampleReport() *Report {
	return &Report{
		Date:     time.Date(2026, 11, 26, 14, 40, 0, 0, time.UTC),
		Quick:    true,
		Sections: []string{"micro", "agent", "collector"},
		Machine:  Machine{Cores: 2, Model: "AMD EPYC", Kernel: "6.18.44", GoVer: "go1.26.8", LoadAvg: "1.00 2.00 3.00", LoadEnd: "1.50 2.00 3.00"},
		Elapsed:  83 * time.Second,
		Peers:    []Peer{{Name: "heplify", Path: "/opt/heplify", Version: "heplify v2.0.25"}},
		Tables: []Table{{Section: "agent", Title: "Live ladder", Columns: []string{"agent", "offered", "lost"},
			Rows: [][]string{{"xhep ringbuf", "100,000", "0"}, {"heplify", "100,000", "12 (0.01%)"}}, Note: "a | note"}},
		Results: []Result{
			{Section: "micro", Name: "HEP3 decode, 627-byte SIP", Value: 104.2, Unit: "ns/op", Target: "< 150 ns, 0 allocs"},
			{Section: "agent", Name: "live xhep ringbuf, HEP over TCP: highest lossless rate reached", Value: 250000, Unit: "pkts/s", Peer: "heplify 150,000 pkts/s (xhep ÷ heplify = 1.67)"},
			{Section: "micro", Name: "a|b", Value: 0, Unit: "allocs/op", Note: "pipe | escaped"},
			{Section: "collector", Name: "database rows/s", Skipped: "no database: pass --mysql DSN"},
		},
	}
}

// TestWriteMarkdown compares the table with the golden file
// testdata/report.md (regenerate with XHEP_UPDATE_GOLDEN=1).
func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.md")
	if os.Getenv("XHEP_UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("Markdown (-want +got):\n%s", diff)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	rep := sampleReport()
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}
