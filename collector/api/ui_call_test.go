package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/alias"
)

// TestUICallView opens a call with aliases configured and checks the call
// view against the stored call: columns combined by alias (then by IP),
// an SDP marker on exactly the messages with an SDP body, the deltas to
// the previous message and to the first INVITE, the method/response
// filter, the parsed header table of a clicked message, the QoS table per
// RTCP stream labelled with aliases, and the text download.
func TestUICallView(t *testing.T) {
	f := newFixture(t)
	aliases := []string{"10.0.0.10=SBC-1", "10.0.0.20=B2BUA", "10.1.0.0/24=phones"}
	srv, _ := server(t, f, func(c *Config) { c.Aliases = aliases })
	am, err := alias.Parse(aliases)
	if err != nil {
		t.Fatal(err)
	}
	name := func(ip string) string {
		n, ok := am.Lookup(netip.MustParseAddr(ip))
		if !ok {
			return ip
		}
		return n
	}
	var fl Flow
	getJSON(t, srv.URL+"/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow", &fl)
	for ip, n := range fl.Aliases {
		if name(ip) != n {
			t.Errorf("flow alias %s=%s, want %s", ip, n, name(ip))
		}
	}
	ctx := browser(t)
	do(t, ctx, "open call", navigate(srv.URL+"/"), evalJS(`localStorage.setItem("xhep.combine", "alias")`),
		navigate(srv.URL+"/#"+url.Values{"call": {f.aLeg}}.Encode()))
	waitFor(t, ctx, `document.querySelector("#ladder g.msg")`)

	// Columns by alias, in order of first appearance.
	var wantCols []string
	seen := map[string]bool{}
	for _, m := range fl.Messages {
		for _, ip := range []string{m.SrcIP, m.DstIP} {
			if k := name(ip); !seen[k] {
				seen[k] = true
				wantCols = append(wantCols, k)
			}
		}
	}
	gotCols := eval[[]string](t, ctx, `[...document.querySelectorAll("#ladder text.host")].map(e => e.dataset.col)`)
	if diff := cmp.Diff(wantCols, gotCols); diff != "" {
		t.Errorf("columns by alias (-want +got):\n%s", diff)
	}
	// Arrows: SDP marker and deltas from the stored times.
	sdpRe := regexp.MustCompile(`\r?\n\r?\nv=0`)
	var want []string
	var inviteUS int64 = -1
	for _, m := range fl.Messages {
		if m.Method == "INVITE" && m.Status == 0 {
			inviteUS = m.TimeUS
			break
		}
	}
	for i, m := range fl.Messages {
		d := 0.0
		if i > 0 {
			d = float64(m.TimeUS-fl.Messages[i-1].TimeUS) / 1000
		}
		sdp := "0"
		if sdpRe.MatchString(m.Raw) {
			sdp = "1"
		}
		want = append(want, fmt.Sprintf("%s %.3f %.3f", sdp, d, float64(m.TimeUS-inviteUS)/1000))
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#ladder g.msg")].map(g => g.dataset.sdp + " " + g.querySelector(".delta").dataset.dprev + " " + g.querySelector(".delta").dataset.dinvite)`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SDP marker, delta to previous, delta to INVITE (-want +got):\n%s", diff)
	}
	if !strings.Contains(strings.Join(want, ","), "1 ") {
		t.Error("no message with SDP in the call: the marker is untested")
	}

	// Click the first arrow: the header table lists its headers.
	do(t, ctx, "click message", click(`#ladder g.msg[data-idx="0"] rect.hit`))
	var wantHdr []string
	head, _, _ := strings.Cut(fl.Messages[0].Raw, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			wantHdr = append(wantHdr, strings.TrimSpace(k)+"="+strings.TrimSpace(v))
		}
	}
	gotHdr := eval[[]string](t, ctx, `[...document.querySelectorAll("#headers tbody tr")].map(r => r.cells[0].textContent + "=" + r.cells[1].textContent)`)
	if diff := cmp.Diff(wantHdr, gotHdr); diff != "" {
		t.Errorf("header table (-want +got):\n%s", diff)
	}

	// QoS: one row per RTCP stream, hosts named by alias.
	var wantQ []string
	for _, s := range fl.Streams {
		lbl := func(hp string) string {
			ap := netip.MustParseAddrPort(hp)
			if n, ok := am.Lookup(ap.Addr()); ok {
				return n + " (" + hp + ")"
			}
			return hp
		}
		wantQ = append(wantQ, fmt.Sprintf("%s reports on media from %s|%d", lbl(s.Src), lbl(s.Dst), len(s.Points)))
	}
	gotQ := eval[[]string](t, ctx, `[...document.querySelectorAll("#qos tbody tr[data-reporter]")].map(r => r.cells[0].textContent + "|" + r.cells[1].textContent)`)
	if len(fl.Streams) == 0 {
		t.Error("the call has no RTCP streams: the QoS table is untested")
	}
	if diff := cmp.Diff(wantQ, gotQ); diff != "" {
		t.Errorf("QoS table (-want +got):\n%s", diff)
	}
	// The RTCP charts' legends and the DNS table name hosts the same way.
	var wantL []string
	for _, s := range fl.Streams {
		lbl := func(hp string) string {
			if n, ok := am.Lookup(netip.MustParseAddrPort(hp).Addr()); ok {
				return n + " (" + hp + ")"
			}
			return hp
		}
		wantL = append(wantL, fmt.Sprintf("%s → %s (SSRC %x on %x)", lbl(s.Src), lbl(s.Dst), s.ReporterSSRC, s.SourceSSRC))
	}
	gotL := eval[[]string](t, ctx, `[...document.querySelectorAll("#rtcp figure")[0].querySelectorAll("div.mono")].map(d => d.textContent)`)
	if diff := cmp.Diff(wantL, gotL); diff != "" {
		t.Errorf("RTCP chart legend (-want +got):\n%s", diff)
	}
	var wantD []string
	for _, d := range fl.DNS {
		host := func(ip string, port int) string {
			if n, ok := am.Lookup(netip.MustParseAddr(ip)); ok {
				return n
			}
			return hostPort(ip, port)
		}
		wantD = append(wantD, host(d.SrcIP, d.SrcPort)+" → "+host(d.DstIP, d.DstPort)+"|"+hostPort(d.SrcIP, d.SrcPort)+" → "+hostPort(d.DstIP, d.DstPort))
	}
	gotD := eval[[]string](t, ctx, `[...document.querySelectorAll("#dns tbody tr")].filter(r => r.cells.length > 1).map(r => r.cells[1].textContent + "|" + r.cells[1].title)`)
	if diff := cmp.Diff(wantD, gotD); diff != "" || len(wantD) == 0 {
		t.Errorf("DNS table hosts (-want +got):\n%s", diff)
	}
	screenshot(t, ctx, "call.png")

	// Filter: hide 1xx responses.
	n1 := 0
	for _, m := range fl.Messages {
		if m.Status >= 100 && m.Status < 200 {
			n1++
		}
	}
	do(t, ctx, "hide 1xx", click(`#laddercontrols input[data-kind="1xx"]`))
	if n := eval[int](t, ctx, `document.querySelectorAll("#ladder g.msg").length`); n != len(fl.Messages)-n1 || n1 == 0 {
		t.Errorf("after hiding 1xx: %d arrows, want %d (%d 1xx)", n, len(fl.Messages)-n1, n1)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#ladder g.msg.r1").length`); n != 0 {
		t.Errorf("%d 1xx arrows still shown", n)
	}
	// Columns by IP.
	do(t, ctx, "by IP", selectValue("#combine", "ip"))
	var wantIP []string
	seen = map[string]bool{}
	for _, m := range fl.Messages {
		if m.Status >= 100 && m.Status < 200 {
			continue
		}
		for _, ip := range []string{m.SrcIP, m.DstIP} {
			if !seen[ip] {
				seen[ip] = true
				wantIP = append(wantIP, ip)
			}
		}
	}
	if diff := cmp.Diff(wantIP, eval[[]string](t, ctx, `[...document.querySelectorAll("#ladder text.host")].map(e => e.dataset.col)`)); diff != "" {
		t.Errorf("columns by IP (-want +got):\n%s", diff)
	}

	// Text download: what the button saves is the /text export.
	catchDownloads(t, ctx)
	file, text := download(t, ctx, "#textdl")
	_, wantText := get(t, srv.URL+"/api/v1/calls/"+url.PathEscape(f.aLeg)+"/text")
	if string(text) != string(wantText) || !strings.HasSuffix(file, ".txt") {
		t.Errorf("downloaded text (%d bytes, %s) differs from /text (%d bytes)", len(text), file, len(wantText))
	}
}

func evalJS(js string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](js) }
