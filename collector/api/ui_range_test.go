package api

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUICustomRangeMinutes types a custom range on whole minutes into the
// search form's datetime-local inputs in real Chromium (which then hold
// "2026-03-10T10:00", no seconds), searches calls, and checks the table
// lists exactly the stored calls with a message in the range, that no
// error is shown and that the inputs keep what was typed.
func TestUICustomRangeMinutes(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	ctx := browser(t)

	first, last := f.sip[0].TS, f.sip[len(f.sip)-1].TS
	from := first.Truncate(time.Minute)
	to := first.Add(last.Sub(first) / 2).Truncate(time.Minute)
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	want := map[string]bool{}
	for _, m := range f.sip {
		if isCallClass(m.CSeqMethod) && !m.TS.Before(from) && !m.TS.After(to) {
			want[m.CallID] = true
		}
	}
	if len(want) == 0 || len(want) > 100 {
		t.Fatalf("fixture: %d calls in %v..%v, want 1..100 for one page", len(want), from, to)
	}

	do(t, ctx, "open search", navigate(srv.URL+"/"))
	waitFor(t, ctx, `document.querySelector("#results table, #results p")`)
	typeDateTime(t, ctx, "#from", from)
	typeDateTime(t, ctx, "#to", to)
	for id, v := range map[string]string{"#from": from.Format("2006-01-02T15:04"), "#to": to.Format("2006-01-02T15:04")} {
		if got := eval[string](t, ctx, `document.querySelector("`+id+`").value`); got != v {
			t.Fatalf("%s holds %q after typing, want %q (the browser's form of a whole minute)", id, got, v)
		}
	}
	if got := eval[string](t, ctx, `document.getElementById("range").value`); got != "" {
		t.Errorf("range select %q after typing a range, want custom (\"\")", got)
	}
	do(t, ctx, "search calls", click(`button[value="calls"]`))
	waitFor(t, ctx, `location.hash.startsWith("#search=") && document.getElementById("results").dataset.done === new URLSearchParams(location.hash.slice(1)).get("search")`)
	if msg := eval[string](t, ctx, `(document.querySelector("#results p.empty")||{}).textContent||""`); msg != "" {
		t.Fatalf("search shows an error: %s", msg)
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#calls tr[data-callid]")].map(r => r.dataset.callid)`)
	slices.Sort(got)
	wantIDs := sortedKeys(want)
	if diff := cmp.Diff(wantIDs, got); diff != "" {
		t.Errorf("calls listed (-want +got):\n%s", diff)
	}
	pager := eval[string](t, ctx, `document.querySelector(".pager").textContent`)
	if !strings.Contains(pager, " of "+itoa(len(want))) {
		t.Errorf("pager %q, want a total of %d", pager, len(want))
	}
	for id, v := range map[string]string{"#from": from.Format("2006-01-02T15:04"), "#to": to.Format("2006-01-02T15:04")} {
		if got := eval[string](t, ctx, `document.querySelector("`+id+`").value`); got != v {
			t.Errorf("%s holds %q after the search, want %q (not blanked)", id, got, v)
		}
	}
}
