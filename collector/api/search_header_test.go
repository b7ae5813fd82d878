package api

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// headerCalls carry X-Account (a --search-header of the fixture) on some
// of their messages.
var headerCalls = []struct{ id, inviteAcct, okAcct string }{
	{"hdr-1", "acct-4711", "acct-4711"},
	{"hdr-2", "acct-4711", ""},
	{"hdr-3", "ACCT-9000", "acct-9000"},
	{"hdr-4", "", ""},
}

func headerFixture(t *testing.T) *fixture {
	src := netip.MustParseAddrPort("10.9.1.1:5060")
	dst := netip.MustParseAddrPort("10.9.1.2:5060")
	var extra []gen.SIPMessage
	for i, c := range headerCalls {
		for j, first := range []string{"INVITE sip:5000@voip.example.com SIP/2.0", "SIP/2.0 200 OK"} {
			raw := first + "\r\nVia: SIP/2.0/UDP " + src.String() + ";branch=z9hG4bKh" + fmt.Sprint(i) +
				"\r\nFrom: <sip:4000@voip.example.com>;tag=h" + fmt.Sprint(i) + "\r\nTo: <sip:5000@voip.example.com>\r\nCall-ID: " + c.id + "\r\nCSeq: 1 INVITE\r\n"
			acct := []string{c.inviteAcct, c.okAcct}[j]
			if acct != "" {
				raw += []string{"X-Account: ", "x-account: "}[j] + acct + "\r\n"
			}
			raw += "Content-Length: 0\r\n\r\n"
			m := gen.SIPMessage{Src: src, Dst: dst, Transport: "udp", TS: genStart.Add(time.Duration(i+1)*time.Second + time.Duration(j)*time.Millisecond),
				CallID: c.id, CSeqMethod: "INVITE", Raw: []byte(raw)}
			if j == 0 {
				m.Method = "INVITE"
			} else {
				m.Src, m.Dst, m.Status = dst, src, 200
			}
			extra = append(extra, m)
		}
	}
	return newFixtureWith(t, nil, extra)
}

// TestSearchHeader: configured search headers (X-Account, X-CID) are
// extracted at ingest and searched exactly, with wildcards and by prefix
// in messages and calls, case-insensitively (both backends); the expected
// messages are computed from every stored message's raw text. A header that is not configured is refused.
func TestSearchHeader(t *testing.T) {
	f := headerFixture(t)
	srv, _ := server(t, f, nil)
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	type key struct {
		CallID string
		Method string
	}
	// want is every stored SIP message whose header name matches.
	want := func(name string, match func(string) bool) []key {
		var out []key
		for _, m := range f.sip {
			if v := strings.ToLower(header(m.Raw, name)); v != "" && match(v) {
				out = append(out, key{m.CallID, cmpMethod(m)})
			}
		}
		slices.SortFunc(out, func(a, b key) int { return strings.Compare(a.CallID+a.Method, b.CallID+b.Method) })
		return out
	}
	for _, tc := range []struct {
		query string
		want  []key
	}{
		{"hdr_x_account=acct-4711", want("X-Account", func(v string) bool { return v == "acct-4711" })},
		{"hdr_x_account=acct-*", want("X-Account", func(v string) bool { return strings.HasPrefix(v, "acct-") })},
		{"hdr_x_account=*9000", want("X-Account", func(v string) bool { return strings.HasSuffix(v, "9000") })},
		{"hdr_x_account=Acct-9000", want("X-Account", func(v string) bool { return v == "acct-9000" })},
		{"hdr_x_account=acct&prefix=1", want("X-Account", func(v string) bool { return strings.HasPrefix(v, "acct") })},
		{"hdr_x_account=acct-4711&method=INVITE", []key{{"hdr-1", "INVITE"}, {"hdr-2", "INVITE"}}},
		{"hdr_x_cid=" + url.QueryEscape(f.aLeg), want("X-CID", func(v string) bool { return v == f.aLeg })},
	} {
		var res MessagesResult
		getJSON(t, srv.URL+"/api/v1/messages?limit=1000&"+tc.query+win, &res)
		var got []key
		for _, m := range res.Messages {
			got = append(got, key{m.CallID, m.Method})
		}
		slices.SortFunc(got, func(a, b key) int { return strings.Compare(a.CallID+a.Method, b.CallID+b.Method) })
		if len(tc.want) == 0 {
			t.Fatalf("%s: the fixture has no such message", tc.query)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("messages?%s (-want +got):\n%s", tc.query, diff)
		}
	}
	var calls CallsResult
	getJSON(t, srv.URL+"/api/v1/calls?hdr_x_account=acct-4711"+win, &calls)
	var ids []string
	for _, c := range calls.Calls {
		ids = append(ids, c.CallID)
	}
	slices.Sort(ids)
	if diff := cmp.Diff([]string{"hdr-1", "hdr-2"}, ids); diff != "" {
		t.Errorf("calls?hdr_x_account=acct-4711 (-want +got):\n%s", diff)
	}
	for _, q := range []string{"hdr_x_other=1", "hdr_x_account=*"} {
		code, body := get(t, srv.URL+"/api/v1/messages?"+q+win)
		if code != 400 {
			t.Errorf("%s: %d %s, want 400", q, code, body)
		}
	}
	if code, body := get(t, srv.URL+"/api/v1/messages?hdr_x_other=1"+win); !strings.Contains(string(body), "--search-header") {
		t.Errorf("unconfigured header: %d %s, want the error to name --search-header", code, body)
	}
	var sess SessionInfo
	getJSON(t, srv.URL+"/api/v1/session", &sess)
	if diff := cmp.Diff([]SearchHeader{{"X-Account", "hdr_x_account"}, {"X-CID", "hdr_x_cid"}}, sess.SearchHeaders); diff != "" {
		t.Errorf("session search_headers (-want +got):\n%s", diff)
	}
}

