package api

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/bench/gen"
)

// line is how a test compares one SIP message.
func line(ts time.Time, src, dst, callID, method string, status int) string {
	what := method
	if status != 0 {
		what = fmt.Sprint(status)
	}
	return fmt.Sprintf("%d %s>%s %s %s", ts.UnixMicro(), src, dst, what, callID)
}

func wantLines(msgs []gen.SIPMessage, keep func(gen.SIPMessage) bool) []string {
	var out []string
	for _, m := range msgs {
		if keep(m) {
			out = append(out, line(m.TS, m.Src.String(), m.Dst.String(), m.CallID, m.Method, m.Status))
		}
	}
	return out
}

func gotLines(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		method := m.Method
		if m.Status != 0 {
			method = ""
		}
		out = append(out, line(m.Time, hostPort(m.SrcIP, m.SrcPort), hostPort(m.DstIP, m.DstPort), m.CallID, method, m.Status))
	}
	return out
}

// TestAPI runs every endpoint over real HTTP against one stored capture.
func TestAPI(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	base := srv.URL + "/api/v1"
	win := "from=" + genStart.Add(-time.Minute).Format(time.RFC3339) + "&to=" + genStart.Add(30*time.Minute).Format(time.RFC3339)

	chain := map[string]bool{f.aLeg: true, f.bLeg: true, f.cLeg: true, f.dLeg: true}
	t.Run("flow", func(t *testing.T) {
		// The same four legs from whichever leg the flow starts.
		for _, start := range []string{f.aLeg, f.bLeg, f.cLeg, f.dLeg} {
			var fl Flow
			getJSON(t, base+"/calls/"+url.PathEscape(start)+"/flow", &fl)
			want := wantLines(f.sip, func(m gen.SIPMessage) bool { return chain[m.CallID] })
			if diff := cmp.Diff(want, gotLines(fl.Messages)); diff != "" {
				t.Errorf("flow of %s: messages (-want +got):\n%s", start, diff)
			}
			var legs []string
			for _, l := range fl.Legs {
				legs = append(legs, l.CallID)
			}
			if legs[0] != start {
				t.Errorf("flow of %s: first leg %s", start, legs[0])
			}
			slices.Sort(legs)
			if diff := cmp.Diff(sortedKeys(chain), legs); diff != "" {
				t.Errorf("flow of %s: legs (-want +got):\n%s", start, diff)
			}
			for _, m := range fl.Messages {
				if !strings.HasPrefix(m.Raw, m.FirstLine) || m.FirstLine == "" {
					t.Errorf("message %d: first line %q not the start of raw %q", m.ID, m.FirstLine, m.Raw[:min(40, len(m.Raw))])
				}
			}
			// RTCP: every report correlated with a leg; streams as on the wire.
			var wantRTCP int
			wantStreams := map[[2]uint32]int{}
			for _, r := range f.truth.RTCP {
				if chain[r.CallID] {
					wantRTCP++
					for _, k := range reportBlocks(t, r.Raw) {
						wantStreams[k]++
					}
				}
			}
			gotStreams := map[[2]uint32]int{}
			for _, s := range fl.Streams {
				gotStreams[[2]uint32{s.ReporterSSRC, s.SourceSSRC}] = len(s.Points)
				for _, p := range s.Points {
					if p.RTTMS != nil && (*p.RTTMS < 0 || *p.RTTMS > 10000) {
						t.Errorf("stream %d→%d: RTT %v ms", s.ReporterSSRC, s.SourceSSRC, *p.RTTMS)
					}
				}
			}
			if wantRTCP == 0 || len(fl.RTCP) != wantRTCP {
				t.Errorf("flow of %s: %d RTCP reports, want %d (> 0)", start, len(fl.RTCP), wantRTCP)
			}
			if diff := cmp.Diff(wantStreams, gotStreams); diff != "" {
				t.Errorf("flow of %s: RTCP streams and points (-want +got):\n%s", start, diff)
			}
			// Logs: by correlation id with any leg.
			var wantLogs, gotLogs []string
			for _, l := range f.logs {
				wantLogs = append(wantLogs, l.text)
			}
			for _, l := range fl.Logs {
				gotLogs = append(gotLogs, l.Message)
			}
			if diff := cmp.Diff(wantLogs, gotLogs); diff != "" {
				t.Errorf("flow of %s: logs (-want +got):\n%s", start, diff)
			}
			// DNS: the call hosts' lookups for its domains, from the margin
			// before the call to its end.
			wantDNS := dnsOfCall(f.sip, f.truth.DNS, chain)
			var gotDNS []string
			for _, d := range fl.DNS {
				gotDNS = append(gotDNS, fmt.Sprintf("%d %s %s>%s", d.TimeUS, d.QName, hostPort(d.SrcIP, d.SrcPort), hostPort(d.DstIP, d.DstPort)))
			}
			t.Logf("flow of %s: %d messages, %d RTCP reports in %d streams, %d DNS, %d logs", start, len(fl.Messages), len(fl.RTCP), len(fl.Streams), len(fl.DNS), len(fl.Logs))
			if len(wantDNS) == 0 {
				t.Errorf("flow of %s: the test call has no DNS lookups to find", start)
			}
			if diff := cmp.Diff(wantDNS, gotDNS); diff != "" {
				t.Errorf("flow of %s: DNS (-want +got):\n%s", start, diff)
			}
		}
	})

	for _, method := range []string{"INVITE", "REGISTER", "OPTIONS"} {
		t.Run("flow of a one-leg "+method, func(t *testing.T) {
			var id string
			for _, m := range f.sip {
				if m.Method == method && !chain[m.CallID] && header(m.Raw, "X-CID") == "" {
					id = m.CallID
					break
				}
			}
			var fl Flow
			getJSON(t, base+"/calls/"+url.PathEscape(id)+"/flow", &fl)
			want := wantLines(f.sip, func(m gen.SIPMessage) bool { return m.CallID == id })
			if len(want) < 2 {
				t.Fatalf("test data: %d messages with Call-ID %s", len(want), id)
			}
			if diff := cmp.Diff(want, gotLines(fl.Messages)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if len(fl.Legs) != 1 {
				t.Errorf("legs: %+v, want only %s", fl.Legs, id)
			}
		})
	}

	t.Run("messages", func(t *testing.T) {
		for _, tc := range []struct {
			name, query string
			keep        func(gen.SIPMessage) bool
		}{
			{"callid", "callid=" + url.QueryEscape(f.bLeg), func(m gen.SIPMessage) bool { return m.CallID == f.bLeg }},
			{"callid prefix", "prefix=1&callid=" + url.QueryEscape("leg-"), func(m gen.SIPMessage) bool { return strings.HasPrefix(m.CallID, "leg-") }},
			{"method", "method=BYE", func(m gen.SIPMessage) bool { return m.Method == "BYE" }},
			{"status", "status=486", func(m gen.SIPMessage) bool { return m.Status == 486 }},
			{"src ip and port", "src_ip=10.0.0.40&src_port=5080", func(m gen.SIPMessage) bool { return m.Src.String() == "10.0.0.40:5080" }},
			{"dst ip", "dst_ip=10.0.0.41", func(m gen.SIPMessage) bool { return m.Dst.Addr().String() == "10.0.0.41" }},
			{"from user", "from_user=pbx", func(m gen.SIPMessage) bool { return strings.Contains(header(m.Raw, "From"), "sip:pbx@") }},
			{"ruri domain and correlation", "correlation_id=" + url.QueryEscape(f.cLeg), func(m gen.SIPMessage) bool { return m.CallID == f.dLeg }},
			{"node", "node=2001&method=CANCEL", func(m gen.SIPMessage) bool { return m.Method == "CANCEL" }},
			{"other node", "node=7&method=CANCEL", func(m gen.SIPMessage) bool { return false }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var want []string
				for i := len(f.sip) - 1; i >= 0; i-- { // newest first
					m := f.sip[i]
					if tc.keep(m) {
						want = append(want, line(m.TS, m.Src.String(), m.Dst.String(), m.CallID, m.Method, m.Status))
					}
				}
				var res MessagesResult
				getJSON(t, base+"/messages?limit=1000&"+win+"&"+tc.query, &res)
				if diff := cmp.Diff(want, gotLines(res.Messages)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				if res.Total != int64(len(want)) {
					t.Errorf("total %d, want %d", res.Total, len(want))
				}
			})
		}
		// Paging: three pages of 7 give the newest 21 in order, total all.
		var all []string
		for i := len(f.sip) - 1; i >= 0; i-- {
			m := f.sip[i]
			all = append(all, line(m.TS, m.Src.String(), m.Dst.String(), m.CallID, m.Method, m.Status))
		}
		var got []string
		for page := range 3 {
			var res MessagesResult
			getJSON(t, fmt.Sprintf("%s/messages?%s&limit=7&offset=%d", base, win, page*7), &res)
			if res.Total != int64(len(f.sip)) {
				t.Errorf("page %d: total %d, want %d", page, res.Total, len(f.sip))
			}
			got = append(got, gotLines(res.Messages)...)
		}
		if diff := cmp.Diff(all[:21], got); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})

	t.Run("calls", func(t *testing.T) {
		var res CallsResult
		getJSON(t, base+"/calls?limit=1000&"+win, &res)
		type sum struct {
			n           int
			first, last time.Time
			final       int
		}
		want := map[string]*sum{}
		var order []string
		for _, m := range f.sip {
			if !isCallClass(m.CSeqMethod) {
				continue
			}
			s := want[m.CallID]
			if s == nil {
				s = &sum{first: m.TS}
				want[m.CallID] = s
				order = append(order, m.CallID)
			}
			s.n++
			s.last = m.TS
			if m.CSeqMethod == "INVITE" && m.Status >= 200 && (s.final < 200 || s.final >= 300) {
				s.final = m.Status
			}
		}
		slices.SortStableFunc(order, func(x, y string) int { return want[y].last.Compare(want[x].last) })
		var wantCalls, gotCalls []string
		for _, id := range order {
			s := want[id]
			wantCalls = append(wantCalls, fmt.Sprintf("%s n=%d %d..%d final=%d", id, s.n, s.first.UnixMicro(), s.last.UnixMicro(), s.final))
		}
		for _, c := range res.Calls {
			gotCalls = append(gotCalls, fmt.Sprintf("%s n=%d %d..%d final=%d", c.CallID, c.Messages, c.First.UnixMicro(), c.Last.UnixMicro(), c.FinalStatus))
		}
		if diff := cmp.Diff(wantCalls, gotCalls); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if res.Total != int64(len(order)) {
			t.Errorf("total %d, want %d", res.Total, len(order))
		}
	})

	t.Run("stats", func(t *testing.T) {
		from, to := genStart, genStart.Add(2*time.Minute)
		var st Stats
		getJSON(t, base+"/stats?step=10s&from="+from.Format(time.RFC3339)+"&to="+to.Format(time.RFC3339), &st)
		want := map[string]int64{}
		var total int64
		for _, m := range f.sip {
			if m.TS.Before(from) || m.TS.After(to) {
				continue
			}
			b := m.TS.Sub(from) / (10 * time.Second)
			k := fmt.Sprintf("%d %s", b, m.Method)
			if m.Status != 0 {
				k = fmt.Sprintf("%d %d", b, m.Status)
			}
			want[k]++
			total++
		}
		got := map[string]int64{}
		for i, b := range st.Buckets {
			for k, n := range b.Methods {
				got[fmt.Sprintf("%d %s", i, k)] += n
			}
			for k, n := range b.Responses {
				got[fmt.Sprintf("%d %s", i, k)] += n
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if st.Total != total || len(st.Buckets) != 13 {
			t.Errorf("total %d in %d buckets, want %d in 13", st.Total, len(st.Buckets), total)
		}
	})

	t.Run("text", func(t *testing.T) {
		code, b := get(t, base+"/calls/"+url.PathEscape(f.aLeg)+"/text")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, b)
		}
		text := string(b)
		var n int
		for _, m := range f.sip {
			if !chain[m.CallID] {
				continue
			}
			n++
			first, _, _ := strings.Cut(string(m.Raw), "\r\n")
			ladder := fmt.Sprintf("%4d %s  %s -> %s  %s\n", n, m.TS.UTC().Format("2006-01-02 15:04:05.000000"), m.Src, m.Dst, first)
			if !strings.Contains(text, ladder) {
				t.Errorf("no ladder line %q", ladder)
			}
			if !strings.Contains(text, strings.ReplaceAll(string(m.Raw), "\r\n", "\n")) {
				t.Errorf("raw message %d (%s) missing", n, first)
			}
		}
	})

	t.Run("pcap", func(t *testing.T) { checkPcap(t, f, base) })
}

// checkPcap fetches the pcap of the fixture's chained call and checks it
// with tshark: one frame per SIP message and RTCP report (a TCP message
// may take several segments), every SIP message decoded, no malformed
// frame, no expert error.
func checkPcap(t *testing.T, f *fixture, base string) {
	chain := map[string]bool{f.aLeg: true, f.bLeg: true, f.cLeg: true, f.dLeg: true}
	{
		if _, err := exec.LookPath("tshark"); err != nil {
			t.Skip("tshark is not installed (Debian package tshark)")
		}
		code, b := get(t, base+"/calls/"+url.PathEscape(f.aLeg)+"/pcap")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, b)
		}
		file := filepath.Join(t.TempDir(), "call.pcap")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var wantSIP, wantRTCP, segments int
		for _, m := range f.sip {
			if chain[m.CallID] {
				wantSIP++
				if m.Transport == "tcp" {
					segments += (len(m.Raw)+tcpSegment-1)/tcpSegment - 1
				}
			}
		}
		for _, r := range f.truth.RTCP {
			if chain[r.CallID] {
				wantRTCP++
			}
		}
		frames, protos := tsharkFrames(t, file)
		if frames != wantSIP+segments+wantRTCP {
			t.Errorf("%d frames, want %d SIP (+%d more TCP segments) + %d RTCP", frames, wantSIP, segments, wantRTCP)
		}
		if protos["SIP"]+protos["SIP/SDP"] != wantSIP {
			t.Errorf("protocols %v: want %d SIP or SIP/SDP", protos, wantSIP)
		}
	}
}

