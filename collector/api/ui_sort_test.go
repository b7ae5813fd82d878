package api

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUIServerSort: in the messages grid a click on a column header asks
// the server for the whole result sorted (sort=, order= in the deep link),
// so with a page of 10 of many messages the first row is the global
// minimum (then maximum), not the page's; the pager keeps the sort and a
// deep link with sort= opens sorted with the header marked.
func TestUIServerSort(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	ctx := browser(t)
	from, to := genStart.Add(-time.Minute).Format(time.RFC3339), genStart.Add(time.Hour).Format(time.RFC3339)
	var all MessagesResult
	getJSON(t, srv.URL+"/api/v1/messages?"+url.Values{"from": {from}, "to": {to}, "limit": {"1000"}}.Encode(), &all)
	if all.Total < 50 || int(all.Total) != len(all.Messages) {
		t.Fatalf("fixture: %d messages of %d", len(all.Messages), all.Total)
	}
	users := []string{}
	for _, m := range all.Messages {
		users = append(users, m.FromUser)
	}
	slices.SortFunc(users, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	q := url.Values{"what": {"messages"}, "from": {from}, "to": {to}, "limit": {"10"}}
	do(t, ctx, "open", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector("#messages tbody tr[data-callid]") && document.getElementById("results").dataset.done`)
	col := func(key string) []string {
		return eval[[]string](t, ctx, fmt.Sprintf(`(() => { const i = [...document.querySelectorAll("#messages thead th")].findIndex(th => th.dataset.col === %q);
			return i < 0 ? null : [...document.querySelectorAll("#messages tbody tr")].map(r => r.cells[i].textContent); })()`, key))
	}
	page := col("from")
	if len(page) != 10 {
		t.Fatalf("page of %d rows", len(page))
	}
	done := func(want string) {
		t.Helper()
		waitFor(t, ctx, fmt.Sprintf(`(document.getElementById("results").dataset.done || "").includes(%q)`, want))
	}
	do(t, ctx, "sort by from", click(`#messages th[data-col=from]`))
	done("order=asc")
	if diff := cmp.Diff(users[:10], col("from")); diff != "" {
		t.Errorf("sorted by from ascending: the first 10 of all %d (-want +got):\n%s", len(users), diff)
	}
	if h := eval[string](t, ctx, `location.hash`); !strings.Contains(h, "sort%3Dfrom_user") {
		t.Errorf("deep link %q has no sort=from_user", h)
	}
	if c := eval[string](t, ctx, `document.querySelector("#messages th[data-col=from]").className`); !strings.Contains(c, "asc") {
		t.Errorf("header class %q, want asc", c)
	}
	do(t, ctx, "sort by from again", click(`#messages th[data-col=from]`))
	done("order=desc")
	desc := slices.Clone(users)
	slices.Reverse(desc)
	if got := col("from"); !slices.Equal(got, desc[:10]) {
		t.Errorf("sorted by from descending: %v, want the last 10 of all: %v", got, desc[:10])
	}
	do(t, ctx, "older", click(`.pager button:last-child`))
	done("offset=10")
	if got := col("from"); !slices.Equal(got, desc[10:20]) {
		t.Errorf("second page sorted descending: %v, want %v", got, desc[10:20])
	}
}
