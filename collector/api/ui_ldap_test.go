package api

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/auth"
	"github.com/xhep/xhep/collector/auth/authtest"
)

// TestUIAccountsLDAP uses the console in real Chromium with accounts
// and LDAP against a real slapd the test starts, and checks the screen
// against the database: LDAP logins (a user without a mapped group and a
// wrong password refused; alice in as admin by her group, bob as operator
// by a posixGroup; their accounts made with source ldap), an admin's user
// edits (role changed twice, a user deleted: the users table and
// xhep_users agree after each), a read-only user refused the admin page
// and a role change sent from the page (403, nothing changed), an API
// token made and revoked (gone from the table, refused by the API), and a
// password change (a wrong old password refused; the new one logs in, the
// old one not, the session ended).
func TestUIAccountsLDAP(t *testing.T) {
	f := newFixture(t)
	sl := authtest.Slapd(t)
	ldapCfg := &auth.LDAP{URL: sl.URL, BindDN: authtest.SvcDN, BindPassword: authtest.SvcPW, BaseDN: "ou=people," + authtest.Base,
		GroupBase: "ou=groups," + authtest.Base, Timeout: 5 * time.Second,
		Roles: map[string]auth.Role{"noc-admins": auth.Admin, "noc": auth.Operator, "viewers": auth.ReadOnly}}
	srv, st := accountServerAuth(t, f, auth.Config{LDAP: ldapCfg}, false, nil)
	bg := context.Background()
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"viewer", auth.ReadOnly}, {"tmpuser", auth.Operator}} {
		if _, err := st.CreateUser(bg, u.name, u.role, u.name+" password 1"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t)
	do(t, ctx, "open console", navigate(srv.URL+"/"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	loginErr := func(user, pw string) string {
		t.Helper()
		do(t, ctx, "clear error", chromedp.Evaluate[chromedp.Void](`document.getElementById("loginerr").textContent = ""`))
		uiLogin(t, ctx, user, pw)
		waitFor(t, ctx, `document.getElementById("loginerr").textContent !== ""`)
		return eval[string](t, ctx, `document.getElementById("loginerr").textContent`)
	}
	for _, c := range [][2]string{{"dave", "dave-password-1"}, {"alice", "wrong password"}} {
		if msg := loginErr(c[0], c[1]); msg != "wrong user name or password" {
			t.Errorf("login %s: %q, want a refusal", c[0], msg)
		}
		if _, err := st.UserByName(bg, c[0]); err == nil && c[0] == "dave" {
			t.Error("dave (no mapped LDAP group) got an account")
		}
	}
	uiLogin(t, ctx, "alice", "alice-password-1")
	waitFor(t, ctx, `document.getElementById("whoami").textContent === "alice (admin)"`)
	if u, err := st.UserByName(bg, "alice"); err != nil || u.Source != "ldap" || u.Role != auth.Admin {
		t.Errorf("alice in the database: %+v %v, want an ldap admin", u, err)
	}

	// The users table against xhep_users, after each edit.
	users := func(when string) {
		t.Helper()
		us, err := st.Users(bg)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, u := range us {
			want = append(want, u.Name+" "+string(u.Role)+" "+u.Source)
		}
		slices.Sort(want)
		waitFor(t, ctx, `document.querySelectorAll("#users tr[data-user]").length === `+itoa(len(want)))
		got := eval[[]string](t, ctx, `[...document.querySelectorAll("#users tr[data-user]")].map(r => r.dataset.user + " " + r.querySelector("select").value + " " + r.children[2].textContent)`)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: users table vs xhep_users (-db +screen):\n%s", when, diff)
		}
	}
	role := func(name string, want auth.Role) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			u, err := st.UserByName(bg, name)
			if err == nil && u.Role == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in the database: %+v %v, want role %s", name, u, err, want)
			}
		}
	}
	do(t, ctx, "open admin", navigate(srv.URL+"/#admin"))
	waitFor(t, ctx, `document.querySelector("#users tr[data-user=viewer]")`)
	users("first view")
	do(t, ctx, "viewer to operator", selectValue(`#users select[data-user=viewer]`, "operator"))
	role("viewer", auth.Operator)
	waitFor(t, ctx, `document.querySelector("#users select[data-user=viewer]").value === "operator"`)
	users("viewer made operator")
	do(t, ctx, "viewer back to read-only", selectValue(`#users select[data-user=viewer]`, "read-only"))
	role("viewer", auth.ReadOnly)
	waitFor(t, ctx, `document.querySelector("#users select[data-user=viewer]").value === "read-only"`)
	do(t, ctx, "delete tmpuser", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		click(`#users tr[data-user=tmpuser] button`))
	waitFor(t, ctx, `!document.querySelector("#users tr[data-user=tmpuser]")`)
	if _, err := st.UserByName(bg, "tmpuser"); err == nil {
		t.Error("tmpuser still in the database after Delete")
	}
	users("tmpuser deleted")
	screenshot(t, ctx, "users.png")

	// bob: operator by his posixGroup.
	do(t, ctx, "log out", click("#logout"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	uiLogin(t, ctx, "bob", "bob-password-1")
	waitFor(t, ctx, `document.getElementById("whoami").textContent === "bob (operator)"`)
	if !eval[bool](t, ctx, `document.getElementById("navadmin").hidden`) {
		t.Error("admin link shown to an operator")
	}

	// viewer: read-only, refused admin work.
	do(t, ctx, "log out", click("#logout"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	uiLogin(t, ctx, "viewer", "viewer password 1")
	waitFor(t, ctx, `document.getElementById("whoami").textContent === "viewer (read-only)"`)
	do(t, ctx, "open admin", navigate(srv.URL+"/#admin"))
	waitFor(t, ctx, `!document.getElementById("search").hidden`)
	if !eval[bool](t, ctx, `document.getElementById("admin").hidden`) {
		t.Error("admin page shown to a read-only user")
	}
	msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`api("/api/v1/users/root", { method: "PATCH", json: { role: "read-only" } }).then(() => "changed", (e) => e.message)`, chromedp.EvalAwaitPromise))
	if err != nil || msg != "role read-only may not do this (needs admin)" {
		t.Errorf("role change sent by a read-only user: %q %v, want refused", msg, err)
	}
	role("root", auth.Admin)

	// A token made and revoked.
	do(t, ctx, "open settings", navigate(srv.URL+"/#settings"))
	waitFor(t, ctx, `!document.getElementById("settings").hidden && document.querySelector("#tokens tbody")`)
	do(t, ctx, "create token", sendKeys("#tokname", "nightly"), click(`#tokennew button[type=submit]`))
	waitFor(t, ctx, `document.querySelector("#tokens tr[data-token]")`)
	secret := eval[string](t, ctx, `document.getElementById("toksecret").textContent.split("\n")[1]`)
	if u, err := st.TokenUser(bg, secret); err != nil || u.Name != "viewer" {
		t.Fatalf("token on screen %q: owner %+v %v", secret, u, err)
	}
	bearer := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/session", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := bearer(); code != 200 {
		t.Errorf("API with the new token: %d", code)
	}
	screenshot(t, ctx, "settings.png")
	do(t, ctx, "revoke", click(`#tokens tr[data-token] button`))
	waitFor(t, ctx, `!document.querySelector("#tokens tr[data-token]")`)
	if _, err := st.TokenUser(bg, secret); err == nil {
		t.Error("revoked token still accepted by the store")
	}
	if code := bearer(); code != 401 {
		t.Errorf("API with the revoked token: %d, want 401", code)
	}
	if ts, err := st.Tokens(bg, mustUser(t, st, "viewer").ID); err != nil || len(ts) != 0 {
		t.Errorf("viewer's tokens in the database after revoking: %+v %v", ts, err)
	}

	// Password change.
	do(t, ctx, "wrong old password", sendKeys("#pwold", "not it at all"), sendKeys("#pwnew", "viewer password 2"), click(`#pwform button[type=submit]`))
	waitFor(t, ctx, `document.getElementById("pwmsg").textContent !== ""`)
	if msg := eval[string](t, ctx, `document.getElementById("pwmsg").textContent`); msg != "the old password is wrong" {
		t.Errorf("wrong old password: %q", msg)
	}
	do(t, ctx, "change password", clearInput("#pwold"), clearInput("#pwnew"), chromedp.Evaluate[chromedp.Void](`document.getElementById("pwmsg").textContent = ""`),
		sendKeys("#pwold", "viewer password 1"), sendKeys("#pwnew", "viewer password 2"), click(`#pwform button[type=submit]`))
	waitFor(t, ctx, `document.getElementById("pwmsg").textContent !== ""`)
	if msg := eval[string](t, ctx, `document.getElementById("pwmsg").textContent`); msg != "password changed: please log in again" {
		t.Fatalf("password change: %q", msg)
	}
	if _, err := st.Login(bg, "viewer", "viewer password 1"); err == nil {
		t.Error("the old password still logs in")
	}
	if _, err := st.Login(bg, "viewer", "viewer password 2"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	do(t, ctx, "reload", navigate(srv.URL+"/#"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	if msg := loginErr("viewer", "viewer password 1"); msg != "wrong user name or password" {
		t.Errorf("old password on the login form: %q", msg)
	}
	uiLogin(t, ctx, "viewer", "viewer password 2")
	waitFor(t, ctx, `document.getElementById("whoami").textContent === "viewer (read-only)"`)
}

func mustUser(t *testing.T, st *auth.Store, name string) auth.User {
	t.Helper()
	u, err := st.UserByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
