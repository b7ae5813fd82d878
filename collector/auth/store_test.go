package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/auth/authtest"
)

// testDB returns a handle on a fresh database of the test server (dropped
// at cleanup) or skips.
func testDB(t *testing.T) *sql.DB {
	t.Helper()
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var r [4]byte
	rand.Read(r[:])
	name := "xhep_auth_t_" + hex.EncodeToString(r[:])
	dc.DBName = ""
	root, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
		root.Close()
	})
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	dc.DBName, dc.ParseTime, dc.Loc = name, true, time.UTC
	db, err := sql.Open("mysql", dc.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with our parameters", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := checkPassword(h, pw); err != nil || ok != want {
			t.Errorf("check %q: %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=19456,t=2,p=1$!!$AAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := checkPassword(bad, "x"); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestStore(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(ctx, Config{DB: db, SessionTTL: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	// Open again: the tables exist, nothing breaks.
	if _, err := Open(ctx, Config{DB: db, Now: clock}); err != nil {
		t.Fatalf("second Open: %v", err)
	}

	// First admin: only into an empty user table; never a short password.
	if _, err := s.EnsureAdmin(ctx, "root", "short"); !errors.Is(err, ErrInvalid) {
		t.Errorf("first admin with a 5-character password: %v, want ErrInvalid", err)
	}
	if ok, err := s.EnsureAdmin(ctx, "root", "a long admin password"); !ok || err != nil {
		t.Fatalf("first admin: %v %v", ok, err)
	}
	if ok, err := s.EnsureAdmin(ctx, "other", "another long password"); ok || err != nil {
		t.Errorf("second EnsureAdmin: created %v, %v; want nothing done", ok, err)
	}
	if _, err := s.CreateUser(ctx, "op1", Operator, "operator password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "op1", ReadOnly, "operator password"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate user: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "a b", "x'--", strings.Repeat("a", 65)} {
		if _, err := s.CreateUser(ctx, bad, ReadOnly, "long enough pw"); !errors.Is(err, ErrInvalid) {
			t.Errorf("user name %q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := s.CreateUser(ctx, "x", "superuser", "long enough pw"); !errors.Is(err, ErrInvalid) {
		t.Errorf("role superuser: %v, want ErrInvalid", err)
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Name+":"+string(u.Role)+":"+u.Source)
	}
	if diff := cmp.Diff([]string{"op1:operator:local", "root:admin:local"}, got); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}

	// Logins.
	if _, err := s.Login(ctx, "op1", "operator passworD"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := s.Login(ctx, "nobody", "operator password"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("unknown user: %v", err)
	}
	u, err := s.Login(ctx, "op1", "operator password")
	if err != nil || u.Role != Operator {
		t.Fatalf("login op1: %+v %v", u, err)
	}

	// Sessions: the id works until it expires or is ended; only its hash
	// is stored.
	id, csrf, exp, err := s.NewSession(ctx, u)
	if err != nil || len(id) != 43 || len(csrf) != 43 || !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("session %q %q %v %v", id, csrf, exp, err)
	}
	var n int
	db.QueryRow("SELECT COUNT(*) FROM xhep_sessions WHERE id_hash = ? OR csrf = ? AND id_hash = ?", id, "x", id).Scan(&n)
	if n != 0 {
		t.Error("session id stored in the clear")
	}
	su, scsrf, err := s.Session(ctx, id)
	if err != nil || su.Name != "op1" || scsrf != csrf {
		t.Errorf("session lookup: %+v %q %v", su, scsrf, err)
	}
	if _, _, err := s.Session(ctx, id+"x"); !errors.Is(err, ErrNoSession) {
		t.Errorf("wrong session id: %v", err)
	}
	now = now.Add(time.Hour + time.Second)
	if _, _, err := s.Session(ctx, id); !errors.Is(err, ErrNoSession) {
		t.Errorf("expired session: %v", err)
	}
	id2, _, _, _ := s.NewSession(ctx, u)
	if err := s.EndSession(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, id2); !errors.Is(err, ErrNoSession) {
		t.Errorf("ended session: %v", err)
	}
	// A new password ends the user's sessions.
	id3, _, _, _ := s.NewSession(ctx, u)
	if err := s.ChangePassword(ctx, "op1", "operator password", "new operator pw"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(ctx, id3); !errors.Is(err, ErrNoSession) {
		t.Errorf("session after a password change: %v", err)
	}
	if _, err := s.Login(ctx, "op1", "new operator pw"); err != nil {
		t.Errorf("login with the new password: %v", err)
	}

	// API tokens.
	tok, secret, err := s.NewToken(ctx, u.ID, "nightly export")
	if err != nil || !strings.HasPrefix(secret, TokenPrefix) {
		t.Fatalf("token %+v %q %v", tok, secret, err)
	}
	tu, err := s.TokenUser(ctx, secret)
	if err != nil || tu.Name != "op1" {
		t.Errorf("token user %+v %v", tu, err)
	}
	toks, _ := s.Tokens(ctx, u.ID)
	if len(toks) != 1 || toks[0].LastUsed == nil || toks[0].Name != "nightly export" {
		t.Errorf("tokens %+v, want one, used", toks)
	}
	admin, _ := s.UserByName(ctx, "root")
	if err := s.DeleteToken(ctx, admin.ID, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting another user's token: %v, want ErrNotFound", err)
	}
	if err := s.DeleteToken(ctx, u.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, secret); !errors.Is(err, ErrNoSession) {
		t.Errorf("revoked token: %v", err)
	}

	// Settings and saved searches.
	if err := s.SetSettings(ctx, u.ID, Settings{TZ: "Europe/Berlin", PageSize: 50}); err != nil {
		t.Fatal(err)
	}
	u2, _ := s.UserByName(ctx, "op1")
	if u2.Settings != (Settings{TZ: "Europe/Berlin", PageSize: 50}) {
		t.Errorf("settings %+v", u2.Settings)
	}
	if _, err := s.SaveSearch(ctx, u.ID, "trunk A fails", "what=calls&status=503"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveSearch(ctx, u.ID, "trunk A fails", "what=calls&status=502"); err != nil {
		t.Fatal(err)
	}
	ss, _ := s.Searches(ctx, u.ID)
	if len(ss) != 1 || ss[0].Query != "what=calls&status=502" {
		t.Errorf("saved searches %+v, want the replaced one", ss)
	}
	if err := s.DeleteSearch(ctx, admin.ID, ss[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting another user's search: %v", err)
	}

	// Admin changes: the last admin stays one.
	ro := ReadOnly
	if err := s.UpdateUser(ctx, "root", &ro, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("demoting the last admin: %v", err)
	}
	if err := s.DeleteUser(ctx, "root"); !errors.Is(err, ErrInvalid) {
		t.Errorf("deleting the last admin: %v", err)
	}
	if err := s.UpdateUser(ctx, "op1", &ro, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "op1"); err != nil {
		t.Fatal(err)
	}
	db.QueryRow("SELECT COUNT(*) FROM xhep_searches").Scan(&n)
	if n != 0 {
		t.Errorf("%d saved searches left after deleting their user", n)
	}

	// Aliases: replaced as a whole.
	if err := s.SetAliases(ctx, []Alias{{"10.1.0.0/24", "carrier-a"}, {"192.0.2.7", "SBC-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAliases(ctx, []Alias{{"192.0.2.7", "SBC-1"}, {"2001:db8::/32", "v6-core"}}); err != nil {
		t.Fatal(err)
	}
	as, err := s.Aliases(ctx)
	if diff := cmp.Diff([]Alias{{"192.0.2.7", "SBC-1"}, {"2001:db8::/32", "v6-core"}}, as); err != nil || diff != "" {
		t.Errorf("aliases %v (-want +got):\n%s", err, diff)
	}

	// Audit log.
	for _, a := range []string{"login", "search", "pcap"} {
		if err := s.Audit(ctx, Entry{User: "root", Action: a, Detail: "d-" + a, Remote: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	log, err := s.AuditLog(ctx, "root", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Action != "pcap" || log[1].Action != "search" || !log[0].Time.Equal(now) {
		t.Errorf("audit log %+v", log)
	}
	older, _ := s.AuditLog(ctx, "", log[1].ID, 10)
	if len(older) != 1 || older[0].Action != "login" {
		t.Errorf("older audit entries %+v", older)
	}
}

// TestStoreLDAP logs in through the store against a real slapd: the LDAP
// user is created with its groups' role on first login; a local account
// of the same name wins over LDAP.
func TestStoreLDAP(t *testing.T) {
	sl := authtest.Slapd(t)
	db := testDB(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{DB: db, LDAP: testLDAP(sl.URL)})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Login(ctx, "bob", "bob-password-1")
	if err != nil || u.Role != Operator || u.Source != "ldap" || u.ID == 0 {
		t.Fatalf("LDAP login bob: %+v %v", u, err)
	}
	again, err := s.Login(ctx, "bob", "bob-password-1")
	if err != nil || again.ID != u.ID {
		t.Errorf("second LDAP login: %+v %v", again, err)
	}
	if _, err := s.Login(ctx, "bob", "wrong-password"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("LDAP wrong password: %v", err)
	}
	if _, err := s.Login(ctx, "dave", "dave-password-1"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("LDAP user without a role: %v", err)
	}
	if _, err := s.CreateUser(ctx, "alice", ReadOnly, "local alice password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "alice-password-1"); !errors.Is(err, ErrBadLogin) {
		t.Errorf("local alice with her LDAP password: %v, want refused (local account wins)", err)
	}
	if u, err := s.Login(ctx, "alice", "local alice password"); err != nil || u.Role != ReadOnly {
		t.Errorf("local alice: %+v %v", u, err)
	}
}