// tsharkFrames reads a pcap file with tshark (RTCP heuristics on) and
// returns its frames and their count per protocol; a malformed frame or
// an error in tshark's expert info (bad checksums) fails the test.
func tsharkFrames(t *testing.T, file string) (int, map[string]int) {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-o", "rtcp.heuristic_rtcp:TRUE", "-T", "fields",
		"-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "_ws.expert.severity", "-e", "_ws.malformed").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	protos := map[string]int{}
	frames := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fs := strings.Split(l, "\t")
		if len(fs) < 2 {
			continue
		}
		frames++
		protos[fs[1]]++
		if strings.Contains(l, "alformed") || (len(fs) > 3 && fs[3] != "") {
			t.Errorf("malformed frame: %s", l)
		}
	}
	exp, err := exec.Command("tshark", "-n", "-r", file, "-q", "-z", "expert,error").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark expert: %v\n%s", err, exp)
	}
	if strings.Contains(string(exp), "Error") {
		t.Errorf("tshark reports errors:\n%s", exp)
	}
	return frames, protos
}

// isCallClass reports whether a CSeq method goes to the call table.
func isCallClass(m string) bool {
	switch m {
	case "INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "PRACK", "REFER", "INFO":
		return true
	}
	return false
}

// reportBlocks returns (reporter SSRC, source SSRC) of every report block
// of an RTCP compound packet (SR: PT 200, RR: PT 201):
//
//	0: V P RC | PT | length (32-bit words - 1)
//	4: SSRC of the sender
//	8: SR only: 20 bytes of sender info
//	   RC report blocks of 24 bytes, the first 4 the source SSRC
func reportBlocks(t *testing.T, b []byte) [][2]uint32 {
	var out [][2]uint32
	for len(b) >= 8 {
		rc, pt := int(b[0]&0x1f), b[1]
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if n > len(b) {
			t.Fatalf("RTCP sub-packet of %d bytes in %d", n, len(b))
		}
		if pt == 200 || pt == 201 {
			ssrc := binary.BigEndian.Uint32(b[4:8])
			off := 8
			if pt == 200 {
				off += 20
			}
			for i := range rc {
				o := off + i*24
				out = append(out, [2]uint32{ssrc, binary.BigEndian.Uint32(b[o : o+4])})
			}
		}
		b = b[n:]
	}
	return out
}

