package api

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConformance stores the same capture in MySQL/MariaDB and in
// ClickHouse and compares every endpoint's answers, byte for byte after
// dropping the row ids (each backend numbers its rows its own way): the
// searches with each filter, calls, flows from every leg, text, pcap and
// stats. The same again against a two-shard ClickHouse cluster on
// loopback (Distributed tables): it must answer as the single node does.
func TestConformance(t *testing.T) {
	if testBackend() != "mysql" {
		t.Skip("runs once, in the default pass: it opens every backend itself")
	}
	my := newFixtureOn(t, "mysql", nil, nil)
	mediaAt, _, _ := storeMediaReports(t, my)
	srvMy, _ := server(t, my, nil)
	others := map[string]*httptest.Server{}
	for _, b := range []string{"clickhouse", "clickhouse-cluster"} {
		f := newFixtureOn(t, b, nil, nil)
		storeMediaReports(t, f)
		others[b], _ = server(t, f, nil)
	}
	win := "from=" + genStart.Add(-time.Minute).Format(time.RFC3339) + "&to=" + genStart.Add(30*time.Minute).Format(time.RFC3339)

	// One of each kind of message, for filters with values that exist.
	var invite, resp *Message
	var all MessagesResult
	getJSON(t, srvMy.URL+"/api/v1/messages?"+win+"&limit=1000", &all)
	for i := range all.Messages {
		m := &all.Messages[i]
		if invite == nil && m.Method == "INVITE" && m.FromUser != "" && m.UserAgent != "" {
			invite = m
		}
		if resp == nil && m.Status >= 200 {
			resp = m
		}
	}
	if invite == nil || resp == nil {
		t.Fatalf("fixture has no INVITE with a user or no final response (%d messages)", len(all.Messages))
	}
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		s := v.Encode()
		if s != "" {
			s = "&" + s
		}
		return win + s
	}
	paths := []string{
		"/messages?" + q(),
		"/messages?" + q("limit", "7", "offset", "5"),
		"/messages?" + q("callid", invite.CallID),
		"/messages?" + q("from_user", invite.FromUser),
		"/messages?" + q("to_user", invite.ToUser),
		"/messages?" + q("ruri_user", invite.RURIUser),
		"/messages?" + q("from_user", invite.FromUser[:1], "prefix", "1"),
		"/messages?" + q("method", "INVITE"),
		"/messages?" + q("from_user", "*"+invite.FromUser[1:]),
		"/messages?" + q("from_user", invite.FromUser[:2]+"*"),
		"/messages?" + q("party", invite.FromUser),
		"/messages?" + q("party", "*"+invite.ToUser[1:]+"*"),
		"/messages?" + q("pid_user", "*1*"),
		"/messages?" + q("diversion_user", "*1*"),
		"/calls?" + q("party", "*0*"),
		"/registrations?" + q(),
		"/registrations?" + q("to_user", "*0*"),
		"/messages?" + q("status", "200"),
		"/messages?" + q("src_ip", invite.SrcIP),
		"/messages?" + q("dst_ip", invite.DstIP, "dst_port", strconv.Itoa(invite.DstPort)),
		"/messages?" + q("user_agent", invite.UserAgent),
		"/messages?" + q("node", "2001"),
		"/messages?" + q("from_domain", "nowhere.invalid"),
		"/messages?" + q("sort", "from_user", "limit", "20"),
		"/messages?" + q("sort", "method", "order", "desc", "limit", "15", "offset", "3"),
		"/messages?" + q("sort", "status", "limit", "30"),
		"/messages?" + q("sort", "time", "order", "asc", "limit", "10"),
		"/messages?" + q("sort", "src_port", "order", "desc", "limit", "10"),
		"/messages?" + q("sort", "callid", "limit", "25", "method", "INVITE"),
		"/messages?" + q("sort", "dst_ip", "limit", "12"),
		"/messages?" + q("sort", "nope"),
		"/calls?" + q(),
		"/calls?" + q("limit", "5", "offset", "3"),
		"/calls?" + q("from_user", invite.FromUser),
		"/calls?" + q("to_user", invite.ToUser[:1], "prefix", "1"),
		"/calls?" + q("status", "200"),
		"/stats?" + win,
		"/stats?" + win + "&step=10s",
		"/media/lowmos?" + q("mos", "4"),
		"/media/lowmos?" + q("mos", "4.5", "limit", "1"),
		"/media/lowmos?" + q("mos", "1.5"),
		"/events?" + q("type", "5"),
		"/events?" + q("type", "5", "limit", "3"),
		"/events?" + q("type", "53"),
		"/events?" + q("type", "34"),
		"/events?" + q("type", "100"),
		"/events?" + q("type", "100", "correlation_id", my.aLeg),
		"/events?" + q("type", "1"),
	}
	if mediaAt.Before(genStart) || mediaAt.After(genStart.Add(30*time.Minute)) {
		t.Fatalf("media reports at %v, outside the compared window", mediaAt)
	}
	for _, id := range []string{my.aLeg, my.bLeg, my.cLeg, my.dLeg, invite.CallID, resp.CallID} {
		p := "/calls/" + url.PathEscape(id)
		paths = append(paths, p+"/flow", p+"/text", p+"/pcap")
	}
	paths = append(paths, "/calls/no-such-call/flow")
	for _, p := range paths {
		cm, bm := get(t, srvMy.URL+"/api/v1"+p)
		if testing.Verbose() {
			t.Logf("%s: %d, %d bytes", p, cm, len(bm))
		}
		for name, srv := range others {
			cc, bc := get(t, srv.URL+"/api/v1"+p)
			if cm != cc {
				t.Errorf("%s: status mysql %d, %s %d\n%s\n%s", p, cm, name, cc, bm, bc)
				continue
			}
			if diff := cmp.Diff(normalize(t, bm), normalize(t, bc)); diff != "" {
				t.Errorf("%s: answers differ (-mysql +%s):\n%s", p, name, diff)
			}
		}
	}
	t.Logf("%d requests compared", len(paths))
}

// normalize decodes a JSON body and drops every "id" key (row ids are
// the backend's own); a body that is not JSON (text, pcap) is kept as is.
func normalize(t *testing.T, b []byte) any {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	var drop func(any) any
	drop = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			delete(x, "id")
			for k, e := range x {
				x[k] = drop(e)
			}
		case []any:
			for i, e := range x {
				x[i] = drop(e)
			}
		}
		return x
	}
	return drop(v)
}
