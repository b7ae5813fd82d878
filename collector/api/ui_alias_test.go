package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUIPortAlias: one host with two port aliases (10.9.0.1:5080 trunk-a,
// :5090 trunk-b) is two named ladder columns of a call through both ports,
// by host:port and combined by alias, and the messages grid names the two
// ports apart while a port without an alias keeps the subnet's name.
func TestUIPortAlias(t *testing.T) {
	f := portAliasFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Aliases = portAliases })
	ctx := browser(t)
	from, to := genStart.Add(-time.Minute), genStart.Add(time.Hour)
	call := url.Values{"call": {"port-call-5"}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}
	cols := func() []string {
		return eval[[]string](t, ctx, `[...document.querySelectorAll("#ladder text.host")].map(e => e.dataset.col + "|" + e.childNodes[0].textContent)`)
	}
	do(t, ctx, "open call by host:port", navigate(srv.URL+"/"), evalJS(`localStorage.setItem("xhep.combine", "port")`),
		navigate(srv.URL+"/#"+call.Encode()))
	waitFor(t, ctx, `document.querySelectorAll("#ladder g.msg").length === 4`)
	if diff := cmp.Diff([]string{
		"10.9.0.50:5060|net9 10.9.0.50:5060", "10.9.0.1:5080|trunk-a 10.9.0.1:5080",
		"10.9.0.1:5090|trunk-b 10.9.0.1:5090", "10.9.0.60:5060|net9 10.9.0.60:5060",
	}, cols()); diff != "" {
		t.Errorf("ladder columns by host:port (-want +got):\n%s", diff)
	}
	do(t, ctx, "combine by alias", evalJS(`localStorage.setItem("xhep.combine", "alias")`), navigate(srv.URL+"/"), navigate(srv.URL+"/#"+call.Encode()))
	waitFor(t, ctx, `document.querySelectorAll("#ladder g.msg").length === 4 && document.querySelectorAll("#ladder text.host").length === 3`)
	if diff := cmp.Diff([]string{"net9|net9", "trunk-a|trunk-a", "trunk-b|trunk-b"}, cols()); diff != "" {
		t.Errorf("ladder columns by alias (-want +got):\n%s", diff)
	}
	screenshot(t, ctx, "port-alias-ladder.png")

	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "what": {"messages"}, "alias": {"net9"}, "limit": {"1000"}}
	do(t, ctx, "search messages", navigate(srv.URL+"/#search="+url.QueryEscape(q.Encode())))
	waitFor(t, ctx, `document.querySelector("#messages tbody tr[data-callid]") && document.getElementById("results").dataset.done`)
	routes := eval[map[string][]string](t, ctx, `(() => { const o = {}; for (const r of document.querySelectorAll("#messages tbody tr[data-callid]")) { const td = r.querySelector("td.route"); (o[r.dataset.callid] ||= []).push(td.textContent + " | " + td.title); } for (const k in o) o[k].sort(); return o; })()`)
	// Both ends under one name keep their addresses (port-call-2: the
	// port 5099 has no alias, so 10.9.0.1 is net9 like 10.9.0.50).
	r := func(from, to, src, dst string) string { return from + " → " + to + " | " + src + " → " + dst }
	a, b, c, d, e := "10.9.0.50:5060", "10.9.0.1:5080", "10.9.0.1:5090", "10.9.0.1:5099", "10.9.0.60:5060"
	want := map[string][]string{
		"port-call-0": {r("net9", "trunk-a", a, b), r("trunk-a", "net9", b, a)},
		"port-call-1": {r("net9", "trunk-b", a, c), r("trunk-b", "net9", c, a)},
		"port-call-2": {r("net9 "+d, "net9 "+a, d, a), r("net9 "+a, "net9 "+d, a, d)},
		"port-call-5": {r("net9", "trunk-a", a, b), r("net9", "trunk-b", e, c), r("trunk-a", "net9", b, a), r("trunk-b", "net9", c, e)},
	}
	if diff := cmp.Diff(want, routes); diff != "" {
		t.Errorf("messages grid routes (-want +got):\n%s", diff)
	}
}
