package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/auth"
)

// TestUITimeZone: a user whose setting is Europe/Berlin types a range in
// Berlin wall time, and the messages table shows exactly the stored
// messages of that range, each time in Berlin time with UTC on hover.
func TestUITimeZone(t *testing.T) {
	f := newFixture(t)
	srv, st := accountServer(t, f, false, nil)
	bg := context.Background()
	u, err := st.CreateUser(bg, "berlin", auth.ReadOnly, "berlin password")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetSettings(bg, u.ID, auth.Settings{TZ: "Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ctx := browser(t)
	do(t, ctx, "open", navigate(srv.URL+"/"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	do(t, ctx, "login", sendKeys("#loginuser", "berlin"), sendKeys("#loginpw", "berlin password"), click(`#loginform button[type=submit]`))
	waitFor(t, ctx, `!document.getElementById("search").hidden && document.getElementById("results").dataset.done !== undefined`)
	if l := eval[string](t, ctx, `document.getElementById("timelegend").textContent`); l != "Time (Europe/Berlin)" {
		t.Errorf("legend %q", l)
	}
	// A range of 20 ms (the inputs take milliseconds).
	from := f.sip[len(f.sip)/2].TS.Truncate(time.Millisecond)
	to := from.Add(20 * time.Millisecond)
	typeDateTime(t, ctx, "#from", from.In(berlin))
	typeDateTime(t, ctx, "#to", to.In(berlin))
	do(t, ctx, "search messages", click(`button[value="messages"]`))
	waitFor(t, ctx, `location.hash.startsWith("#search=") && document.getElementById("results").dataset.done === new URLSearchParams(location.hash.slice(1)).get("search")`)

	var want []string
	for i := len(f.sip) - 1; i >= 0; i-- { // newest first
		m := f.sip[i]
		if !m.TS.Before(from) && !m.TS.After(to) {
			ts := m.TS.Truncate(time.Microsecond)
			want = append(want, ts.In(berlin).Format("2006-01-02 15:04:05.000000")+" | "+ts.UTC().Format("2006-01-02 15:04:05.000000")+" UTC | "+m.CallID)
		}
	}
	if len(want) == 0 || len(want) > 100 {
		t.Fatalf("fixture: %d messages in the 20 ms", len(want))
	}
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#messages tbody tr")].map(r => r.cells[0].textContent + " | " + r.cells[0].title + " | " + r.dataset.callid)`)
	// Messages of one instant may come in either order: compare as sets
	// per time, then the order of times.
	slices.Sort(want)
	gotSorted := slices.Clone(got)
	slices.Sort(gotSorted)
	if diff := cmp.Diff(want, gotSorted); diff != "" {
		t.Errorf("messages in Berlin time (-want +got):\n%s", diff)
	}
	if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b[:26], a[:26]) }) {
		t.Errorf("messages not newest first: %v", got[:min(5, len(got))])
	}
	if h := eval[string](t, ctx, `decodeURIComponent(decodeURIComponent(location.hash))`); !strings.Contains(h, "tz=Europe/Berlin") || !strings.Contains(h, "from="+from.In(berlin).Format("2006-01-02T15:04:05.000")) {
		t.Errorf("deep link %q lacks the Berlin wall time and tz", h)
	}
}

// TestUIGrid: the calls grid sorts by a header click (both directions),
// the column chooser hides and shows columns, the CSV download holds the
// visible columns of the rows shown, and auto-refresh re-runs the search;
// all checked against the API's answer for the same search.
func TestUIGrid(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	ctx := browser(t)
	q := url.Values{"what": {"calls"}, "from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}}
	var calls CallsResult
	api := url.Values{"from": q["from"], "to": q["to"]}
	getJSON(t, srv.URL+"/api/v1/calls?"+api.Encode(), &calls)
	if len(calls.Calls) < 5 {
		t.Fatalf("fixture: %d calls", len(calls.Calls))
	}
	do(t, ctx, "open", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector("#calls tbody tr[data-callid]") && document.getElementById("results").dataset.done`)
	screenshot(t, ctx, "search.png")

	col := func(key string) []string {
		return eval[[]string](t, ctx, fmt.Sprintf(`(() => { const i = [...document.querySelectorAll("#calls thead th")].findIndex(th => th.dataset.col === %q);
			return i < 0 ? null : [...document.querySelectorAll("#calls tbody tr")].map(r => r.cells[i].textContent); })()`, key))
	}
	var msgs []int
	for _, c := range calls.Calls {
		msgs = append(msgs, c.Messages)
	}
	sort.Ints(msgs)
	asc := func() []string {
		out := []string{}
		for _, n := range msgs {
			out = append(out, fmt.Sprint(n))
		}
		return out
	}()
	do(t, ctx, "sort by msgs", click(`#calls th[data-col=msgs]`))
	if diff := cmp.Diff(asc, col("msgs")); diff != "" {
		t.Errorf("sorted by msgs ascending (-want +got):\n%s", diff)
	}
	do(t, ctx, "sort by msgs again", click(`#calls th[data-col=msgs]`))
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	if diff := cmp.Diff(desc, col("msgs")); diff != "" {
		t.Errorf("sorted by msgs descending (-want +got):\n%s", diff)
	}

	// Column chooser: hide route, show User-Agent.
	do(t, ctx, "open chooser", click(`details.cols summary`))
	do(t, ctx, "hide route", click(`details.cols input[data-col=route]`))
	do(t, ctx, "show UA", click(`details.cols input[data-col=ua]`))
	if col("route") != nil {
		t.Error("route column still shown after unticking it")
	}
	var wantUA []string
	byMsgsDesc := slices.Clone(calls.Calls)
	slices.SortStableFunc(byMsgsDesc, func(a, b Call) int { return b.Messages - a.Messages })
	for _, c := range byMsgsDesc {
		wantUA = append(wantUA, c.UserAgent)
	}
	gotUA := col("ua")
	slices.Sort(gotUA)
	slices.Sort(wantUA)
	if diff := cmp.Diff(wantUA, gotUA); diff != "" {
		t.Errorf("User-Agent column (-want +got):\n%s", diff)
	}

	// CSV: capture what the button downloads.
	catchDownloads(t, ctx)
	_, text := download(t, ctx, "#csv")
	recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, text)
	}
	head := eval[[]string](t, ctx, `[...document.querySelectorAll("#calls thead th[data-col]")].map(th => th.textContent)`)
	if diff := cmp.Diff(head, recs[0]); diff != "" {
		t.Errorf("CSV header vs the visible columns (-screen +csv):\n%s", diff)
	}
	if len(recs)-1 != len(calls.Calls) {
		t.Fatalf("CSV has %d rows, the search %d calls", len(recs)-1, len(calls.Calls))
	}
	ci := slices.Index(recs[0], "Call-ID")
	fi := slices.Index(recs[0], "first")
	byID := map[string]Call{}
	for _, c := range calls.Calls {
		byID[c.CallID] = c
	}
	for _, r := range recs[1:] {
		c, ok := byID[r[ci]]
		if !ok {
			t.Errorf("CSV row for unknown call %q", r[ci])
			continue
		}
		if r[fi] != c.First.Format(time.RFC3339Nano) {
			t.Errorf("CSV first %q, stored %s", r[fi], c.First.Format(time.RFC3339Nano))
		}
	}

	// Auto-refresh every 5 s: the search runs again on its own.
	do(t, ctx, "auto-refresh", selectValue("#refreshevery", "5"), click("#autorefresh"))
	waitFor(t, ctx, `Number(document.getElementById("results").dataset.refreshes) >= 1`)
	if n := eval[int](t, ctx, `document.querySelectorAll("#calls tbody tr[data-callid]").length`); n != len(calls.Calls) {
		t.Errorf("after a refresh %d rows, want %d", n, len(calls.Calls))
	}
}
