package api

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/bench/gen"
)

// searchCalls are INVITEs with E.164 numbers, P-Asserted-Identity and
// Diversion, stored beside the generated traffic.
var searchCalls = []struct {
	id, from, to, ruri, pai, div, fromDomain string
}{
	{"srch-1", "+4989123456", "1001", "1001", "+4989123456", "", "carrier-a.example"},
	{"srch-2", "4989777000", "+4930555", "+4930555", "", "+4989555111", "voip.example.com"},
	{"srch-3", "alice", "bob", "bob", "+441632960001", "", "pbx.example.org"},
	{"srch-4", "89_4989", "1%00", "1%00", "", "", "voip.example.com"},
}

func searchFixture(t *testing.T) *fixture {
	src := netip.MustParseAddrPort("10.9.0.1:5060")
	dst := netip.MustParseAddrPort("10.9.0.2:5060")
	var extra []gen.SIPMessage
	for i, c := range searchCalls {
		raw := "INVITE sip:" + c.ruri + "@voip.example.com SIP/2.0\r\nVia: SIP/2.0/UDP " + src.String() + ";branch=z9hG4bKs" + fmt.Sprint(i) +
			"\r\nFrom: <sip:" + c.from + "@" + c.fromDomain + ">;tag=s" + fmt.Sprint(i) + "\r\nTo: <sip:" + c.to + "@voip.example.com>\r\n"
		if c.pai != "" {
			raw += "P-Asserted-Identity: <sip:" + c.pai + "@carrier-a.example>\r\n"
		}
		if c.div != "" {
			raw += "Diversion: <sip:" + c.div + "@voip.example.com>;reason=unconditional\r\n"
		}
		raw += "Call-ID: " + c.id + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		extra = append(extra, gen.SIPMessage{Src: src, Dst: dst, Transport: "udp", TS: genStart.Add(time.Duration(i+1) * time.Second),
			CallID: c.id, Method: "INVITE", CSeqMethod: "INVITE", Raw: []byte(raw)})
	}
	return newFixtureWith(t, nil, extra)
}

// TestSearchOperators searches stored messages the way operators type:
// wildcards (contains, prefix, suffix) on users and domains, a number
// with or without "+", the any-party field over From/To/R-URI/PAI,
// P-Asserted-Identity and Diversion fields, LIKE metacharacters taken
// literally; the expected Call-IDs are computed from every stored message.
func TestSearchOperators(t *testing.T) {
	f := searchFixture(t)
	srv, _ := server(t, f, nil)
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))

	// want computes the Call-IDs whose messages have a field matching.
	want := func(field func(raw []byte) []string, match func(string) bool) []string {
		set := map[string]bool{}
		for _, m := range f.sip {
			for _, v := range field(m.Raw) {
				if v != "" && match(v) {
					set[m.CallID] = true
				}
			}
		}
		return sortedKeys(set)
	}
	user := func(h string) func([]byte) []string {
		return func(raw []byte) []string { return []string{uriUser(header(raw, h))} }
	}
	ruri := func(raw []byte) []string {
		line, _, _ := strings.Cut(string(raw), "\r\n")
		if f := strings.Fields(line); len(f) == 3 && f[2] == "SIP/2.0" {
			return []string{uriUser(f[1])}
		}
		return nil
	}
	party := func(raw []byte) []string {
		return append(append(user("From")(raw), user("To")(raw)...), append(ruri(raw), user("P-Asserted-Identity")(raw)...)...)
	}
	fromDomain := func(raw []byte) []string { return []string{uriDomain(header(raw, "From"))} }
	plus := func(v string) func(string) bool {
		return func(s string) bool { return strings.TrimPrefix(s, "+") == strings.TrimPrefix(v, "+") }
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"from_user=*4989*", want(user("From"), func(s string) bool { return strings.Contains(s, "4989") })},
		{"from_user=4989*", want(user("From"), func(s string) bool { return strings.HasPrefix(s, "4989") })},
		{"from_user=*456", want(user("From"), func(s string) bool { return strings.HasSuffix(s, "456") })},
		{"from_user=4989123456", want(user("From"), plus("4989123456"))},
		{"to_user=%2B4930555", want(user("To"), plus("4930555"))},
		{"to_user=4930555", want(user("To"), plus("4930555"))},
		{"pid_user=*4989*", want(user("P-Asserted-Identity"), func(s string) bool { return strings.Contains(s, "4989") })},
		{"pid_user=441632960001", want(user("P-Asserted-Identity"), plus("441632960001"))},
		{"diversion_user=4989555111", want(user("Diversion"), plus("4989555111"))},
		{"party=*4989*", want(party, func(s string) bool { return strings.Contains(s, "4989") })},
		{"party=bob", want(party, func(s string) bool { return s == "bob" })},
		{"from_domain=*.example", want(fromDomain, func(s string) bool { return strings.HasSuffix(s, ".example") })},
		{"from_user=89_4989", want(user("From"), func(s string) bool { return s == "89_4989" })},
		{"from_user=*9_4*", want(user("From"), func(s string) bool { return strings.Contains(s, "9_4") })},
		{"to_user=1%2500", want(user("To"), func(s string) bool { return s == "1%00" })},
	} {
		var res MessagesResult
		getJSON(t, srv.URL+"/api/v1/messages?limit=1000&"+tc.query+win, &res)
		set := map[string]bool{}
		for _, m := range res.Messages {
			set[m.CallID] = true
		}
		if len(tc.want) == 0 {
			t.Errorf("%s: the fixture has no match; the case proves nothing", tc.query)
		}
		if diff := cmp.Diff(tc.want, sortedKeys(set)); diff != "" {
			t.Errorf("%s: Call-IDs (-want +got):\n%s", tc.query, diff)
		}
	}
	for _, bad := range []string{"from_user=*", "party=**"} {
		if code, b := get(t, srv.URL+"/api/v1/messages?"+bad+win); code != 400 || !strings.Contains(string(b), "matches everything") {
			t.Errorf("%s: %d %s, want 400", bad, code, b)
		}
	}
	_ = slices.Sort[[]string]
}

// uriUser is the user part of a SIP URI in a header value or request-URI.
func uriUser(v string) string {
	i := strings.Index(v, "sip:")
	if i < 0 {
		return ""
	}
	u := v[i+4:]
	at := strings.IndexByte(u, '@')
	if at < 0 {
		return ""
	}
	return u[:at]
}

func uriDomain(v string) string {
	i := strings.Index(v, "@")
	if i < 0 {
		return ""
	}
	d := v[i+1:]
	if j := strings.IndexAny(d, ">;:"); j >= 0 {
		d = d[:j]
	}
	return d
}
