package api

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestShareLink: an operator makes a share link; anyone holding it (no
// login) gets the same flow, read-only (no pcap, no other call through
// it); a changed token is refused, an expired one is 410, a read-only
// user cannot make one, and both are in the audit log.
func TestShareLink(t *testing.T) {
	f := newFixture(t)
	now := genStart.Add(2 * time.Hour)
	srv, st := accountServer(t, f, false, func(c *Config) { c.Now = func() time.Time { return now } })
	admin := newClient(t, srv)
	admin.login("root", "root password 1")
	admin.do("POST", "/api/v1/users", map[string]string{"name": "op", "role": "operator", "password": "operator password"}, CSRFHeader, admin.csrf)
	admin.do("POST", "/api/v1/users", map[string]string{"name": "ro", "role": "read-only", "password": "readonly password"}, CSRFHeader, admin.csrf)
	op, ro := newClient(t, srv), newClient(t, srv)
	op.login("op", "operator password")
	ro.login("ro", "readonly password")
	path := "/api/v1/calls/" + url.PathEscape(f.aLeg) + "/share"
	if code, _, _ := ro.do("POST", path, map[string]string{"ttl": "1h"}, CSRFHeader, ro.csrf); code != 403 {
		t.Errorf("read-only user makes a share link: %d, want 403", code)
	}
	if code, _, _ := op.do("POST", path, map[string]string{"ttl": "1000h"}, CSRFHeader, op.csrf); code != 400 {
		t.Errorf("ttl beyond 30 days: %d, want 400", code)
	}
	code, b, _ := op.do("POST", path, map[string]string{"ttl": "1h"}, CSRFHeader, op.csrf)
	var sr ShareResult
	if json.Unmarshal(b, &sr); code != 201 || !strings.HasPrefix(sr.Link, "/#share=") || !sr.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("share: %d %s", code, b)
	}
	_, want, _ := op.do("GET", "/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow", nil)

	anon := newClient(t, srv)
	code, got, _ := anon.do("GET", "/api/v1/shared/"+sr.Token+"/flow", nil)
	if code != 200 {
		t.Fatalf("shared flow without login: %d %s", code, got)
	}
	var fw, fg Flow
	json.Unmarshal(want, &fw)
	json.Unmarshal(got, &fg)
	if diff := cmp.Diff(fw, fg); diff != "" {
		t.Errorf("shared flow differs from the flow (-flow +shared):\n%s", diff)
	}
	// Read-only: the token opens nothing else.
	if code, _, _ := anon.do("GET", "/api/v1/calls/"+url.PathEscape(f.aLeg)+"/pcap", nil, "Authorization", "Bearer "+sr.Token); code != 401 {
		t.Errorf("pcap with the share token: %d, want 401", code)
	}
	body, sig, _ := strings.Cut(sr.Token, ".")
	var p sharePayload
	raw, _ := b64url(body)
	json.Unmarshal(raw, &p)
	p.CallID = f.bLeg
	forged, _ := json.Marshal(p)
	for _, bad := range []string{encb64(forged) + "." + sig, body + "." + sig[:len(sig)-2] + "AA", "nonsense"} {
		if code, _, _ := anon.do("GET", "/api/v1/shared/"+bad+"/flow", nil); code != 403 {
			t.Errorf("changed token %.30s…: %d, want 403", bad, code)
		}
	}
	now = now.Add(time.Hour)
	if code, b, _ := anon.do("GET", "/api/v1/shared/"+sr.Token+"/flow", nil); code != 410 {
		t.Errorf("expired link: %d %s, want 410", code, b)
	}
	log, _ := st.AuditLog(t.Context(), "", 0, 100)
	var acts []string
	for _, e := range log {
		if strings.HasPrefix(e.Action, "share") {
			acts = append(acts, e.User+" "+e.Action)
		}
	}
	if diff := cmp.Diff([]string{" share_view", "op share_create"}, acts); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func b64url(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func encb64(b []byte) string          { return base64.RawURLEncoding.EncodeToString(b) }

// TestUIShareLink: an operator clicks Share in the call view; the link
// shown, opened in a browser that never logged in, draws the call's
// ladder read-only (no pcap, text or share buttons) with every message of
// the stored flow.
func TestUIShareLink(t *testing.T) {
	f := newFixture(t)
	srv, st := accountServer(t, f, false, nil)
	if _, err := st.CreateUser(t.Context(), "op", "operator", "operator password"); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	do(t, ctx, "open", navigate(srv.URL+"/"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	do(t, ctx, "login", sendKeys("#loginuser", "op"), sendKeys("#loginpw", "operator password"), click(`#loginform button[type=submit]`))
	waitFor(t, ctx, `!document.getElementById("search").hidden`)
	do(t, ctx, "open call", navigate(srv.URL+"/#"+url.Values{"call": {f.aLeg}}.Encode()))
	waitFor(t, ctx, `document.querySelector("#ladder g.msg")`)
	do(t, ctx, "share", click("#share"))
	waitFor(t, ctx, `document.getElementById("sharelink").value !== ""`)
	link := eval[string](t, ctx, `document.getElementById("sharelink").value`)
	if !strings.HasPrefix(link, srv.URL+"/#share=") {
		t.Fatalf("share link %q", link)
	}
	var fl Flow
	c := newClient(t, srv)
	c.login("op", "operator password")
	_, b, _ := c.do("GET", "/api/v1/calls/"+url.PathEscape(f.aLeg)+"/flow", nil)
	json.Unmarshal(b, &fl)

	// Another browser, no login.
	ctx2 := browser(t)
	do(t, ctx2, "open link", navigate(link))
	waitFor(t, ctx2, `document.querySelector("#ladder g.msg")`)
	if n := eval[int](t, ctx2, `document.querySelectorAll("#ladder g.msg").length`); n != len(fl.Messages) {
		t.Errorf("shared ladder: %d arrows, want %d", n, len(fl.Messages))
	}
	if !eval[bool](t, ctx2, `["pcap", "text", "textdl", "share"].every(id => document.getElementById(id).offsetParent === null) && document.getElementById("login").hidden`) {
		t.Error("shared view shows export/share buttons or the login form")
	}
	if note := eval[string](t, ctx2, `document.getElementById("sharednote").textContent`); !strings.Contains(note, "read-only") {
		t.Errorf("shared note %q", note)
	}
}
