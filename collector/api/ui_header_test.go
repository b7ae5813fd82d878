package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/alias"
)

// TestUISearchHeader: the search form has a field per configured
// --search-header (from the session); typing an X-Account value and
// searching messages lists exactly the stored messages whose X-Account
// header holds it (case-insensitively), and the deep link carries it.
func TestUISearchHeader(t *testing.T) {
	f := headerFixture(t)
	srv, _ := server(t, f, nil)
	ctx := browser(t)
	var want []string
	for _, m := range f.sip {
		if strings.EqualFold(header(m.Raw, "X-Account"), "acct-9000") {
			want = append(want, m.CallID)
		}
	}
	if len(want) != 2 {
		t.Fatalf("fixture: %d messages with X-Account acct-9000, want 2", len(want))
	}
	q := url.Values{"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}, "what": {"messages"}}
	do(t, ctx, "open search", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector('#searchform input[name="hdr_x_account"]') && document.getElementById("results").dataset.done`)
	labels := eval[[]string](t, ctx, `[...document.querySelectorAll("#searchform label.hdrfield")].map(l => l.textContent.trim())`)
	if diff := cmp.Diff([]string{"X-Account", "X-CID"}, labels); diff != "" {
		t.Errorf("search header fields (-want +got):\n%s", diff)
	}
	uiSearchMessages(t, ctx, "hdr_x_account", "Acct-9000", want)
	screenshot(t, ctx, "search-header.png")
}

// TestUISearchAlias: the Host alias field offers the alias names; typing
// one and searching messages lists exactly the stored messages from or to
// the addresses it names.
func TestUISearchAlias(t *testing.T) {
	f := aliasFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Aliases = testAliases })
	ctx := browser(t)
	ivr := []netip.Prefix{netip.MustParsePrefix("10.0.0.40/31")}
	var want []string
	for _, m := range f.sip {
		if ivr[0].Contains(m.Src.Addr()) || ivr[0].Contains(m.Dst.Addr()) {
			want = append(want, m.CallID)
		}
	}
	if len(want) == 0 {
		t.Fatal("fixture: no message of alias ivr")
	}
	q := url.Values{"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}, "what": {"messages"}}
	do(t, ctx, "open search", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelectorAll("#aliasnames option").length > 0 && document.getElementById("results").dataset.done`)
	names := eval[[]string](t, ctx, `[...document.querySelectorAll("#aliasnames option")].map(o => o.value)`)
	if diff := cmp.Diff([]string{"ivr", "lan", "phones", "phones-b", "sbc-1", "v6-pbx", "v6-sbc"}, names); diff != "" {
		t.Errorf("alias choices (-want +got):\n%s", diff)
	}
	uiSearchMessages(t, ctx, "alias", "ivr", want)
	// The route column names aliased addresses, the addresses on hover.
	am, err := alias.Parse(testAliases)
	if err != nil {
		t.Fatal(err)
	}
	name := func(a netip.AddrPort) string {
		if n, ok := am.Lookup(a.Addr()); ok {
			return n
		}
		return a.String()
	}
	var wantRoutes []string
	same := 0
	for _, m := range f.sip {
		if ivr[0].Contains(m.Src.Addr()) || ivr[0].Contains(m.Dst.Addr()) {
			route := name(m.Src) + " → " + name(m.Dst)
			if name(m.Src) == name(m.Dst) { // one subnet's name: the addresses too
				route = name(m.Src) + " " + m.Src.String() + " → " + name(m.Dst) + " " + m.Dst.String()
				same++
			}
			wantRoutes = append(wantRoutes, route+" | "+m.Src.String()+" → "+m.Dst.String())
		}
	}
	if same == 0 {
		t.Error("fixture: no message between two hosts of one alias (ivr): that rule is untested")
	}
	gotRoutes := eval[[]string](t, ctx, `[...document.querySelectorAll("#messages td.route")].map(td => td.textContent + " | " + td.title)`)
	slices.Sort(wantRoutes)
	slices.Sort(gotRoutes)
	if diff := cmp.Diff(wantRoutes, gotRoutes); diff != "" {
		t.Errorf("route cells (-want +got):\n%s", diff)
	}
}

// uiSearchMessages types value into the search field name, searches
// messages and checks the Call-IDs of the rows listed against want.
func uiSearchMessages(t *testing.T, ctx context.Context, name, value string, want []string) {
	t.Helper()
	do(t, ctx, "type into "+name, sendKeys(`#searchform input[name="`+name+`"]`, value), click(`button[value="messages"]`))
	waitFor(t, ctx, `location.hash.includes("`+name+`") && document.getElementById("results").dataset.done === new URLSearchParams(location.hash.slice(1)).get("search")`)
	if msg := eval[string](t, ctx, `(document.querySelector("#results p.empty")||{}).textContent||""`); msg != "" {
		t.Fatalf("search shows an error: %s", msg)
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#messages tr[data-callid]")].map(r => r.dataset.callid)`)
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages listed (-want +got):\n%s", diff)
	}
}

// TestUISearchHeaderColumns: the configured search headers are columns of
// both grids, shown by default and listed in the column chooser; every
// cell holds the stored value (a call: the first among its messages; a
// message: its own header), the column sorts and its values are in the
// CSV download.
func TestUISearchHeaderColumns(t *testing.T) {
	f := headerFixture(t)
	srv, _ := server(t, f, nil)
	ctx := browser(t)
	from, to := genStart.Add(-time.Minute), genStart.Add(time.Hour)
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "what": {"calls"}, "limit": {"1000"}}
	do(t, ctx, "open calls", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector("#calls tbody tr[data-callid]") && document.getElementById("results").dataset.done`)
	if diff := cmp.Diff([]bool{true, true}, eval[[]bool](t, ctx, `["hdr_x_account", "hdr_x_cid"].map(k => document.querySelector('details.cols input[data-col="' + k + '"]').checked)`)); diff != "" {
		t.Errorf("chooser: header columns shown (-want +got):\n%s", diff)
	}
	// cells maps each row's Call-ID to its X-Account and X-CID cells.
	cells := func(grid string, key string) []string {
		return eval[[]string](t, ctx, `(() => { const hs = [...document.querySelectorAll("#`+grid+` thead th")].map(th => th.dataset.col);
			const a = hs.indexOf("hdr_x_account"), c = hs.indexOf("hdr_x_cid"), m = hs.indexOf("what");
			return [...document.querySelectorAll("#`+grid+` tbody tr")].map(r => `+key+` + "|" + r.cells[a].textContent + "|" + r.cells[c].textContent); })()`)
	}
	calls := wantCallHeaders(f.sip)
	var want []string
	for _, id := range eval[[]string](t, ctx, `[...document.querySelectorAll("#calls tbody tr")].map(r => r.dataset.callid)`) {
		want = append(want, id+"|"+calls[id]["hdr_x_account"]+"|"+calls[id]["hdr_x_cid"])
	}
	got := cells("calls", "r.dataset.callid")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls grid: search header cells (-stored +screen):\n%s", diff)
	}
	nonEmpty := 0
	for id := range calls {
		if calls[id]["hdr_x_account"] != "" {
			nonEmpty++
		}
	}
	if nonEmpty != 3 {
		t.Fatalf("fixture: %d calls with an X-Account, want 3", nonEmpty)
	}
	// Sort by X-Account: ascending (case-insensitive, empty first), again descending.
	acct := func() []string {
		return eval[[]string](t, ctx, `(() => { const i = [...document.querySelectorAll("#calls thead th")].findIndex(th => th.dataset.col === "hdr_x_account");
			return [...document.querySelectorAll("#calls tbody tr")].map(r => r.cells[i].textContent); })()`)
	}
	byLower := func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }
	for i, dir := range []int{1, -1} {
		do(t, ctx, "sort by X-Account", click(`#calls th[data-col=hdr_x_account]`))
		vals := acct()
		if !slices.IsSortedFunc(vals, func(a, b string) int { return dir * byLower(a, b) }) || len(vals) != len(want) {
			t.Errorf("click %d on X-Account: not sorted %+d: %q", i+1, dir, vals)
		}
	}
	if v := acct(); v[0] != "ACCT-9000" || v[1] != "acct-4711" || v[2] != "acct-4711" || v[3] != "" {
		t.Errorf("descending by X-Account starts %q", v[:4])
	}
	// The screenshot: the chooser open, the route column off so that the
	// header columns fit the window.
	do(t, ctx, "open chooser", click(`details.cols summary`), click(`details.cols input[data-col=route]`))
	eval[bool](t, ctx, `(document.getElementById("results").scrollIntoView(), true)`)
	screenshot(t, ctx, "search-header-columns.png")
	do(t, ctx, "route again", click(`details.cols input[data-col=route]`), click(`details.cols summary`))
	// The CSV has both columns with the stored values.
	catchDownloads(t, ctx)
	_, text := download(t, ctx, "#csv")
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, text)
	}
	ci, ai, xi := slices.Index(recs[0], "Call-ID"), slices.Index(recs[0], "X-Account"), slices.Index(recs[0], "X-CID")
	if ci < 0 || ai < 0 || xi < 0 {
		t.Fatalf("CSV header %q lacks Call-ID, X-Account or X-CID", recs[0])
	}
	var fromCSV []string
	for _, r := range recs[1:] {
		fromCSV = append(fromCSV, r[ci]+"|"+r[ai]+"|"+r[xi])
	}
	slices.Sort(fromCSV)
	slices.Sort(want)
	if diff := cmp.Diff(want, fromCSV); diff != "" {
		t.Errorf("CSV search header values (-stored +csv):\n%s", diff)
	}
	// Hidden from the chooser, the column goes (and the choice stays).
	do(t, ctx, "open chooser", click(`details.cols summary`), click(`details.cols input[data-col=hdr_x_cid]`))
	if eval[bool](t, ctx, `!!document.querySelector("#calls th[data-col=hdr_x_cid]")`) {
		t.Error("X-CID column still shown after unticking it")
	}
	do(t, ctx, "show X-CID again", click(`details.cols input[data-col=hdr_x_cid]`))

	// Messages: each row's cells are its own headers.
	q.Set("what", "messages")
	do(t, ctx, "open messages", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector("#messages tbody tr[data-callid]") && document.getElementById("results").dataset.done === new URLSearchParams(location.hash.slice(1)).get("search")`)
	want = want[:0]
	for _, m := range f.sip {
		if !m.TS.Before(from) && !m.TS.After(to) {
			h := headerValues(m.Raw)
			want = append(want, m.CallID+" "+cmpMethod(m)+"|"+h["hdr_x_account"]+"|"+h["hdr_x_cid"])
		}
	}
	got = cells("messages", `r.dataset.callid + " " + r.cells[m].textContent`)
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages grid: search header cells (-stored +screen):\n%s", diff)
	}
}

// TestUISearchOperators: what operators type into the search form — the
// any-party field with a contains wildcard, a prefix wildcard on From, a
// PAI and a Diversion number without its "+" — lists exactly the stored
// messages that match, computed from their raw headers.
func TestUISearchOperators(t *testing.T) {
	f := searchFixture(t)
	srv, _ := server(t, f, nil)
	ctx := browser(t)
	ruri := func(raw []byte) string {
		line, _, _ := strings.Cut(string(raw), "\r\n")
		if fs := strings.Fields(line); len(fs) == 3 && fs[2] == "SIP/2.0" {
			return uriUser(fs[1])
		}
		return ""
	}
	num := func(want string) func(string) bool {
		return func(v string) bool { return strings.TrimPrefix(v, "+") == want }
	}
	for _, tc := range []struct {
		field, value string
		users        func(raw []byte) []string
		match        func(string) bool
	}{
		{"party", "*4989*", func(raw []byte) []string {
			return []string{uriUser(header(raw, "From")), uriUser(header(raw, "To")), ruri(raw), uriUser(header(raw, "P-Asserted-Identity"))}
		}, func(v string) bool { return strings.Contains(v, "4989") }},
		{"from_user", "4989*", func(raw []byte) []string { return []string{uriUser(header(raw, "From"))} },
			func(v string) bool { return strings.HasPrefix(v, "4989") }},
		{"pid_user", "441632960001", func(raw []byte) []string { return []string{uriUser(header(raw, "P-Asserted-Identity"))} }, num("441632960001")},
		{"diversion_user", "4989555111", func(raw []byte) []string { return []string{uriUser(header(raw, "Diversion"))} }, num("4989555111")},
	} {
		var want []string
		for _, m := range f.sip {
			if slices.ContainsFunc(tc.users(m.Raw), func(u string) bool { return u != "" && tc.match(u) }) {
				want = append(want, m.CallID)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s=%s: the fixture has no such message", tc.field, tc.value)
		}
		q := url.Values{"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}, "what": {"messages"}}
		do(t, ctx, "open search", navigate("about:blank"), navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
		waitFor(t, ctx, `document.getElementById("results").dataset.done`)
		uiSearchMessages(t, ctx, tc.field, tc.value, want)
	}
}
