package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/auth"
)

// accountServer runs the API with accounts on the fixture's database and a
// first admin "root".
func accountServer(t *testing.T, f *fixture, tls bool, mod func(*Config)) (*httptest.Server, *auth.Store) {
	t.Helper()
	return accountServerAuth(t, f, auth.Config{}, tls, mod)
}

// accountServerAuth is accountServer with the account store's config
// (LDAP) given; its DB is the fixture's.
func accountServerAuth(t *testing.T, f *fixture, ac auth.Config, tls bool, mod func(*Config)) (*httptest.Server, *auth.Store) {
	t.Helper()
	if f.backend != "mysql" {
		t.Skipf("accounts are stored in MySQL/MariaDB (collector/auth); the store backend here is %s", f.backend)
	}
	ac.DB = f.st.DB()
	st, err := auth.Open(context.Background(), ac)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EnsureAdmin(context.Background(), "root", "root password 1"); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: f.st.DB(), Accounts: st, Now: func() time.Time { return genStart.Add(2 * time.Hour) }}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, st
}

// client is a browser-like HTTP client: a cookie jar and the CSRF token of
// its session.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Transport: srv.Client().Transport, Jar: jar}
	return &client{t: t, base: srv.URL, hc: hc}
}

// do sends a request (body JSON-encoded when not nil) with hdr pairs and
// returns the status and body.
func (c *client) do(method, path string, body any, hdr ...string) (int, []byte, *http.Response) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp
}

func (c *client) login(user, pw string) (int, SessionInfo, *http.Response) {
	c.t.Helper()
	code, b, resp := c.do("POST", "/api/v1/login", map[string]string{"user": user, "password": pw})
	var si SessionInfo
	json.Unmarshal(b, &si)
	if code == 200 {
		c.csrf = si.CSRF
	}
	return code, si, resp
}

