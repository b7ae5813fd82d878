package api

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/auth"
)

// TestUIAccounts uses the console with accounts in real Chromium and
// checks the screen against the database: the login form (a wrong
// password refused, then the admin in), the admin creating a read-only
// user in the form (then in xhep_users) and the audit table (the same
// entries as xhep_audit), logout, the read-only user's console (no admin
// link, no pcap/text buttons), settings and an API token saved to the
// database, and a saved search made and used from the search form.
func TestUIAccounts(t *testing.T) {
	f := newFixture(t)
	srv, st := accountServer(t, f, false, nil)
	ctx := browser(t)
	bg := context.Background()

	do(t, ctx, "open console", navigate(srv.URL+"/"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	screenshot(t, ctx, "login.png")
	if eval[bool](t, ctx, `document.getElementById("usernav").offsetParent !== null || document.getElementById("search").offsetParent !== null`) {
		t.Error("login page shows the user menu or the search form before a login")
	}
	login := func(user, pw string) { t.Helper(); uiLogin(t, ctx, user, pw) }
	login("root", "not my password")
	waitFor(t, ctx, `document.getElementById("loginerr").textContent !== ""`)
	if msg := eval[string](t, ctx, `document.getElementById("loginerr").textContent`); msg != "wrong user name or password" {
		t.Errorf("login error shown: %q", msg)
	}
	login("root", "root password 1")
	waitFor(t, ctx, `!document.getElementById("search").hidden && document.getElementById("results").dataset.done !== undefined`)
	if who := eval[string](t, ctx, `document.getElementById("whoami").textContent`); who != "root (admin)" {
		t.Errorf("whoami %q, want root (admin)", who)
	}
	if eval[bool](t, ctx, `document.getElementById("navadmin").hidden`) {
		t.Error("admin link hidden for an admin")
	}

	// Admin: create a read-only user through the form.
	do(t, ctx, "open admin", navigate(srv.URL+"/#admin"))
	waitFor(t, ctx, `document.querySelector("#users tr[data-user=root]")`)
	do(t, ctx, "create user", sendKeys("#newname", "viewer"), selectValue("#newrole", "read-only"),
		sendKeys("#newpw", "viewer password"), click(`#usernew button[type=submit]`))
	waitFor(t, ctx, `document.querySelector("#users tr[data-user=viewer]")`)
	u, err := st.UserByName(bg, "viewer")
	if err != nil || u.Role != auth.ReadOnly || u.Source != "local" {
		t.Fatalf("viewer in the database: %+v %v", u, err)
	}
	if role := eval[string](t, ctx, `document.querySelector("#users select[data-user=viewer]").value`); role != "read-only" {
		t.Errorf("viewer's role on screen %q", role)
	}
	// The audit table shows the database's entries, newest first.
	waitFor(t, ctx, `document.querySelector("#audit tr[data-action=user_create]")`)
	gotAudit := eval[[]string](t, ctx, `[...document.querySelectorAll("#audit tbody tr")].map(r => [...r.cells].slice(1, 4).map(c => c.textContent).join(" | "))`)
	entries, err := st.AuditLog(bg, "", 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	var wantAudit []string
	for _, e := range entries {
		wantAudit = append(wantAudit, e.User+" | "+e.Action+" | "+e.Detail)
	}
	// The table was drawn before the user_create reload finished writing
	// nothing further; compare the entries up to what the screen has.
	if len(gotAudit) > len(wantAudit) || !cmp.Equal(gotAudit, wantAudit[len(wantAudit)-len(gotAudit):]) && !cmp.Equal(gotAudit, wantAudit[:len(gotAudit)]) {
		t.Errorf("audit table vs xhep_audit (-db +screen):\n%s", cmp.Diff(wantAudit, gotAudit))
	}
	for _, a := range []string{"login_failed", "login", "search", "user_create"} {
		if !slices.ContainsFunc(gotAudit, func(s string) bool { return strings.Contains(s, " | "+a+" | ") }) {
			t.Errorf("audit table has no %s entry", a)
		}
	}
	// Aliases typed into the admin form land in xhep_aliases; a bad line
	// is refused with the reason on screen.
	do(t, ctx, "bad alias", sendKeys("#aliastext", "10.1.0.0/33=bad"), click(`#aliasform button[type=submit]`))
	waitFor(t, ctx, `document.getElementById("aliasmsg").textContent.includes("alias")`)
	if msg := eval[string](t, ctx, `document.getElementById("aliasmsg").textContent`); !strings.Contains(msg, "10.1.0.0/33") {
		t.Errorf("bad alias message %q", msg)
	}
	do(t, ctx, "aliases", clearInput("#aliastext"), sendKeys("#aliastext", "10.0.0.20=SBC-1\n10.1.0.0/24=carrier-a\n"), click(`#aliasform button[type=submit]`))
	waitFor(t, ctx, `document.getElementById("aliasmsg").textContent === "saved 2 aliases"`)
	as, err := st.Aliases(bg)
	if diff := cmp.Diff([]auth.Alias{{Prefix: "10.0.0.20", Name: "SBC-1"}, {Prefix: "10.1.0.0/24", Name: "carrier-a"}}, as); err != nil || diff != "" {
		t.Errorf("aliases in the database %v (-want +got):\n%s", err, diff)
	}
	screenshot(t, ctx, "admin.png")

	// Log out; the read-only user logs in.
	do(t, ctx, "log out", click("#logout"))
	waitFor(t, ctx, `!document.getElementById("login").hidden`)
	login("viewer", "viewer password")
	waitFor(t, ctx, `document.getElementById("whoami").textContent === "viewer (read-only)"`)
	if !eval[bool](t, ctx, `document.getElementById("navadmin").hidden`) {
		t.Error("admin link shown to a read-only user")
	}
	do(t, ctx, "open call", navigate(srv.URL+"/#"+url.Values{"call": {f.aLeg}}.Encode()))
	waitFor(t, ctx, `document.querySelector("#ladder g.msg")`)
	if !eval[bool](t, ctx, `document.getElementById("pcap").hidden && document.getElementById("text").hidden`) {
		t.Error("pcap/text buttons shown to a read-only user")
	}

	// Settings and a token.
	do(t, ctx, "open settings", navigate(srv.URL+"/#settings"))
	waitFor(t, ctx, `!document.getElementById("settings").hidden && document.querySelector("#tokens tbody")`)
	do(t, ctx, "save settings", sendKeys("#settz", "Europe/Berlin"), sendKeys("#setpage", "50"), click(`#settingsform button[type=submit]`))
	waitFor(t, ctx, `document.getElementById("settingsmsg").textContent === "saved"`)
	u, _ = st.UserByName(bg, "viewer")
	if u.Settings != (auth.Settings{TZ: "Europe/Berlin", PageSize: 50}) {
		t.Errorf("settings in the database %+v", u.Settings)
	}
	do(t, ctx, "create token", sendKeys("#tokname", "cron"), click(`#tokennew button[type=submit]`))
	waitFor(t, ctx, `document.querySelector("#tokens tr[data-token]")`)
	secret := eval[string](t, ctx, `document.getElementById("toksecret").textContent.split("\n")[1]`)
	if tu, err := st.TokenUser(bg, secret); err != nil || tu.Name != "viewer" {
		t.Errorf("token shown on screen %q: owner %+v %v", secret, tu, err)
	}

	// A saved search: typed, saved, in the database, used from the list.
	do(t, ctx, "open search", navigate(srv.URL+"/#"))
	waitFor(t, ctx, `!document.getElementById("search").hidden && !document.getElementById("saved").hidden`)
	if lim := eval[string](t, ctx, `document.querySelector('input[name="limit"]').value`); lim != "50" {
		t.Errorf("limit field %q, want the user's page size 50", lim)
	}
	do(t, ctx, "save search", sendKeys(`input[name="from_user"]`, "1001"), sendKeys("#savename", "from 1001"), click("#savebtn"))
	waitFor(t, ctx, `document.querySelectorAll("#savedlist option").length === 2`)
	ss, err := st.Searches(bg, u.ID)
	if err != nil || len(ss) != 1 || ss[0].Name != "from 1001" || !strings.Contains(ss[0].Query, "from_user=1001") {
		t.Fatalf("saved searches in the database: %+v %v", ss, err)
	}
	do(t, ctx, "clear", click(`button[type=reset]`))
	do(t, ctx, "pick saved", selectValue("#savedlist", itoa(int(ss[0].ID))))
	waitFor(t, ctx, `decodeURIComponent(location.hash).includes("from_user=1001")`)
}

// uiLogin types a user name and password into the login form and submits.
func uiLogin(t *testing.T, ctx context.Context, user, pw string) {
	t.Helper()
	do(t, ctx, "type login", clearInput("#loginuser"), clearInput("#loginpw"),
		sendKeys("#loginuser", user), sendKeys("#loginpw", pw), click(`#loginform button[type=submit]`))
}
