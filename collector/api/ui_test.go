package api

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// chromium returns the path of a Chromium binary or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (Debian package chromium): the UI test needs a real headless browser")
	return ""
}

// runChromium runs headless Chromium with args and the common flags.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=20000"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.Bytes())
	}
	return out.Bytes()
}

var (
	msgRe  = regexp.MustCompile(`<g class="msg (req|r1|r2|r3)"[^>]*>`)
	attrRe = regexp.MustCompile(`data-(idx|from|to|callid|method)="([^"]*)"`)
)

// TestUILadder opens a stored call's deep link in headless Chromium and
// checks the rendered ladder: one arrow per SIP message of every linked
// leg, in capture order, between the right columns, coloured by class;
// then the RTCP charts and the DNS and log lists; then takes a screenshot.
func TestUILadder(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	link := srv.URL + "/#" + url.Values{"call": {f.aLeg}}.Encode()

	dom := string(runChromium(t, bin, "--dump-dom", link))
	chain := map[string]bool{f.aLeg: true, f.bLeg: true, f.cLeg: true, f.dLeg: true}
	var want []string
	for _, m := range f.sip {
		if !chain[m.CallID] {
			continue
		}
		cls, what := "req", m.Method
		switch {
		case m.Status >= 300:
			cls = "r3"
		case m.Status >= 200:
			cls = "r2"
		case m.Status >= 100:
			cls = "r1"
		}
		if m.Status != 0 {
			what = fmt.Sprint(m.Status)
		}
		want = append(want, fmt.Sprintf("%d %s %s>%s %s %s", len(want), cls, m.Src, m.Dst, what, m.CallID))
	}
	var got []string
	for _, g := range msgRe.FindAllStringSubmatch(dom, -1) {
		a := map[string]string{}
		for _, kv := range attrRe.FindAllStringSubmatch(g[0], -1) {
			a[kv[1]] = kv[2]
		}
		got = append(got, fmt.Sprintf("%s %s %s>%s %s %s", a["idx"], g[1], a["from"], a["to"], a["method"], a["callid"]))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ladder arrows (-want +got):\n%s", diff)
		if len(got) == 0 {
			t.Logf("DOM:\n%.4000s", dom)
		}
	}
	// One column per host:port, in order of first appearance.
	var wantCols []string
	seen := map[string]bool{}
	for _, m := range f.sip {
		if chain[m.CallID] {
			for _, hp := range []string{m.Src.String(), m.Dst.String()} {
				if !seen[hp] {
					seen[hp] = true
					wantCols = append(wantCols, hp)
				}
			}
		}
	}
	var gotCols []string
	for _, m := range regexp.MustCompile(`<text class="host"[^>]*data-col="([^"]*)"`).FindAllStringSubmatch(dom, -1) {
		gotCols = append(gotCols, m[1])
	}
	if diff := cmp.Diff(wantCols, gotCols); diff != "" {
		t.Errorf("ladder columns (-want +got):\n%s", diff)
	}
	for _, s := range []string{`data-title="Jitter"`, `data-title="Loss"`, `class="series"`, f.logs[0].text, f.logs[1].text, "_sip._udp."} {
		if !strings.Contains(dom, s) {
			t.Errorf("rendered call view lacks %q", s)
		}
	}

	shot := filepath.Join(t.TempDir(), "ladder.png")
	size := "1400,1000"
	if v := os.Getenv("XHEP_UI_SHOT_SIZE"); v != "" {
		size = v
	}
	runChromium(t, bin, "--screenshot="+shot, "--window-size="+size, "--hide-scrollbars", link)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10000 {
		t.Errorf("screenshot %s: %d bytes, not a PNG of a rendered page", shot, len(png))
	}
	// XHEP_UI_SHOT_DIR keeps the screenshot (XHEP_UI_SHOT_SIZE: "1400,3000").
	if dir := os.Getenv("XHEP_UI_SHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "ladder.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUISearch opens the search view with a deep link and checks the
// calls table lists the searched call.
func TestUISearch(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	q := url.Values{"what": {"calls"}, "callid": {f.bLeg},
		"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}}
	dom := string(runChromium(t, bin, "--dump-dom", srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	rows := regexp.MustCompile(`<tr class="click" data-callid="([^"]*)"`).FindAllStringSubmatch(dom, -1)
	if len(rows) != 1 || rows[0][1] != f.bLeg {
		t.Errorf("calls table rows %v, want only %s", rows, f.bLeg)
	}
	if !strings.Contains(dom, "1–1 of 1") {
		t.Errorf("no pager text \"1–1 of 1\" in the search view")
	}
	if dir := os.Getenv("XHEP_UI_SHOT_DIR"); dir != "" {
		q.Del("callid")
		runChromium(t, bin, "--screenshot="+filepath.Join(dir, "search.png"), "--window-size=1400,1000", "--hide-scrollbars",
			srv.URL+"/#search="+url.QueryEscape(q.Encode()))
	}
}
