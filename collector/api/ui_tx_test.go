package api

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// wantTx groups a flow's messages into transactions from their raw text
// (top Via branch, CSeq; the ACK of a non-2xx final response joins the
// INVITE's): each transaction's CSeq and message count, in order of
// first message.
func wantTx(msgs []Message) []string {
	branchRe := regexp.MustCompile(`(?i);\s*branch=([^;,\s]+)`)
	type tx struct {
		cseq  string
		n     int
		final int
	}
	var order []string
	txs := map[string]*tx{}
	for _, m := range msgs {
		var branch, cseq string
		for _, l := range strings.Split(strings.SplitN(m.Raw, "\r\n\r\n", 2)[0], "\r\n")[1:] {
			k, v, _ := strings.Cut(l, ":")
			k = strings.ToLower(strings.TrimSpace(k))
			if branch == "" && (k == "via" || k == "v") {
				if b := branchRe.FindStringSubmatch(v); b != nil {
					branch = b[1]
				}
			}
			if cseq == "" && k == "cseq" {
				cseq = strings.Join(strings.Fields(v), " ")
			}
		}
		key := m.CallID + "|" + branch + "|" + cseq
		if num, method, _ := strings.Cut(cseq, " "); method == "ACK" {
			if inv := txs[m.CallID+"|"+branch+"|"+num+" INVITE"]; inv != nil && inv.final >= 300 {
				key = m.CallID + "|" + branch + "|" + num + " INVITE"
			}
		}
		t := txs[key]
		if t == nil {
			t = &tx{cseq: cseq}
			txs[key] = t
			order = append(order, key)
		}
		t.n++
		if m.Status >= 200 && t.final == 0 {
			t.final = m.Status
		}
	}
	var out []string
	for _, k := range order {
		out = append(out, txs[k].cseq+" ×"+itoa(txs[k].n))
	}
	return out
}

// TestUITransactions opens a B2BUA call and checks the transaction table
// against the stored messages (grouped by branch and CSeq from their raw
// text), folds the largest transaction in the ladder (its first message
// stays, marked +N, the others hidden) and unfolds it again.
func TestUITransactions(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	var fl Flow
	getJSON(t, srv.URL+"/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow", &fl)
	want := wantTx(fl.Messages)
	ctx := browser(t)
	do(t, ctx, "open call", navigate(srv.URL+"/#"+url.Values{"call": {f.aLeg}}.Encode()))
	waitFor(t, ctx, `document.querySelector("#ladder g.msg") && document.querySelector("#transactions tr[data-tx]")`)
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#transactions tr[data-tx]")].map(r => r.children[3].textContent + " ×" + r.dataset.messages)`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transactions (-want +got):\n%s", diff)
	}
	arrows := eval[int](t, ctx, `document.querySelectorAll("#ladder g.msg").length`)
	if arrows != len(fl.Messages) {
		t.Fatalf("%d arrows, want %d", arrows, len(fl.Messages))
	}
	// Fold the transaction with the most messages.
	big, n := 0, 0
	for i, w := range want {
		var k int
		for _, c := range strings.Split(w, "×")[1] {
			k = k*10 + int(c-'0')
		}
		if k > n {
			big, n = i, k
		}
	}
	t.Logf("%d transactions, the largest (%s) has %d messages", len(want), want[big], n)
	if n < 2 {
		t.Fatalf("no transaction with two messages: %v", want)
	}
	do(t, ctx, "fold", click(`#transactions tr[data-tx]:nth-child(`+itoa(big+1)+`) button.txtoggle`))
	waitFor(t, ctx, `document.querySelectorAll("#ladder g.msg").length === `+itoa(arrows-(n-1)))
	if lbl := eval[string](t, ctx, `(document.querySelector("#ladder g.msg[data-folded]")||{}).textContent||""`); !strings.Contains(lbl, "[+"+itoa(n-1)+"]") {
		t.Errorf("folded arrow %q, want it marked [+%d]", lbl, n-1)
	}
	screenshot(t, ctx, "transactions.png")
	do(t, ctx, "unfold all", click(`#txnone`))
	waitFor(t, ctx, `document.querySelectorAll("#ladder g.msg").length === `+itoa(arrows))
	do(t, ctx, "fold all", click(`#txall`))
	waitFor(t, ctx, `document.querySelectorAll("#ladder g.msg").length === `+itoa(len(want)))
}