// cmpMethod is a message's method as the API gives it: the request
// method, or the status code of a response.
func cmpMethod(m gen.SIPMessage) string {
	if m.Status != 0 {
		return fmt.Sprint(m.Status)
	}
	return m.Method
}

// TestSearchHeaderAdded: a search header configured after the tables were
// made is added to them (MySQL/MariaDB: an indexed generated column;
// ClickHouse: a materialized column) when the store opens again; messages
// dissected with it are found, those stored before it (no value
// extracted) are not.
func TestSearchHeaderAdded(t *testing.T) {
	backend := testBackend()
	if backend == "clickhouse-cluster" {
		t.Skip("reopens one database; the cluster backend starts its own servers per store")
	}
	src, dst := netip.MustParseAddrPort("10.9.2.1:5060"), netip.MustParseAddrPort("10.9.2.2:5060")
	write := func(st *store.Store, hdrs []string, callID string, at time.Time) {
		t.Helper()
		d, err := dissect.New(dissect.Config{SearchHeaders: hdrs})
		if err != nil {
			t.Fatal(err)
		}
		raw := "INVITE sip:5000@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:4000@h>;tag=1\r\nTo: <sip:5000@h>\r\nCall-ID: " + callID +
			"\r\nCSeq: 1 INVITE\r\nX-Tenant: blue\r\nContent-Length: 0\r\n\r\n"
		var row store.Row
		if err := d.Dissect(hepMessage(hep.ProtoSIP, src, dst, "udp", at, []byte(raw)), &row); err != nil {
			t.Fatal(err)
		}
		if err := st.Write(&row); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := st.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, name := openTestStoreOn(t, backend, "", nil)
	write(st, nil, "before-hdr", genStart)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	hdrs := []string{"X-Tenant"}
	st, _ = openTestStoreOn(t, backend, name, hdrs)
	write(st, hdrs, "after-hdr", genStart.Add(time.Second))
	srv, _ := server(t, &fixture{backend: backend, st: st}, func(c *Config) { c.SearchHeaders = hdrs })
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	var res MessagesResult
	getJSON(t, srv.URL+"/api/v1/messages?hdr_x_tenant=blue"+win, &res)
	var got []string
	for _, m := range res.Messages {
		got = append(got, m.CallID)
	}
	if diff := cmp.Diff([]string{"after-hdr"}, got); diff != "" {
		t.Errorf("hdr_x_tenant=blue (-want +got):\n%s", diff)
	}
	getJSON(t, srv.URL+"/api/v1/messages?from_user=4000"+win, &res)
	if len(res.Messages) != 2 {
		t.Errorf("from_user=4000: %d messages, want both rows still there", len(res.Messages))
	}
}

// headerValues is a stored SIP message's search header values as the API
// gives them (by parameter, only those it has).
func headerValues(raw []byte) map[string]string {
	var out map[string]string
	for _, h := range []struct{ name, param string }{{"X-Account", "hdr_x_account"}, {"X-CID", "hdr_x_cid"}} {
		if v := header(raw, h.name); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[h.param] = v
		}
	}
	return out
}