// TestAccounts drives the account endpoints over real HTTP against
// MariaDB: login and session cookie attributes, 401 without a login, CSRF
// and Origin checks on state changes, roles (read-only may not export,
// only admins manage users), per-user API tokens, the --api-token acting
// as admin, the failed-login limit, logout, and the audit log's entries.
func TestAccounts(t *testing.T) {
	f := newFixture(t)
	srv, st := accountServer(t, f, false, func(c *Config) { c.Token = "legacy-token"; c.Aliases = []string{"10.1.0.0/24=carrier-a"} })
	from, to := url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)), url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	search := "/api/v1/calls?from=" + from + "&to=" + to + "&callid=" + url.QueryEscape(f.aLeg)
	pcap := "/api/v1/calls/" + url.PathEscape(f.aLeg) + "/pcap?from=" + from + "&to=" + to

	anon := newClient(t, srv)
	if code, b, _ := anon.do("GET", search, nil); code != 401 || !strings.Contains(string(b), "login required") {
		t.Errorf("search without login: %d %s, want 401", code, b)
	}
	// The UI's files (with its login form) need no login.
	if code, _, _ := anon.do("GET", "/", nil); code != 200 {
		t.Errorf("UI without login: %d", code)
	}
	if code, _, _ := anon.login("root", "wrong password"); code != 401 {
		t.Errorf("wrong password: %d, want 401", code)
	}

	admin := newClient(t, srv)
	code, si, resp := admin.login("root", "root password 1")
	if code != 200 || si.User != "root" || si.Role != auth.Admin || len(si.CSRF) != 43 {
		t.Fatalf("login: %d %+v", code, si)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" || ck.MaxAge <= 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure on plain HTTP, Path /", ck)
	}
	if code, b, _ := admin.do("GET", search, nil); code != 200 || !strings.Contains(string(b), f.aLeg) {
		t.Errorf("search logged in: %d %.200s", code, b)
	}

	// State changes need the CSRF header and a same-origin Origin.
	newUser := map[string]string{"name": "viewer", "role": "read-only", "password": "viewer password"}
	if code, b, _ := admin.do("POST", "/api/v1/users", newUser); code != 403 || !strings.Contains(string(b), CSRFHeader) {
		t.Errorf("create user without CSRF: %d %s, want 403", code, b)
	}
	if code, _, _ := admin.do("POST", "/api/v1/users", newUser, CSRFHeader, "x"+admin.csrf[1:]); code != 403 {
		t.Errorf("create user with a wrong CSRF token: %d, want 403", code)
	}
	if code, _, _ := admin.do("POST", "/api/v1/users", newUser, CSRFHeader, admin.csrf, "Origin", "http://evil.example"); code != 403 {
		t.Errorf("create user cross-origin: %d, want 403", code)
	}
	if code, b, _ := admin.do("POST", "/api/v1/users", newUser, CSRFHeader, admin.csrf, "Origin", srv.URL); code != 201 {
		t.Fatalf("create user: %d %s", code, b)
	}
	if code, _, _ := admin.do("POST", "/api/v1/users", newUser, CSRFHeader, admin.csrf); code != 409 {
		t.Errorf("create the same user again: %d, want 409", code)
	}
	op := map[string]string{"name": "oper", "role": "operator", "password": "operator password"}
	if code, b, _ := admin.do("POST", "/api/v1/users", op, CSRFHeader, admin.csrf); code != 201 {
		t.Fatalf("create operator: %d %s", code, b)
	}

	// Roles.
	viewer := newClient(t, srv)
	if code, si, _ := viewer.login("viewer", "viewer password"); code != 200 || si.Role != auth.ReadOnly {
		t.Fatalf("viewer login: %d %+v", code, si)
	}
	for _, tc := range []struct {
		c      *client
		method string
		path   string
		want   int
	}{
		{viewer, "GET", search, 200},
		{viewer, "GET", pcap, 403},
		{viewer, "GET", "/api/v1/users", 403},
		{viewer, "GET", "/api/v1/audit", 403},
		{admin, "GET", pcap, 200},
		{admin, "GET", "/api/v1/users", 200},
	} {
		if code, b, _ := tc.c.do(tc.method, tc.path, nil); code != tc.want {
			t.Errorf("%s %s as %s: %d %.100s, want %d", tc.method, tc.path, tc.c.csrf[:4], code, b, tc.want)
		}
	}

	// API tokens: made in a session, used as a bearer token without
	// cookies; a read-only user's token is read-only.
	code, b, _ := viewer.do("POST", "/api/v1/tokens", map[string]string{"name": "script"}, CSRFHeader, viewer.csrf)
	var tok struct {
		Token  auth.Token `json:"token"`
		Secret string     `json:"secret"`
	}
	if json.Unmarshal(b, &tok); code != 201 || !strings.HasPrefix(tok.Secret, auth.TokenPrefix) {
		t.Fatalf("new token: %d %s", code, b)
	}
	script := newClient(t, srv)
	if code, _, _ := script.do("GET", search, nil, "Authorization", "Bearer "+tok.Secret); code != 200 {
		t.Errorf("search with the user's token: %d", code)
	}
	if code, _, _ := script.do("GET", pcap, nil, "Authorization", "Bearer "+tok.Secret); code != 403 {
		t.Errorf("pcap with a read-only user's token: %d, want 403", code)
	}
	// A token needs no CSRF header (no cookie involved).
	if code, b, _ := script.do("POST", "/api/v1/searches", map[string]string{"name": "mine", "query": "what=calls&from_user=1001"},
		"Authorization", "Bearer "+tok.Secret); code != 201 {
		t.Errorf("save search with a token: %d %s", code, b)
	}
	if code, _, _ := script.do("GET", search, nil, "Authorization", "Bearer xhep_notatoken"); code != 401 {
		t.Errorf("unknown token: %d, want 401", code)
	}
	if code, _, _ := script.do("GET", "/api/v1/users", nil, "Authorization", "Bearer legacy-token"); code != 200 {
		t.Errorf("the --api-token with accounts: %d, want 200 (admin)", code)
	}
	if code, _, _ := viewer.do("DELETE", "/api/v1/tokens/"+itoa(int(tok.Token.ID)), nil, CSRFHeader, viewer.csrf); code != 200 {
		t.Errorf("revoke token: %d", code)
	}
	if code, _, _ := script.do("GET", search, nil, "Authorization", "Bearer "+tok.Secret); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}

	// Settings: a real IANA zone and a page size in range.
	for body, want := range map[string]int{`{"tz":"Europe/Berlin","page_size":50}`: 200, `{"tz":"Mars/Olympus","page_size":50}`: 400,
		`{"tz":"","page_size":5}`: 400, `{"tz":"","color":"red"}`: 400} {
		var v any
		json.Unmarshal([]byte(body), &v)
		if code, b, _ := viewer.do("PUT", "/api/v1/settings", v, CSRFHeader, viewer.csrf); code != want {
			t.Errorf("settings %s: %d %s, want %d", body, code, b, want)
		}
	}
	var s2 SessionInfo
	_, b, _ = viewer.do("GET", "/api/v1/session", nil)
	json.Unmarshal(b, &s2)
	if s2.Settings != (auth.Settings{TZ: "Europe/Berlin", PageSize: 50}) {
		t.Errorf("session settings %+v", s2.Settings)
	}

	// Aliases: admins keep them in the database beside --alias; a clash
	// with a configured prefix, or a bad prefix or port, is a 400; a port
	// alias of a configured prefix is no clash.
	if code, _, _ := viewer.do("PUT", "/api/v1/aliases", map[string]any{"aliases": []auth.Alias{{Prefix: "10.9.0.0/16", Name: "x"}}}, CSRFHeader, viewer.csrf); code != 403 {
		t.Errorf("aliases by a read-only user: %d, want 403", code)
	}
	for body, want := range map[string]int{
		`{"aliases":[{"prefix":"10.1.0.0/24","name":"other"}]}`:                                                      400,
		`{"aliases":[{"prefix":"10.1.0.300","name":"bad"}]}`:                                                         400,
		`{"aliases":[{"prefix":"10.0.0.20:0","name":"bad-port"}]}`:                                                   400,
		`{"aliases":[{"prefix":"[2001:db8::1]5060","name":"bad-v6"}]}`:                                               400,
		`{"aliases":[{"prefix":"10.1.0.0/24:5060","name":"sbc-pool"},{"prefix":"10.1.0.0/24:5060","name":"again"}]}`: 400,
		`{"aliases":[{"prefix":"10.0.0.20","name":"SBC-1"},{"prefix":"10.1.0.0/16","name":"trunk-b"},` +
			`{"prefix":"10.1.0.0/24:5060","name":"sbc-pool"},{"prefix":"[2001:db8::1]:5060","name":"v6-sbc"}]}`: 200,
	} {
		var v any
		json.Unmarshal([]byte(body), &v)
		if code, b, _ := admin.do("PUT", "/api/v1/aliases", v, CSRFHeader, admin.csrf); code != want {
			t.Errorf("PUT aliases %s: %d %s, want %d", body, code, b, want)
		}
	}
	var ar AliasesResult
	_, b, _ = viewer.do("GET", "/api/v1/aliases", nil)
	json.Unmarshal(b, &ar)
	if diff := cmp.Diff(AliasesResult{Configured: []auth.Alias{{Prefix: "10.1.0.0/24", Name: "carrier-a"}},
		Stored: []auth.Alias{{Prefix: "10.0.0.20", Name: "SBC-1"}, {Prefix: "10.1.0.0/16", Name: "trunk-b"},
			{Prefix: "10.1.0.0/24:5060", Name: "sbc-pool"}, {Prefix: "[2001:db8::1]:5060", Name: "v6-sbc"}}}, ar); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}

	// Failed logins: five for one user, then even the right password waits.
	for i := 0; i < 5; i++ {
		anon.login("oper", "not the password")
	}
	if code, _, _ := anon.login("oper", "operator password"); code != 429 {
		t.Errorf("login after 5 failures: %d, want 429", code)
	}

	// Logout ends the session.
	if code, _, _ := viewer.do("POST", "/api/v1/logout", nil, CSRFHeader, viewer.csrf); code != 200 {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := viewer.do("GET", search, nil); code != 401 {
		t.Errorf("search after logout: %d, want 401", code)
	}

	// The audit log has it all, newest first, as the admin reads it.
	_, b, _ = admin.do("GET", "/api/v1/audit?limit=1000", nil)
	var al struct{ Entries []auth.Entry }
	if err := json.Unmarshal(b, &al); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(al.Entries) - 1; i >= 0; i-- {
		e := al.Entries[i]
		if e.Action == "search" || e.Action == "pcap" {
			e.Detail = strings.SplitN(e.Detail, "?", 2)[0]
		}
		if e.Action == "login_failed" {
			e.Detail = strings.SplitN(e.Detail, ":", 2)[0]
		}
		got = append(got, e.User+" "+e.Action+" "+e.Detail)
	}
	pcapPath := "/api/v1/calls/" + url.PathEscape(f.aLeg) + "/pcap"
	want := []string{
		` login_failed user "root"`,
		"root login local admin",
		"root search /api/v1/calls",
		`root user_create user "viewer" role read-only`,
		`root user_create user "oper" role operator`,
		"viewer login local read-only",
		"viewer search /api/v1/calls",
		"root pcap " + pcapPath,
		"viewer token_create token " + itoa(int(tok.Token.ID)) + ` "script"`,
		"viewer search /api/v1/calls",
		"viewer token_delete token " + itoa(int(tok.Token.ID)),
	}
	for i := 0; i < 5; i++ {
		want = append(want, ` login_failed user "oper"`)
	}
	want = append(want, ` login_blocked user "oper"`, "viewer logout ")
	want = slices.Insert(want, len(want)-7, "root aliases_update 4 aliases")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
	// The same entries are in the database.
	var n int
	f.st.DB().QueryRow("SELECT COUNT(*) FROM xhep_audit").Scan(&n)
	if n != len(want) {
		t.Errorf("xhep_audit has %d rows, the API listed %d", n, len(want))
	}
	_ = st
}

// TestAccountsTLS: over TLS the session cookie is Secure.
func TestAccountsTLS(t *testing.T) {
	f := newFixture(t)
	srv, _ := accountServer(t, f, true, nil)
	c := newClient(t, srv)
	code, _, resp := c.login("root", "root password 1")
	if code != 200 {
		t.Fatalf("login over TLS: %d", code)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie && !ck.Secure {
			t.Errorf("session cookie over TLS is not Secure: %+v", ck)
		}
	}
}

// TestAccountsOff: without accounts the account endpoints say so, and the
// session endpoint reports the open mode the UI then uses.
func TestAccountsOff(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	c := newClient(t, srv)
	if code, b, _ := c.do("POST", "/api/v1/login", map[string]string{"user": "root", "password": "x"}); code != 404 || !strings.Contains(string(b), "--accounts") {
		t.Errorf("login without accounts: %d %s", code, b)
	}
	code, b, _ := c.do("GET", "/api/v1/session", nil)
	var si SessionInfo
	json.Unmarshal(b, &si)
	if code != 200 || si.Accounts || si.Via != "open" || si.Role != auth.Admin {
		t.Errorf("session without accounts: %d %+v", code, si)
	}
}
