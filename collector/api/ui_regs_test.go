package api

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUIRegistrations opens the registrations view on the fixture's
// range in Chromium and checks each row (user, state, contact, counts)
// against the API's answer, which TestRegistrations checks against the
// raw messages.
func TestUIRegistrations(t *testing.T) {
	f := newFixture(t)
	at := genStart.Add(5 * time.Minute)
	srv, _ := server(t, f, func(c *Config) { c.Now = func() time.Time { return at } })
	q := url.Values{"from": {genStart.Add(-time.Minute).Format(time.RFC3339)}, "to": {genStart.Add(time.Hour).Format(time.RFC3339)}}
	var res RegistrationsResult
	getJSON(t, srv.URL+"/api/v1/registrations?limit=1000&"+q.Encode(), &res)
	var want []string
	for _, r := range res.Registrations {
		state := "not registered"
		if r.Registered {
			state = "registered"
		} else if r.LastOK != nil {
			state = "expired"
		}
		want = append(want, fmt.Sprintf("%s|%s|%s|%s|%d|%d|%d|%d", r.User, state, r.Contact, r.Registrar, r.Attempts, r.Accepted, r.Challenges, r.Failures))
	}
	ctx := browser(t)
	do(t, ctx, "open", navigate(srv.URL+"/#registrations="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.getElementById("regs").dataset.done !== undefined`)
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#regs tbody tr[data-user]")].map(r => [0, 2, 3, 4, 8, 9, 10, 11].map(i => r.cells[i].textContent).join("|"))`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registrations view (-api +screen):\n%s", diff)
	}
	screenshot(t, ctx, "registrations.png")
}