// sipDomains returns the hosts of the request URI, From and To of a raw
// SIP message that are names, not addresses.
func sipDomains(raw []byte) []string {
	first, _, _ := strings.Cut(string(raw), "\r\n")
	cands := []string{header(raw, "From"), header(raw, "f"), header(raw, "To"), header(raw, "t")}
	if !strings.HasPrefix(first, "SIP/2.0") {
		cands = append(cands, strings.Fields(first)[1])
	}
	var out []string
	for _, c := range cands {
		i := strings.Index(c, "sip:")
		if i < 0 {
			continue
		}
		u := c[i+4:]
		if at := strings.IndexByte(u, '@'); at >= 0 {
			u = u[at+1:]
		}
		if j := strings.IndexAny(u, ">;: "); j >= 0 {
			u = u[:j]
		}
		if u != "" && strings.Trim(u, "0123456789.") != "" && !strings.HasPrefix(u, "[") {
			out = append(out, strings.ToLower(u))
		}
	}
	return out
}

// TestAccess checks the token and the loopback rule.
func TestAccess(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, func(c *Config) { c.Token = "s3cret" })
	u := srv.URL + "/api/v1/messages?callid=" + url.QueryEscape(f.aLeg)
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", []string{"Authorization", "Bearer s3cre"}, http.StatusUnauthorized},
		{"basic", []string{"Authorization", "Basic s3cret"}, http.StatusUnauthorized},
		{"right token", []string{"Authorization", "Bearer s3cret"}, http.StatusOK},
	} {
		code, b := get(t, u, tc.hdr...)
		if code != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, code, tc.want, b)
		}
	}
	// The UI's files need no token.
	if code, _ := get(t, srv.URL+"/"); code != http.StatusOK {
		t.Errorf("UI with a token configured: status %d", code)
	}

	// Without a token only loopback clients are served. The remote address
	// cannot be anything but loopback over a real connection here, so the
	// foreign ones are set on the request.
	a, err := New(Config{DB: f.st.DB(), Backend: f.backend})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler()
	for _, tc := range []struct {
		remote string
		path   string
		want   int
	}{
		{"192.0.2.7:40000", "/api/v1/stats", http.StatusForbidden},
		{"[2001:db8::1]:40000", "/", http.StatusForbidden},
		{"[::ffff:192.0.2.7]:40000", "/api/v1/stats", http.StatusForbidden},
		{"127.0.0.1:40000", "/api/v1/stats", http.StatusOK},
		{"[::1]:40000", "/", http.StatusOK},
		{"[::ffff:127.0.0.1]:40000", "/api/v1/stats", http.StatusOK},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.RemoteAddr = tc.remote
		r.Host = "127.0.0.1:9080" // httptest's example.com is no loopback name (see TestDNSRebinding)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %s: status %d, want %d: %s", tc.remote, tc.path, w.Code, tc.want, w.Body)
		}
	}
}

