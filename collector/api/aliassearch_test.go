package api

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/alias"
)

// like is SQL LIKE for the patterns prefixPatterns makes: "%" only at the
// end, or "%.%".
func like(s, p string) bool {
	if p == "%.%" {
		return strings.Contains(s, ".")
	}
	if q, ok := strings.CutSuffix(p, "%"); ok {
		return strings.HasPrefix(s, q)
	}
	return s == p
}

// TestPrefixPatterns: for IPv4 and IPv6 prefixes of every alignment, an
// address matches one of the patterns exactly when the prefix holds it
// (checked over the addresses around the prefix and across its edges).
func TestPrefixPatterns(t *testing.T) {
	matches := func(p netip.Prefix, a netip.Addr) bool {
		text, hx := prefixPatterns(p)
		s := a.String()
		a16 := a.As16()
		h := strings.ToUpper(hex.EncodeToString(a16[:]))
		for _, pat := range text {
			if like(s, pat) {
				return true
			}
		}
		for _, pat := range hx {
			if a.Is6() && like(h, pat) {
				return true
			}
		}
		return false
	}
	for _, ps := range []string{"10.1.0.16/29", "10.1.0.0/20", "10.1.0.0/16", "10.0.0.40/31", "10.0.0.10/32", "10.0.0.0/23",
		"10.128.0.0/9", "10.1.2.128/25", "0.0.0.0/0",
		"2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::/47", "2001:db8::/30", "2001:db8::100/120", "2001:db8::10/126", "2001:db8::20/128", "::/0"} {
		p := netip.MustParsePrefix(ps)
		text, hx := prefixPatterns(p)
		if n := len(text) + len(hx); n == 0 || n > 256 {
			t.Errorf("%s: %d patterns", ps, n)
		}
		// Probe addresses: the prefix's first address and neighbours of
		// its edges, stepping through several bit positions.
		first := p.Addr()
		var probes []netip.Addr
		for _, bit := range []int{0, 1, 3, 4, 7, 8, 9, 12, 15, 16, 17, 24, 31, 40, 64, 100, 120, 127} {
			if bit >= first.BitLen() {
				continue
			}
			b := first.AsSlice()
			i := len(b) - 1 - bit/8
			for _, d := range []byte{0, 1} {
				c := slices.Clone(b)
				c[i] ^= (1 << (bit % 8)) * d
				x, _ := netip.AddrFromSlice(c)
				probes = append(probes, x, x.Prev(), x.Next())
			}
		}
		last := first
		for i := 0; i < 300 && p.Contains(last.Next()); i++ {
			last = last.Next()
		}
		probes = append(probes, last, last.Next())
		for _, a := range probes {
			if !a.IsValid() || a.Is4() != first.Is4() {
				continue
			}
			if got, want := matches(p, a), p.Contains(a); got != want {
				t.Errorf("%s: %s matched %v, want %v (patterns %q %q)", ps, a, got, want, text, hx)
			}
		}
	}
}

// aliasFixture adds an IPv6 call to the generated traffic.
func aliasFixture(t *testing.T) *fixture {
	a := netip.MustParseAddrPort("[2001:db8:1::10]:5060")
	b := netip.MustParseAddrPort("[2001:db8:2::20]:5060")
	var extra []gen.SIPMessage
	for i, first := range []string{"INVITE sip:7000@v6.example.com SIP/2.0", "SIP/2.0 200 OK"} {
		src, dst := a, b
		if i == 1 {
			src, dst = b, a
		}
		raw := first + "\r\nVia: SIP/2.0/UDP " + a.String() + ";branch=z9hG4bKv6\r\nFrom: <sip:6000@v6.example.com>;tag=v6\r\nTo: <sip:7000@v6.example.com>\r\nCall-ID: v6-call\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		m := gen.SIPMessage{Src: src, Dst: dst, Transport: "udp", TS: genStart.Add(time.Duration(i+1) * time.Second), CallID: "v6-call", CSeqMethod: "INVITE", Raw: []byte(raw)}
		if i == 0 {
			m.Method = "INVITE"
		} else {
			m.Status = 200
		}
		extra = append(extra, m)
	}
	return newFixtureWith(t, nil, extra)
}

// testAliases name hosts and subnets of the fixture: exact addresses,
// subnets on and off octet boundaries, IPv6 hosts and a /48.
var testAliases = []string{
	"10.0.0.10=sbc-1", "10.0.0.40/31=ivr", "10.1.0.16/29=phones-b", "10.0.0.0/23=lan", "10.1.0.0/16=phones",
	"2001:db8:1::/48=v6-sbc", "2001:db8:2::20=v6-pbx", "10.0.0.30=v6-pbx",
}

