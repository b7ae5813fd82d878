package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xhep/xhep/hep/rtcp"
)

// mergePair returns two calls to merge: the fixture's B2BUA chain (legs
// a, b, c, d) and a one-leg call with RTCP outside it; want maps every
// leg of both to itself (the calls a merged flow holds).
func mergePair(t *testing.T, f *fixture, base string) (a, x string, want map[string]bool) {
	t.Helper()
	want = map[string]bool{f.aLeg: true, f.bLeg: true, f.cLeg: true, f.dLeg: true}
	for _, r := range f.truth.RTCP {
		if want[r.CallID] || x != "" {
			continue
		}
		var fl Flow
		getJSON(t, base+"/calls/"+url.PathEscape(r.CallID)+"/flow", &fl)
		if len(fl.Legs) == 1 {
			x = r.CallID
		}
	}
	if x == "" {
		t.Fatal("fixture: no one-leg call with RTCP")
	}
	want[x] = true
	return f.aLeg, x, want
}

// TestMergedFlowExports: a merged flow (merge=) is one flow of both calls
// (every leg, each message once, the same as the union of the two flows),
// its pcap holds every SIP message and every RTCP report of each call
// (RTCP stored as JSON re-encoded to binary with the same report blocks),
// its text names both calls and every message once; a missing call is a
// 404, too many a 400 (both backends).
func TestMergedFlowExports(t *testing.T) {
	fixtureRTCPJSON = true
	f := newFixture(t)
	fixtureRTCPJSON = false
	srv, _ := server(t, f, nil)
	base := srv.URL + "/api/v1"
	a, x, legs := mergePair(t, f, base)
	path := "/calls/" + url.PathEscape(a)
	merge := "?merge=" + url.QueryEscape(x)

	// The flow: the union of both calls' flows.
	var fa, fx, fm Flow
	getJSON(t, base+path+"/flow", &fa)
	getJSON(t, base+"/calls/"+url.PathEscape(x)+"/flow", &fx)
	getJSON(t, base+path+"/flow"+merge, &fm)
	if diff := cmp.Diff([]string{x}, fm.Merged); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	key := func(m Message) string { return fmt.Sprint(m.Table, "/", m.ID) }
	union := map[string]bool{}
	for _, m := range append(slices.Clone(fa.Messages), fx.Messages...) {
		union[key(m)] = true
	}
	got := map[string]bool{}
	for i, m := range fm.Messages {
		if got[key(m)] {
			t.Errorf("message %s twice in the merged flow", key(m))
		}
		got[key(m)] = true
		if i > 0 && m.TimeUS < fm.Messages[i-1].TimeUS {
			t.Errorf("merged flow out of capture order at %d", i)
		}
	}
	if diff := cmp.Diff(union, got); diff != "" {
		t.Errorf("merged flow's messages vs the union of both flows (-union +merged):\n%s", diff)
	}
	gotLegs := map[string]bool{}
	for _, l := range fm.Legs {
		gotLegs[l.CallID] = true
	}
	if diff := cmp.Diff(legs, gotLegs); diff != "" {
		t.Errorf("merged flow's legs (-want +got):\n%s", diff)
	}
	if len(fm.RTCP) != len(fa.RTCP)+len(fx.RTCP) || len(fx.RTCP) == 0 {
		t.Errorf("merged flow: %d RTCP reports, the calls have %d + %d", len(fm.RTCP), len(fa.RTCP), len(fx.RTCP))
	}

	// The pcap: per call, every stored SIP message and RTCP report.
	code, b := get(t, base+path+"/pcap"+merge)
	if code != http.StatusOK {
		t.Fatalf("merged pcap: %d %s", code, b)
	}
	wantSIP, gotSIP := map[string]int{}, map[string]int{}
	wantRTCP, gotRTCP := map[string]int{}, map[string]int{}
	for _, m := range f.sip {
		if legs[m.CallID] {
			wantSIP[m.CallID]++
		}
	}
	rtcpOf := map[string]storedRTCP{}
	for _, r := range f.truth.RTCP {
		if legs[r.CallID] {
			wantRTCP[r.CallID]++
			rtcpOf[fmt.Sprint(r.TS.UnixMicro(), r.Src, r.Dst)] = storedRTCP{r.CallID, reportBlocks(t, r.Raw)}
		}
	}
	pr, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		pk := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP); tcp != nil {
			if id := header(tcp.Payload, "Call-ID"); id != "" {
				gotSIP[id]++ // a message's first segment
			}
			continue
		}
		udp, _ := pk.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || pk.NetworkLayer() == nil {
			t.Fatalf("frame at %v is neither UDP nor TCP: %v", ci.Timestamp, pk)
		}
		src, _ := netip.AddrFromSlice(pk.NetworkLayer().NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(pk.NetworkLayer().NetworkFlow().Dst().Raw())
		if id := header(udp.Payload, "Call-ID"); id != "" {
			gotSIP[id]++
			continue
		}
		if !rtcp.Valid(udp.Payload) {
			t.Errorf("frame at %v is neither SIP nor RTCP: %q", ci.Timestamp, udp.Payload)
			continue
		}
		k := fmt.Sprint(ci.Timestamp.UnixMicro(), netip.AddrPortFrom(src.Unmap(), uint16(udp.SrcPort)), netip.AddrPortFrom(dst.Unmap(), uint16(udp.DstPort)))
		r, ok := rtcpOf[k]
		if !ok {
			t.Errorf("RTCP frame %s is no stored report of the calls", k)
			continue
		}
		gotRTCP[r.callID]++
		if diff := cmp.Diff(r.blocks, reportBlocks(t, udp.Payload)); diff != "" {
			t.Errorf("RTCP frame %s: report blocks (-stored +pcap):\n%s", k, diff)
		}
	}
	if diff := cmp.Diff(wantSIP, gotSIP); diff != "" {
		t.Errorf("SIP frames per call (-stored +pcap):\n%s", diff)
	}
	if diff := cmp.Diff(wantRTCP, gotRTCP); diff != "" {
		t.Errorf("RTCP frames per call (-stored +pcap):\n%s", diff)
	}
	if wantRTCP[x] == 0 || wantRTCP[a]+wantRTCP[f.bLeg] == 0 {
		t.Errorf("fixture: RTCP per call %v, want some of both calls", wantRTCP)
	}
	// tshark reads it cleanly: every frame SIP or RTCP, none malformed.
	if _, err := exec.LookPath("tshark"); err == nil {
		file := filepath.Join(t.TempDir(), "merged.pcap")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := func(m map[string]int) (n int) {
			for _, v := range m {
				n += v
			}
			return n
		}
		frames, protos := tsharkFrames(t, file)
		if frames != sum(wantSIP)+sum(wantRTCP) || protos["SIP"]+protos["SIP/SDP"] != sum(wantSIP) || protos["RTCP"] != sum(wantRTCP) {
			t.Errorf("tshark: %d frames %v, want %d SIP and %d RTCP", frames, protos, sum(wantSIP), sum(wantRTCP))
		}
	} else {
		t.Log("tshark is not installed (Debian package tshark): the merged pcap is read with gopacket only")
	}

	// The text: both calls named, every message once, by call.
	code, b = get(t, base+path+"/text"+merge)
	if code != http.StatusOK {
		t.Fatalf("merged text: %d %s", code, b)
	}
	text := string(b)
	head, _, _ := strings.Cut(text, "\n")
	if wantHead := fmt.Sprintf("Calls %s, %s merged: %d SIP messages, %d legs, ", a, x, len(fm.Messages), len(legs)); !strings.HasPrefix(head, wantHead) {
		t.Errorf("text starts %q, want %q", head, wantHead)
	}
	gotText := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^==== \d+ .* Call-ID (.+)$`).FindAllStringSubmatch(text, -1) {
		gotText[m[1]]++
	}
	if diff := cmp.Diff(wantSIP, gotText); diff != "" {
		t.Errorf("text messages per call (-stored +text):\n%s", diff)
	}
	for _, l := range fm.Legs {
		if !strings.Contains(text, "  leg "+l.CallID+" (") {
			t.Errorf("text does not list leg %s", l.CallID)
		}
	}

	tooMany := "?merge=" + url.QueryEscape(x) // repeated: once
	for i := range 15 {
		tooMany += fmt.Sprintf("&merge=other-%d", i)
	}
	for _, tc := range []struct {
		query string
		code  int
		msg   string
	}{
		{"?merge=no-such-call", 404, `no SIP message with Call-ID "no-such-call"`},
		{"?merge=" + strings.Repeat("m", 256), 400, "1 to 255 bytes"},
		{tooMany, 400, "17 calls, at most 16"},
	} {
		for _, what := range []string{"flow", "pcap", "text"} {
			code, b := get(t, base+path+"/"+what+tc.query)
			var e struct{ Error string }
			if json.Unmarshal(b, &e); code != tc.code || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s%.40s: %d %s, want %d with %q", what, tc.query, code, b, tc.code, tc.msg)
			}
		}
	}
}

// storedRTCP is a stored RTCP report: its call and report blocks.
type storedRTCP struct {
	callID string
	blocks [][2]uint32
}

// TestMergedShareLink: a share link of a merged flow opens that merged
// flow without the API token until it expires (410 from then on), and
// nothing else: not the calls' own flows, pcap or text (with or without
// the link as a bearer token), not another merge (a merge= added is a
// 400, a changed list of calls fails the signature), not a state change
// (both backends; token mode).
func TestMergedShareLink(t *testing.T) {
	f := newFixture(t)
	now := genStart.Add(2 * time.Hour)
	srv, _ := server(t, f, func(c *Config) { c.Token = "s3cret"; c.Now = func() time.Time { return now } })
	base := srv.URL + "/api/v1"
	auth := []string{"Authorization", "Bearer s3cret"}
	getAuth := func(url string, v any) {
		t.Helper()
		code, b := get(t, url, auth...)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", url, code, b)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	var calls CallsResult
	getAuth(base+"/calls?limit=50&from="+genStart.Format(time.RFC3339)+"&to="+genStart.Add(time.Hour).Format(time.RFC3339), &calls)
	a, x := f.aLeg, ""
	for _, c := range calls.Calls {
		var fl Flow
		getAuth(base+"/calls/"+url.PathEscape(c.CallID)+"/flow", &fl)
		if len(fl.Legs) == 1 {
			x = c.CallID
			break
		}
	}
	if x == "" {
		t.Fatal("fixture: no one-leg call")
	}
	path := "/calls/" + url.PathEscape(a)
	merge := "?merge=" + url.QueryEscape(x)
	req, _ := http.NewRequest("POST", base+path+"/share"+merge, strings.NewReader(`{"ttl":"2h"}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sr ShareResult
	json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if resp.StatusCode != 201 || !sr.Expires.Equal(now.Add(2*time.Hour).Truncate(time.Second)) {
		t.Fatalf("share: %d %+v", resp.StatusCode, sr)
	}
	body, sig, _ := strings.Cut(sr.Token, ".")
	raw, _ := b64url(body)
	var p sharePayload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.CallID != a || !slices.Equal(p.Merge, []string{x}) || p.Exp != now.Add(2*time.Hour).Unix() {
		t.Errorf("token payload %+v, want call %s merged with %s until %d", p, a, x, now.Add(2*time.Hour).Unix())
	}
	_, want := get(t, base+path+"/flow"+merge, auth...)
	shared := base + "/shared/" + sr.Token + "/flow"
	code, got := get(t, shared)
	if code != 200 {
		t.Fatalf("shared merged flow: %d %s", code, got)
	}
	var fw, fg Flow
	json.Unmarshal(want, &fw)
	json.Unmarshal(got, &fg)
	if diff := cmp.Diff(fw, fg); diff != "" || len(fg.Merged) != 1 {
		t.Errorf("shared flow differs from the merged flow (-merged +shared):\n%s", diff)
	}

	// Read-only: nothing else with the link.
	for _, u := range []string{base + path + "/flow" + merge, base + path + "/pcap" + merge, base + path + "/text" + merge, base + "/calls/" + url.PathEscape(x) + "/pcap"} {
		for _, h := range [][]string{nil, {"Authorization", "Bearer " + sr.Token}} {
			if code, _ := get(t, u, h...); code != 401 {
				t.Errorf("%s with %v: %d, want 401", u, h, code)
			}
		}
	}
	for _, tc := range []struct {
		url  string
		code int
	}{
		{shared + "?merge=" + url.QueryEscape(f.bLeg), 400},
		{base + "/shared/" + sr.Token + "/pcap", 401},
		{base + "/shared/" + sr.Token + "/text", 401},
	} {
		if code, b := get(t, tc.url); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.url, code, b, tc.code)
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		req, _ := http.NewRequest(m, shared, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 405 {
			t.Errorf("%s %s: %d, want 401 or 405", m, shared, resp.StatusCode)
		}
	}
	for name, mod := range map[string]func(*sharePayload){
		"a call dropped": func(p *sharePayload) { p.Merge = nil },
		"a call added":   func(p *sharePayload) { p.Merge = append(p.Merge, f.bLeg) },
		"a call changed": func(p *sharePayload) { p.Merge = []string{f.bLeg} },
		"longer":         func(p *sharePayload) { p.Exp += 3600 },
	} {
		q := p
		q.Merge = slices.Clone(p.Merge)
		mod(&q)
		forged, _ := json.Marshal(q)
		if code, b := get(t, base+"/shared/"+encb64(forged)+"."+sig+"/flow"); code != 403 {
			t.Errorf("token with %s: %d %s, want 403", name, code, b)
		}
	}
	// Expiry: valid to its last second, 410 from then on.
	now = now.Add(2*time.Hour - time.Second)
	if code, b := get(t, shared); code != 200 {
		t.Errorf("a second before expiry: %d %s", code, b)
	}
	now = now.Add(time.Second)
	if code, b := get(t, shared); code != 410 || !strings.Contains(string(b), "expired") {
		t.Errorf("at expiry: %d %s, want 410", code, b)
	}
}