// TestValidation checks that bad input gets a 4xx JSON error.
func TestValidation(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	base := srv.URL + "/api/v1"
	for _, tc := range []struct {
		path string
		want int
		msg  string
	}{
		{"/messages?from=yesterday", 400, `from: "yesterday" is not an RFC 3339 time`},
		{"/messages?to=2026-03-10T25:00:00Z", 400, "to: "},
		{"/messages?from=2026-03-10T10:00:00Z&to=2026-03-09T10:00:00Z", 400, "is before from"},
		{"/messages?from=2026-03-01T00:00:00Z&to=2026-03-10T00:00:00Z", 400, "time range 9d is longer than the maximum 7d (--api-max-range)"},
		{"/messages?limit=5000", 400, "limit 5000 is above the maximum 1000"},
		{"/messages?limit=0", 400, "limit"},
		{"/messages?limit=ten", 400, "limit"},
		{"/messages?offset=-1", 400, "offset"},
		{"/messages?src_ip=10.0.0.300", 400, `src_ip: "10.0.0.300" is not an IP address`},
		{"/messages?dst_port=70000", 400, "dst_port"},
		{"/messages?status=abc", 400, "status"},
		{"/messages?node=x", 400, "node"},
		{"/messages?prefix=yes", 400, "prefix"},
		{"/messages?calid=1", 400, `unknown parameter "calid"`},
		{"/messages?method=INVITE&method=BYE", 400, "given 2 times"},
		{"/calls?from_user=" + strings.Repeat("a", 300), 400, "longer than 255"},
		{"/calls/nope/flow", 404, `no SIP message with Call-ID "nope"`},
		{"/calls/nope/pcap", 404, "no SIP message"},
		{"/calls/x/flow?from=2020-01-01T00:00:00Z", 400, "longer than the maximum"},
		{"/calls/x/text?bogus=1", 400, "unknown parameter"},
		{"/stats?step=0.5s", 400, "whole number of seconds"},
		{"/stats?step=1s&from=2026-03-10T00:00:00Z&to=2026-03-10T12:00:00Z", 400, "more than 2000"},
		{"/stats?step=fast", 400, "not a duration"},
		{"/nothing", 404, "no such endpoint"},
	} {
		code, b := get(t, base+tc.path)
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || code != tc.want || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.path, code, b, tc.want, tc.msg)
		}
	}
}