// TestSearchAlias: src_alias, dst_alias and alias find exactly the stored
// SIP messages from, to or from-or-to the addresses an alias's prefixes
// hold (computed from the stored messages), with other filters too; an
// unknown alias is a 400 that lists the names.
func TestSearchAlias(t *testing.T) {
	f := aliasFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Aliases = testAliases })
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	prefixes := map[string][]netip.Prefix{}
	for _, e := range testAliases {
		p, name, _ := strings.Cut(e, "=")
		if !strings.Contains(p, "/") {
			a := netip.MustParseAddr(p)
			p = a.String() + "/" + fmt.Sprint(a.BitLen())
		}
		prefixes[name] = append(prefixes[name], netip.MustParsePrefix(p))
	}
	in := func(name string, a netip.Addr) bool {
		return slices.ContainsFunc(prefixes[name], func(p netip.Prefix) bool { return p.Contains(a) })
	}
	key := func(callID, method string, src, dst netip.AddrPort, us int64) string {
		return fmt.Sprintf("%s %s %s>%s @%d", callID, method, src, dst, us)
	}
	for _, tc := range []struct {
		query string
		match func(m gen.SIPMessage) bool
	}{
		{"src_alias=sbc-1", func(m gen.SIPMessage) bool { return in("sbc-1", m.Src.Addr()) }},
		{"dst_alias=ivr", func(m gen.SIPMessage) bool { return in("ivr", m.Dst.Addr()) }},
		{"alias=ivr", func(m gen.SIPMessage) bool { return in("ivr", m.Src.Addr()) || in("ivr", m.Dst.Addr()) }},
		{"alias=phones-b", func(m gen.SIPMessage) bool { return in("phones-b", m.Src.Addr()) || in("phones-b", m.Dst.Addr()) }},
		{"src_alias=lan&dst_alias=phones-b", func(m gen.SIPMessage) bool { return in("lan", m.Src.Addr()) && in("phones-b", m.Dst.Addr()) }},
		{"alias=phones&method=INVITE", func(m gen.SIPMessage) bool {
			return m.Method == "INVITE" && (in("phones", m.Src.Addr()) || in("phones", m.Dst.Addr()))
		}},
		{"alias=v6-sbc", func(m gen.SIPMessage) bool { return in("v6-sbc", m.Src.Addr()) || in("v6-sbc", m.Dst.Addr()) }},
		{"src_alias=v6-pbx", func(m gen.SIPMessage) bool { return in("v6-pbx", m.Src.Addr()) }},
	} {
		var want []string
		for _, m := range f.sip {
			if tc.match(m) {
				want = append(want, key(m.CallID, cmpMethod(m), m.Src, m.Dst, m.TS.UnixMicro()))
			}
		}
		if len(want) == 0 || len(want) > 1000 {
			t.Fatalf("%s: %d stored messages match, want 1..1000 for one page", tc.query, len(want))
		}
		var res MessagesResult
		getJSON(t, srv.URL+"/api/v1/messages?limit=1000&"+tc.query+win, &res)
		var got []string
		for _, m := range res.Messages {
			src := netip.AddrPortFrom(netip.MustParseAddr(m.SrcIP), uint16(m.SrcPort))
			dst := netip.AddrPortFrom(netip.MustParseAddr(m.DstIP), uint16(m.DstPort))
			got = append(got, key(m.CallID, m.Method, src, dst, m.TimeUS))
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("messages?%s (-want +got):\n%s", tc.query, diff)
		}
		if res.Total != int64(len(want)) {
			t.Errorf("messages?%s: total %d, want %d", tc.query, res.Total, len(want))
		}
	}
	code, body := get(t, srv.URL+"/api/v1/messages?alias=nosuch"+win)
	if code != 400 || !strings.Contains(string(body), "sbc-1") {
		t.Errorf("unknown alias: %d %s, want 400 listing the aliases", code, body)
	}
}

