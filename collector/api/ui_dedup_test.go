package api

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUIDedupNodes: every message of the A-leg is stored again as
// captured 300 µs later at node 2002 (rows copied in the database); the
// ladder shows each once with both nodes, the node filter shows only what
// node 2002 saw, and without dedup every capture is an arrow.
func TestUIDedupNodes(t *testing.T) {
	if testBackend() != "mysql" {
		t.Skip("the duplicate rows are copied with MySQL SQL")
	}
	f := newFixture(t)
	res, err := f.st.DB().Exec("INSERT INTO hep_proto_1_call (gid, create_date, hep_header, protocol_header, payload, raw) "+
		"SELECT 2002, create_date + INTERVAL 300 MICROSECOND, hep_header, protocol_header, payload, raw FROM hep_proto_1_call WHERE callid = ?", f.aLeg)
	if err != nil {
		t.Fatal(err)
	}
	dups, _ := res.RowsAffected()
	srv, _ := server(t, f, nil)
	var fl Flow
	getJSON(t, srv.URL+"/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow", &fl)
	// What the screen must show: one arrow per message of node != 2002,
	// those of the A-leg with both nodes.
	var want []string
	orig := 0
	for _, m := range fl.Messages {
		if m.Node == 2002 {
			continue
		}
		orig++
		nodes := itoa(int(m.Node))
		if m.CallID == f.aLeg {
			nodes += ",2002"
		}
		want = append(want, m.CallID+" "+nodes)
	}
	if int(dups) == 0 || len(fl.Messages) != orig+int(dups) {
		t.Fatalf("flow has %d messages, %d originals + %d copies", len(fl.Messages), orig, dups)
	}
	ctx := browser(t)
	do(t, ctx, "open", navigate(srv.URL+"/#"+url.Values{"call": {f.aLeg}}.Encode()))
	waitFor(t, ctx, `document.querySelector("#ladder g.msg")`)
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#ladder g.msg")].map(g => g.dataset.callid + " " + g.dataset.nodes)`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deduplicated ladder (-want +got):\n%s", diff)
	}
	title := eval[string](t, ctx, `document.querySelector("#ladder g.msg[data-callid='`+f.aLeg+`'] .time title").textContent`)
	if !strings.Contains(title, "2002 (+0.300 ms)") {
		t.Errorf("hover %q lacks the second node and its delay", title)
	}
	do(t, ctx, "node 2002", selectValue("#nodefilter", "2002"))
	if n := eval[int](t, ctx, `document.querySelectorAll("#ladder g.msg").length`); n != int(dups) {
		t.Errorf("node 2002 filter: %d arrows, want %d", n, dups)
	}
	do(t, ctx, "all nodes", selectValue("#nodefilter", ""), click("#dedup"))
	if n := eval[int](t, ctx, `document.querySelectorAll("#ladder g.msg").length`); n != len(fl.Messages) {
		t.Errorf("without dedup: %d arrows, want %d", n, len(fl.Messages))
	}
}
