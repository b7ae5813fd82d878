package api

import (
	"context"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