// TestSearchResultAliases: messages and calls answers name their
// addresses that an alias covers (longest prefix: 10.0.0.10 is sbc-1, not
// lan), and only those (both backends).
func TestSearchResultAliases(t *testing.T) {
	f := aliasFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Aliases = testAliases })
	am, err := alias.Parse(testAliases)
	if err != nil {
		t.Fatal(err)
	}
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	want := func(ips ...string) map[string]string {
		out := map[string]string{}
		for _, ip := range ips {
			if n, ok := am.Lookup(netip.MustParseAddr(ip)); ok {
				out[ip] = n
			}
		}
		return out
	}
	var msgs MessagesResult
	getJSON(t, srv.URL+"/api/v1/messages?limit=1000"+win, &msgs)
	var ips []string
	for _, m := range msgs.Messages {
		ips = append(ips, m.SrcIP, m.DstIP)
	}
	if diff := cmp.Diff(want(ips...), msgs.Aliases); diff != "" || len(msgs.Aliases) < 5 {
		t.Errorf("messages' aliases (-want +got):\n%s", diff)
	}
	if msgs.Aliases["10.0.0.10"] != "sbc-1" {
		t.Errorf("10.0.0.10 is %q, want sbc-1 (the longest prefix)", msgs.Aliases["10.0.0.10"])
	}
	var calls CallsResult
	getJSON(t, srv.URL+"/api/v1/calls?limit=1000"+win, &calls)
	ips = ips[:0]
	for _, c := range calls.Calls {
		ips = append(ips, c.SrcIP, c.DstIP)
	}
	if diff := cmp.Diff(want(ips...), calls.Aliases); diff != "" {
		t.Errorf("calls' aliases (-want +got):\n%s", diff)
	}
	srv2, _ := server(t, f, nil)
	var plain MessagesResult
	getJSON(t, srv2.URL+"/api/v1/messages?limit=10"+win, &plain)
	if plain.Aliases != nil || len(plain.Messages) == 0 {
		t.Errorf("without --alias: aliases %v", plain.Aliases)
	}
}

// portAliases name two ports of one IPv4 host and of one IPv6 host apart,
// with a port-less alias of their subnet.
var portAliases = []string{
	"10.9.0.1:5080=trunk-a", "10.9.0.1:5090=trunk-b", "10.9.0.0/24=net9",
	"[2001:db8:9::1]:5070=v6-a", "[2001:db8:9::/48]:5071=v6-b",
}

// portAliasFixture adds to the generated traffic calls from 10.9.0.50 to
// 10.9.0.1 on ports 5080, 5090 and 5099, and from 2001:db8:9::50 to
// 2001:db8:9::1 on 5070 and 5071 (an INVITE and its 200 each), and one
// call through 10.9.0.1's two ports (port-call-5).
func portAliasFixture(t *testing.T) *fixture {
	var extra []gen.SIPMessage
	for k, pair := range [][2]string{
		{"10.9.0.50:5060", "10.9.0.1:5080"}, {"10.9.0.50:5060", "10.9.0.1:5090"}, {"10.9.0.50:5060", "10.9.0.1:5099"},
		{"[2001:db8:9::50]:5060", "[2001:db8:9::1]:5070"}, {"[2001:db8:9::50]:5060", "[2001:db8:9::1]:5071"},
	} {
		a, b := netip.MustParseAddrPort(pair[0]), netip.MustParseAddrPort(pair[1])
		id := fmt.Sprintf("port-call-%d", k)
		for i, first := range []string{"INVITE sip:7000@p.example.com SIP/2.0", "SIP/2.0 200 OK"} {
			src, dst := a, b
			if i == 1 {
				src, dst = b, a
			}
			raw := first + "\r\nVia: SIP/2.0/UDP " + a.String() + ";branch=z9hG4bKp" + fmt.Sprint(k) + "\r\nFrom: <sip:6000@p.example.com>;tag=p\r\nTo: <sip:7000@p.example.com>\r\nCall-ID: " + id + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
			m := gen.SIPMessage{Src: src, Dst: dst, Transport: "udp", TS: genStart.Add(time.Duration(10*k+i+1) * time.Second), CallID: id, CSeqMethod: "INVITE", Raw: []byte(raw)}
			if i == 0 {
				m.Method = "INVITE"
			} else {
				m.Status = 200
			}
			extra = append(extra, m)
		}
	}
	// port-call-5 passes 10.9.0.1: in on 5080 from 10.9.0.50, out from
	// 5090 to 10.9.0.60 (a B2BUA keeping the Call-ID).
	hops := [][2]string{{"10.9.0.50:5060", "10.9.0.1:5080"}, {"10.9.0.1:5090", "10.9.0.60:5060"}, {"10.9.0.60:5060", "10.9.0.1:5090"}, {"10.9.0.1:5080", "10.9.0.50:5060"}}
	for i, h := range hops {
		src, dst := netip.MustParseAddrPort(h[0]), netip.MustParseAddrPort(h[1])
		first := "INVITE sip:7000@p.example.com SIP/2.0"
		if i >= 2 {
			first = "SIP/2.0 200 OK"
		}
		raw := first + "\r\nVia: SIP/2.0/UDP " + hops[i%2][0] + ";branch=z9hG4bKb" + fmt.Sprint(i%2) + "\r\nFrom: <sip:6000@p.example.com>;tag=p\r\nTo: <sip:7000@p.example.com>\r\nCall-ID: port-call-5\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		m := gen.SIPMessage{Src: src, Dst: dst, Transport: "udp", TS: genStart.Add(60*time.Second + time.Duration(i)*100*time.Millisecond), CallID: "port-call-5", CSeqMethod: "INVITE", Raw: []byte(raw)}
		if i < 2 {
			m.Method = "INVITE"
		} else {
			m.Status = 200
		}
		extra = append(extra, m)
	}
	return newFixtureWith(t, nil, extra)
}

