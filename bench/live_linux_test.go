//go:build linux

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestRunQuickLive runs `--quick --only live,mixed --modes ringbuf` end to
// end as root: the generator's ceiling, the ladder over UDP and TCP (agent
// child, listener in the namespace, acknowledged TCP) and the mixed
// scenario with its baselines all produce rows with traffic in them, and
// the namespaces are gone afterwards. Loss and rates are not judged: they
// depend on the machine.
func TestRunQuickLive(t *testing.T) {
	if r := liveReason(); r != "" {
		t.Skip(r)
	}
	var log bytes.Buffer
	rep, err := Run(context.Background(), Options{Quick: true, Only: []string{"live", "mixed"}, Modes: []string{"ringbuf"}, WorkDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	for _, r := range rep.Results {
		if r.Skipped != "" {
			t.Errorf("%s skipped: %s", r.Name, r.Skipped)
		}
	}
	num := func(s string) int {
		f, _, _ := strings.Cut(s, " ")
		n, _ := strconv.Atoi(strings.ReplaceAll(f, ",", ""))
		return n
	}
	var titles []string
	for _, tb := range rep.Tables {
		titles = append(titles, tb.Title)
		col := func(name string) int { return slices.Index(tb.Columns, name) }
		switch {
		case strings.HasPrefix(tb.Title, "Live ladder"):
			if len(tb.Rows) != 2 {
				t.Errorf("%s: %d rows, want 2 steps", tb.Title, len(tb.Rows))
			}
			for _, row := range tb.Rows {
				if row[0] != "xhep ringbuf" || num(row[col("frames sent")]) == 0 || num(row[col("HEP received")]) == 0 {
					t.Errorf("%s: row %q: no traffic", tb.Title, row)
				}
			}
		case strings.HasPrefix(tb.Title, "RTP flood"):
			var names []string
			for _, row := range tb.Rows {
				names = append(names, row[0])
				if num(row[col("RTP pkts/s reached")]) == 0 || num(row[col("SIP sent")]) == 0 {
					t.Errorf("%s: row %q: no traffic", tb.Title, row)
				}
			}
			if diff := fmt.Sprint(names); diff != "[no capture empty XDP program (XDP_PASS), no agent xhep ringbuf]" {
				t.Errorf("mixed rows %v", names)
			}
		}
	}
	if len(rep.Tables) != 3 {
		t.Errorf("tables %q, want the UDP and TCP ladders and the mixed scenario", titles)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := os.Stat(fmt.Sprintf("/var/run/netns/xbench-%s-%d", n, os.Getpid())); err == nil {
			t.Errorf("namespace xbench-%s-%d left behind", n, os.Getpid())
		}
	}
}

// TestRunQuickRTP runs `--quick --only rtp`: the ringbuf agent with RTP
// statistics gets the 64 INVITEs and the RTP flood beside SIP, and its
// reports name all 64 streams with every RTP packet sent; every SIP
// message arrives. Rates and CPU are not judged.
func TestRunQuickRTP(t *testing.T) {
	if r := liveReason(); r != "" {
		t.Skip(r)
	}
	var log bytes.Buffer
	rep, err := Run(context.Background(), Options{Quick: true, Only: []string{"rtp"}, WorkDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	if len(rep.Tables) != 1 || len(rep.Tables[0].Rows) != 1 {
		t.Fatalf("tables %+v\n%s", rep.Tables, log.String())
	}
	tb := rep.Tables[0]
	row := tb.Rows[0]
	col := func(name string) string { return row[slices.Index(tb.Columns, name)] }
	if row[0] != "xhep ringbuf --rtp-stats" || col("streams reported") != "64 of 64" || col("RTP sent") != col("RTP packets in the reports") ||
		col("SIP sent") != col("SIP HEP received") || col("RTP sent") == "0" {
		t.Errorf("row %q\n%s", row, log.String())
	}
	for _, r := range rep.Results {
		if r.Skipped != "" || (r.Target == "0" && r.Value != 0) {
			t.Errorf("%s: %v %s (skipped %q)", r.Name, r.Value, r.Unit, r.Skipped)
		}
	}
}
