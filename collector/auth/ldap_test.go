package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/collector/auth/authtest"
)

func testLDAP(url string) *LDAP {
	return &LDAP{URL: url, BindDN: authtest.SvcDN, BindPassword: authtest.SvcPW, BaseDN: "ou=people," + authtest.Base,
		GroupBase: "ou=groups," + authtest.Base, Timeout: 5 * time.Second,
		Roles: map[string]Role{
			"noc-admins":                           Admin, // by cn
			"noc":                                  Operator,
			"cn=viewers,ou=groups,dc=xhep,dc=test": ReadOnly, // by DN
		}}
}

// TestLDAPAuthenticate logs users in against a real slapd: roles from
// groupOfNames (by cn and by DN) and posixGroup memberUid, the highest
// winning; wrong passwords, unknown users, filter metacharacters, empty
// passwords and users without a mapped group refused as ErrBadLogin; a
// server that is gone is another error.
func TestLDAPAuthenticate(t *testing.T) {
	s := authtest.Slapd(t)
	l := testLDAP(s.URL)
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pw string
		role           Role
		bad            string // ErrBadLogin with this reason
	}{
		{"admin by cn, beats read-only", "alice", "alice-password-1", Admin, ""},
		{"operator by memberUid", "bob", "bob-password-1", Operator, ""},
		{"read-only by DN", "carol", "carol-password-1", ReadOnly, ""},
		{"no mapped group", "dave", "dave-password-1", "", "maps to a role"},
		{"wrong password", "alice", "bob-password-1", "", "bind refused"},
		{"unknown user", "mallory", "whatever-1234", "", "found 0 entries"},
		{"filter injection", "*)(uid=*", "alice-password-1", "", "found 0 entries"},
		{"wildcard user", "*", "alice-password-1", "", "found 0 entries"},
		{"empty password", "alice", "", "", "empty password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, err := l.Authenticate(ctx, tc.user, tc.pw)
			if tc.bad != "" {
				if !errors.Is(err, ErrBadLogin) || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("got role %q, error %v; want ErrBadLogin (%s)", role, err, tc.bad)
				}
				return
			}
			if err != nil || role != tc.role {
				t.Fatalf("got role %q, error %v; want %q", role, err, tc.role)
			}
		})
	}
	// Anonymous search (no service account) works too on this server.
	anon := testLDAP(s.URL)
	anon.BindDN, anon.BindPassword = "", ""
	if role, err := anon.Authenticate(ctx, "bob", "bob-password-1"); err != nil || role != Operator {
		t.Errorf("anonymous search: role %q, error %v; want operator", role, err)
	}
	bad := testLDAP(s.URL)
	bad.BindPassword = "wrong"
	if _, err := bad.Authenticate(ctx, "bob", "bob-password-1"); err == nil || errors.Is(err, ErrBadLogin) {
		t.Errorf("wrong service password: error %v, want a configuration error (not ErrBadLogin)", err)
	}
	s.Stop()
	if _, err := l.Authenticate(ctx, "alice", "alice-password-1"); err == nil || errors.Is(err, ErrBadLogin) {
		t.Errorf("slapd stopped: error %v, want a dial error (not ErrBadLogin)", err)
	}
}

func TestParseLDAPRoles(t *testing.T) {
	m, err := ParseLDAPRoles([]string{"cn=NOC,ou=groups,dc=x=admin", "viewers=read-only", "ops=readonly"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Role{"cn=noc,ou=groups,dc=x": Admin, "viewers": ReadOnly, "ops": ReadOnly}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", m, want)
	}
	for _, bad := range []string{"nogroup", "=admin", "g=root"} {
		if _, err := ParseLDAPRoles([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