// TestSearchPortAlias: an alias entry with a port matches an address only
// on that port (src_port with src_ip, dst_port with dst_ip): one host's
// two ports under two names find each its own messages, a port-less
// subnet alias all of them, IPv6 too; the answers' aliases name
// "IP:PORT" where a port alias differs from the IP's name.
func TestSearchPortAlias(t *testing.T) {
	f := portAliasFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Aliases = portAliases })
	am, err := alias.Parse(portAliases)
	if err != nil {
		t.Fatal(err)
	}
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	in := func(name string, ap netip.AddrPort) bool {
		return slices.ContainsFunc(am.Entries(name), func(e alias.Entry) bool {
			return e.Prefix.Contains(ap.Addr()) && (e.Port == 0 || e.Port == ap.Port())
		})
	}
	key := func(callID, method string, src, dst netip.AddrPort) string {
		return fmt.Sprintf("%s %s %s>%s", callID, method, src, dst)
	}
	for _, tc := range []struct {
		query string
		match func(m gen.SIPMessage) bool
		n     int
	}{
		{"dst_alias=trunk-a", func(m gen.SIPMessage) bool { return in("trunk-a", m.Dst) }, 2},
		{"src_alias=trunk-b", func(m gen.SIPMessage) bool { return in("trunk-b", m.Src) }, 2},
		{"alias=trunk-a", func(m gen.SIPMessage) bool { return in("trunk-a", m.Src) || in("trunk-a", m.Dst) }, 4},
		{"alias=trunk-b&method=INVITE", func(m gen.SIPMessage) bool {
			return m.Method == "INVITE" && (in("trunk-b", m.Src) || in("trunk-b", m.Dst))
		}, 2},
		{"alias=net9", func(m gen.SIPMessage) bool { return in("net9", m.Src) || in("net9", m.Dst) }, 10},
		{"src_alias=trunk-a&dst_alias=net9", func(m gen.SIPMessage) bool { return in("trunk-a", m.Src) && in("net9", m.Dst) }, 2},
		{"alias=v6-a", func(m gen.SIPMessage) bool { return in("v6-a", m.Src) || in("v6-a", m.Dst) }, 2},
		{"dst_alias=v6-b", func(m gen.SIPMessage) bool { return in("v6-b", m.Dst) }, 1},
	} {
		var want []string
		for _, m := range f.sip {
			if tc.match(m) {
				want = append(want, key(m.CallID, cmpMethod(m), m.Src, m.Dst))
			}
		}
		if len(want) != tc.n {
			t.Fatalf("%s: %d stored messages match, want %d", tc.query, len(want), tc.n)
		}
		var res MessagesResult
		getJSON(t, srv.URL+"/api/v1/messages?limit=1000&"+tc.query+win, &res)
		var got []string
		for _, m := range res.Messages {
			src := netip.AddrPortFrom(netip.MustParseAddr(m.SrcIP), uint16(m.SrcPort))
			dst := netip.AddrPortFrom(netip.MustParseAddr(m.DstIP), uint16(m.DstPort))
			got = append(got, key(m.CallID, m.Method, src, dst))
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("messages?%s (-want +got):\n%s", tc.query, diff)
		}
	}
	var res MessagesResult
	getJSON(t, srv.URL+"/api/v1/messages?limit=1000&alias=net9"+win, &res)
	for k, want := range map[string]string{
		"10.9.0.1": "net9", "10.9.0.50": "net9", "10.9.0.1:5080": "trunk-a", "10.9.0.1:5090": "trunk-b",
	} {
		if got := res.Aliases[k]; got != want {
			t.Errorf("messages' aliases[%s] = %q, want %q (all: %v)", k, got, want, res.Aliases)
		}
	}
	for _, k := range []string{"10.9.0.1:5099", "10.9.0.50:5060"} {
		if n, ok := res.Aliases[k]; ok {
			t.Errorf("aliases[%s] = %q: the IP's name serves, want no entry", k, n)
		}
	}
	var calls CallsResult
	getJSON(t, srv.URL+"/api/v1/calls?limit=1000&alias=v6-a"+win, &calls)
	if len(calls.Calls) != 1 || calls.Aliases["[2001:db8:9::1]:5070"] != "v6-a" || calls.Calls[0].DstPort != 5070 {
		t.Errorf("calls?alias=v6-a: %+v, aliases %v", calls.Calls, calls.Aliases)
	}
}