// TestUIMergeCalls selects two unrelated calls in the calls grid, merges
// them into one flow and checks the ladder holds every message of both
// flows once (from the API's flows), both calls' legs are listed, and the
// deep link opens the same merged flow in a new page.
func TestUIMergeCalls(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	// Two calls that are not legs of one another.
	var calls CallsResult
	win := url.Values{"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}}
	getJSON(t, srv.URL+"/api/v1/calls?limit=20&"+win.Encode(), &calls)
	var ids []string
	union := map[string]string{} // table/id → Call-ID
	var legs []string
	for _, c := range calls.Calls {
		var fl Flow
		getJSON(t, srv.URL+"/api/v1/calls/"+url.PathEscape(c.CallID)+"/flow", &fl)
		if len(fl.Legs) != 1 || len(ids) == 2 {
			continue
		}
		ids = append(ids, c.CallID)
		legs = append(legs, c.CallID)
		for _, m := range fl.Messages {
			union[m.Table+"/"+strconv.FormatUint(m.ID, 10)] = m.CallID
		}
	}
	if len(ids) != 2 {
		t.Fatalf("no two one-leg calls among %d", len(calls.Calls))
	}
	ctx := browser(t)
	q := url.Values{"from": win["from"], "to": win["to"], "what": {"calls"}, "limit": {"20"}}
	do(t, ctx, "open search", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector("#calls input.pick") && document.getElementById("results").dataset.done`)
	if eval[bool](t, ctx, `!document.getElementById("mergebtn").disabled`) {
		t.Error("merge button enabled with nothing selected")
	}
	for _, id := range ids {
		do(t, ctx, "select "+id, click(`#calls input.pick[data-callid="`+id+`"]`))
	}
	if hash := eval[string](t, ctx, `location.hash`); !strings.HasPrefix(hash, "#search=") {
		t.Fatalf("selecting a call navigated to %s", hash)
	}
	do(t, ctx, "merge", click(`#mergebtn`))
	check := func(when string) {
		t.Helper()
		waitFor(t, ctx, `document.getElementById("calltitle").textContent.startsWith("merged flow") && document.querySelectorAll("#ladder g.msg").length > 0`)
		got := eval[[]string](t, ctx, `[...document.querySelectorAll("#ladder g.msg")].map(g => g.dataset.callid)`)
		if len(got) != len(union) {
			t.Errorf("%s: %d arrows, want %d (every message of both flows once)", when, len(got), len(union))
		}
		got = slices.Compact(slices.Sorted(slices.Values(got)))
		if diff := cmp.Diff(slices.Sorted(slices.Values(ids)), got); diff != "" {
			t.Errorf("%s: Call-IDs on the ladder (-want +got):\n%s", when, diff)
		}
		gotLegs := eval[[]string](t, ctx, `[...document.querySelectorAll("#legs tbody tr")].map(r => r.children[1].textContent)`)
		if diff := cmp.Diff(slices.Sorted(slices.Values(legs)), slices.Sorted(slices.Values(gotLegs))); diff != "" {
			t.Errorf("%s: legs (-want +got):\n%s", when, diff)
		}
	}
	t.Logf("merging %v: %d messages", ids, len(union))
	check("after merging")
	hash := eval[string](t, ctx, `location.hash`)
	if !strings.Contains(hash, "merge=") {
		t.Errorf("deep link %s has no merge=", hash)
	}
	screenshot(t, ctx, "merged.png")
	do(t, ctx, "open the deep link", navigate("about:blank"), navigate(srv.URL+"/"+hash))
	check("from the deep link")

	// The merged view's downloads and share link are of the merged flow.
	perCall := map[string]int{}
	for _, id := range union {
		perCall[id]++
	}
	if !eval[bool](t, ctx, `["pcap", "text", "textdl", "share"].every(id => document.getElementById(id).offsetParent !== null)`) {
		t.Fatal("merged view lacks the pcap, text or share button")
	}
	catchDownloads(t, ctx)
	name, text := download(t, ctx, "#textdl")
	if want := fmt.Sprintf("Calls %s, %s merged: %d SIP messages, ", ids[0], ids[1], len(union)); !strings.HasPrefix(string(text), want) || name != safeName(ids[0])+"+1.txt" {
		t.Errorf("text download %s starts %.80q, want %q", name, text, want)
	}
	fromText := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^==== \d+ .* Call-ID (.+)$`).FindAllStringSubmatch(string(text), -1) {
		fromText[m[1]]++
	}
	if diff := cmp.Diff(perCall, fromText); diff != "" {
		t.Errorf("text download: messages per call (-flows +text):\n%s", diff)
	}
	name, pcap := download(t, ctx, "#pcap")
	pr, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatalf("pcap download %s: %v", name, err)
	}
	fromPcap := map[string]int{}
	for {
		data, _, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		if udp, ok := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			if id := header(udp.Payload, "Call-ID"); id != "" {
				fromPcap[id]++
			}
		}
	}
	if diff := cmp.Diff(perCall, fromPcap); diff != "" {
		t.Errorf("pcap download %s: SIP frames per call (-flows +pcap):\n%s", name, diff)
	}
	do(t, ctx, "share", click("#share"))
	waitFor(t, ctx, `document.getElementById("sharelink").value !== ""`)
	link := eval[string](t, ctx, `document.getElementById("sharelink").value`)
	ctx2 := browser(t)
	do(t, ctx2, "open the share link", navigate(link))
	waitFor(t, ctx2, `document.getElementById("calltitle").textContent.startsWith("merged flow") && document.querySelectorAll("#ladder g.msg").length > 0`)
	if n := eval[int](t, ctx2, `document.querySelectorAll("#ladder g.msg").length`); n != len(union) {
		t.Errorf("shared merged flow: %d arrows, want %d", n, len(union))
	}
	if title, want := eval[string](t, ctx2, `document.getElementById("calltitle").textContent`), "merged flow: "+ids[0]+", "+ids[1]; title != want {
		t.Errorf("shared view title %q, want %q", title, want)
	}
	if !eval[bool](t, ctx2, `["pcap", "text", "textdl", "share"].every(id => document.getElementById(id).offsetParent === null) && document.getElementById("sharednote").textContent.includes("read-only")`) {
		t.Error("shared merged view shows export/share buttons or no read-only note")
	}
}

// TestUIOpenOldCall: calls older than the API's flow lookback (an
// imported capture, a long retention) open from the console: a click on a
// call, a message, a leg and a merge of two calls each shows the whole
// flow (the links carry a range around the call; they used to ask for the
// last 14 days and got a 404).
func TestUIOpenOldCall(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Now = func() time.Time { return genStart.Add(60 * 24 * time.Hour) } })
	win := url.Values{"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}}
	flow := func(id string, merge ...string) Flow {
		t.Helper()
		q := url.Values{"from": win["from"], "to": win["to"], "merge": merge}
		var fl Flow
		getJSON(t, srv.URL+"/api/v1/calls/"+url.PathEscape(id)+"/flow?"+q.Encode(), &fl)
		return fl
	}
	if code, _ := get(t, srv.URL+"/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow"); code != 404 {
		t.Fatalf("flow without a range: %d, want 404 (the call is older than the lookback)", code)
	}
	ctx := browser(t)
	open := func(what string) {
		t.Helper()
		q := url.Values{"from": win["from"], "to": win["to"], "what": {what}, "limit": {"1000"}}
		do(t, ctx, "open "+what, navigate("about:blank"), navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
		waitFor(t, ctx, `document.querySelector("#`+what+` tbody tr[data-callid]") && document.getElementById("results").dataset.done`)
	}
	shows := func(what, title string, want Flow) {
		t.Helper()
		waitFor(t, ctx, `document.getElementById("calltitle").textContent === `+strconv.Quote(title)+` && document.querySelectorAll("#ladder g.msg").length > 0`)
		if n := eval[int](t, ctx, `document.querySelectorAll("#ladder g.msg").length`); n != len(want.Messages) {
			t.Errorf("%s: %d arrows, want the flow's %d", what, n, len(want.Messages))
		}
		if h := eval[string](t, ctx, `location.hash`); !strings.Contains(h, "from=") || !strings.Contains(h, "to=") {
			t.Errorf("%s: link %s carries no range", what, h)
		}
	}
	fa := flow(f.aLeg)
	open("calls")
	do(t, ctx, "click the call", click(`#calls tr[data-callid="`+f.aLeg+`"] td:nth-child(3)`))
	shows("a call", f.aLeg, fa)
	do(t, ctx, "click leg c", click(`#legs tr[data-callid="`+f.cLeg+`"] td:nth-child(2)`))
	shows("a leg", f.cLeg, flow(f.cLeg))
	open("messages")
	do(t, ctx, "click a message", click(`#messages tr[data-callid="`+f.dLeg+`"] td:nth-child(2)`))
	shows("a message", f.dLeg, flow(f.dLeg))
	open("calls")
	var other string
	for _, c := range eval[[]string](t, ctx, `[...document.querySelectorAll("#calls tr[data-callid]")].map(r => r.dataset.callid)`) {
		if !slices.ContainsFunc(fa.Legs, func(l Leg) bool { return l.CallID == c }) {
			other = c
			break
		}
	}
	do(t, ctx, "pick two", click(`#calls input.pick[data-callid="`+f.aLeg+`"]`), click(`#calls input.pick[data-callid="`+other+`"]`), click("#mergebtn"))
	shows("a merge", "merged flow: "+f.aLeg+", "+other, flow(f.aLeg, other))
}
