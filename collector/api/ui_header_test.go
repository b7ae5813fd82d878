package api

import (
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
	do(t, ctx, "type the account", sendKeys(`#searchform input[name="hdr_x_account"]`, "Acct-9000"), click(`button[value="messages"]`))
	waitFor(t, ctx, `location.hash.includes("hdr_x_account") && document.getElementById("results").dataset.done === new URLSearchParams(location.hash.slice(1)).get("search")`)
	if msg := eval[string](t, ctx, `(document.querySelector("#results p.empty")||{}).textContent||""`); msg != "" {
		t.Fatalf("search shows an error: %s", msg)
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#messages tr[data-callid]")].map(r => r.dataset.callid)`)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages listed (-want +got):\n%s", diff)
	}
	screenshot(t, ctx, "search-header.png")
}