// wantCallHeaders is what the calls grid shows of each call's search
// headers: per header the first value among the call's messages of the
// call table, in capture order.
func wantCallHeaders(sip []gen.SIPMessage) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, m := range sip {
		if !isCallClass(m.CSeqMethod) {
			continue
		}
		for k, v := range headerValues(m.Raw) {
			if out[m.CallID] == nil {
				out[m.CallID] = map[string]string{}
			}
			if _, ok := out[m.CallID][k]; !ok {
				out[m.CallID][k] = v
			}
		}
	}
	return out
}

// TestSearchHeaderValues: messages and calls carry the configured search
// headers' values (as stored, in their case), every message's equal to
// its raw header, every call's the first among its messages (both
// backends).
func TestSearchHeaderValues(t *testing.T) {
	f := headerFixture(t)
	srv, _ := server(t, f, nil)
	from, to := genStart.Add(-time.Minute), genStart.Add(time.Hour)
	win := "&from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))
	type row struct {
		CallID, Method string
		TimeUS         int64
		Headers        map[string]string
	}
	var want []row
	for _, m := range f.sip {
		if !m.TS.Before(from) && !m.TS.After(to) {
			want = append(want, row{m.CallID, cmpMethod(m), m.TS.UnixMicro(), headerValues(m.Raw)})
		}
	}
	order := func(a, b row) int {
		return strings.Compare(fmt.Sprint(a.TimeUS, a.CallID, a.Method, a.Headers), fmt.Sprint(b.TimeUS, b.CallID, b.Method, b.Headers))
	}
	slices.SortFunc(want, order)
	var res MessagesResult
	getJSON(t, srv.URL+"/api/v1/messages?limit=1000"+win, &res)
	if res.Total != int64(len(want)) || res.Total > 1000 {
		t.Fatalf("%d messages stored in the range, the search finds %d", len(want), res.Total)
	}
	var got []row
	n := 0
	for _, m := range res.Messages {
		got = append(got, row{m.CallID, m.Method, m.TimeUS, m.Headers})
		n += len(m.Headers)
	}
	slices.SortFunc(got, order)
	if n == 0 {
		t.Fatal("no message has a search header value")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages' search header values (-stored +api):\n%s", diff)
	}
	var calls CallsResult
	getJSON(t, srv.URL+"/api/v1/calls?limit=1000"+win, &calls)
	wantCalls := wantCallHeaders(f.sip)
	gotCalls := map[string]map[string]string{}
	for _, c := range calls.Calls {
		if c.Headers != nil {
			gotCalls[c.CallID] = c.Headers
		}
	}
	for id := range wantCalls {
		if !slices.ContainsFunc(calls.Calls, func(c Call) bool { return c.CallID == id }) {
			delete(wantCalls, id) // not a call of the range
		}
	}
	if diff := cmp.Diff(wantCalls, gotCalls); diff != "" {
		t.Errorf("calls' search header values (-stored +api):\n%s", diff)
	}
	if gotCalls["hdr-3"]["hdr_x_account"] != "ACCT-9000" {
		t.Errorf("hdr-3's X-Account %q, want the INVITE's ACCT-9000", gotCalls["hdr-3"]["hdr_x_account"])
	}
}