// TestPcapIPv6TCP exports a call carried over TCP on IPv6 (with the
// IPv4 chain legs mapped into IPv6 where they meet) and checks it with
// tshark.
func TestPcapIPv6TCP(t *testing.T) {
	f := newFixtureWith(t, func(c *gen.Config) { c.IPv6, c.TCP = true, true }, nil)
	srv, _ := server(t, f, nil)
	var fl Flow
	getJSON(t, srv.URL+"/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow", &fl)
	tcp := 0
	for _, m := range fl.Messages {
		if m.Transport == "tcp" && strings.Contains(m.SrcIP, ":") {
			tcp++
		}
	}
	if tcp == 0 {
		t.Fatalf("no TCP over IPv6 message in the flow")
	}
	checkPcap(t, f, srv.URL+"/api/v1")
}

// TestLongCall checks that a call lasting 15 hours, across a day
// boundary and far beyond the flow margin, comes whole.
func TestLongCall(t *testing.T) {
	a := netip.MustParseAddrPort("10.1.0.200:5060")
	b := netip.MustParseAddrPort("10.0.0.10:5060")
	var extra []gen.SIPMessage
	for _, m := range []struct {
		src, dst netip.AddrPort
		after    time.Duration
		first    string
		cseq     string
	}{
		{a, b, time.Minute, "INVITE sip:1999@voip.example.com SIP/2.0", "1 INVITE"},
		{b, a, time.Minute + time.Second, "SIP/2.0 200 OK", "1 INVITE"},
		{a, b, time.Minute + 2*time.Second, "ACK sip:1999@10.0.0.10 SIP/2.0", "1 ACK"},
		{a, b, 7 * time.Hour, "UPDATE sip:1999@10.0.0.10 SIP/2.0", "2 UPDATE"},
		{b, a, 7*time.Hour + time.Second, "SIP/2.0 200 OK", "2 UPDATE"},
		{a, b, 15 * time.Hour, "BYE sip:1999@10.0.0.10 SIP/2.0", "3 BYE"},
		{b, a, 15*time.Hour + time.Second, "SIP/2.0 200 OK", "3 BYE"},
	} {
		method, status := "", 0
		if strings.HasPrefix(m.first, "SIP/2.0 ") {
			status = 200
		} else {
			method, _, _ = strings.Cut(m.first, " ")
		}
		raw := m.first + "\r\nVia: SIP/2.0/UDP " + m.src.String() + ";branch=z9hG4bKlong\r\nFrom: <sip:1200@voip.example.com>;tag=l1\r\n" +
			"To: <sip:1999@voip.example.com>\r\nCall-ID: long-call-1\r\nCSeq: " + m.cseq + "\r\nContent-Length: 0\r\n\r\n"
		extra = append(extra, gen.SIPMessage{Src: m.src, Dst: m.dst, Transport: "udp", TS: genStart.Add(m.after), CallID: "long-call-1",
			Method: method, Status: status, CSeqMethod: strings.Fields(m.cseq)[1], Raw: []byte(raw)})
	}
	f := newFixtureWith(t, nil, extra)
	srv, _ := server(t, f, func(c *Config) { c.Now = func() time.Time { return genStart.Add(20 * time.Hour) } })
	var fl Flow
	getJSON(t, srv.URL+"/api/v1/calls/long-call-1/flow", &fl)
	want := wantLines(f.sip, func(m gen.SIPMessage) bool { return m.CallID == "long-call-1" })
	if diff := cmp.Diff(want, gotLines(fl.Messages)); diff != "" {
		t.Errorf("long call (-want +got):\n%s", diff)
	}
	var calls CallsResult
	getJSON(t, srv.URL+"/api/v1/calls?callid=long-call-1&from="+genStart.Format(time.RFC3339)+"&to="+genStart.Add(time.Hour).Format(time.RFC3339), &calls)
	if len(calls.Calls) != 1 || calls.Calls[0].Messages != 7 || calls.Calls[0].TalkMS != (15*time.Hour-time.Minute-time.Second).Milliseconds() {
		t.Errorf("calls: %+v, want the long call with 7 messages and talk time 14h58m59s", calls.Calls)
	}
}

// TestPcapRTCPJSON: RTCP that arrived as JSON (heplify, xhep-agent) is in
// the call's pcap, re-encoded as binary RTCP: as many RTCP frames as the
// call has reports, none malformed for tshark.
func TestPcapRTCPJSON(t *testing.T) {
	fixtureRTCPJSON = true
	f := newFixture(t)
	fixtureRTCPJSON = false
	var n int
	if err := f.st.DB().QueryRow("SELECT COUNT(*) FROM hep_proto_5_default WHERE raw LIKE '{%'").Scan(&n); err == nil && n == 0 {
		t.Fatal("fixture RTCP not stored as JSON")
	}
	srv, _ := server(t, f, nil)
	checkPcap(t, f, srv.URL+"/api/v1")
}
