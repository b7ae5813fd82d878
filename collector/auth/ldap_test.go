package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

const (
	ldapBase   = "dc=xhep,dc=test"
	ldapRootDN = "cn=admin,dc=xhep,dc=test"
	ldapRootPW = "root-secret-1"
	ldapSvcDN  = "cn=svc,dc=xhep,dc=test"
	ldapSvcPW  = "svc-secret-22"
)

// slapdServer is an OpenLDAP slapd the test started: its own config and
// database in a temporary directory, listening on a free loopback port.
type slapdServer struct {
	url string
	cmd *exec.Cmd
}

// startSlapd starts Debian's slapd (package slapd) with a fresh mdb
// database for dc=xhep,dc=test, fills it with users and groups, and stops
// it (removing its files) at cleanup. It skips without slapd.
func startSlapd(t *testing.T) *slapdServer {
	t.Helper()
	bin, err := exec.LookPath("slapd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/slapd"); err != nil {
			t.Skip("no slapd (Debian package slapd, scripts/deps.sh): the LDAP login test needs a real OpenLDAP server")
		}
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
access to attrs=userPassword by self auth by anonymous auth by * none
access to * by * read
database mdb
maxsize 10485760
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[5]s
`, dir, ldapBase, ldapRootDN, ldapRootPW, db)
	cf := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// A free port: bind :0, note it, release it for slapd.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "ldap://" + addr
	cmd := exec.Command(bin, "-d", "0", "-f", cf, "-h", url+"/")
	var logb strings.Builder
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	s := &slapdServer{url: url, cmd: cmd}
	t.Cleanup(s.stop)
	var c *ldap.Conn
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err = ldap.DialURL(url); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not answer on %s: %v\n%s", url, err, logb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer c.Close()
	if err := c.Bind(ldapRootDN, ldapRootPW); err != nil {
		t.Fatalf("bind as root: %v", err)
	}
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(ldapBase, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"xhep"}, "o": {"xhep test"}})
	add("ou=people,"+ldapBase, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	add("ou=groups,"+ldapBase, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	add(ldapSvcDN, map[string][]string{"objectClass": {"person"}, "cn": {"svc"}, "sn": {"svc"}, "userPassword": {ldapSvcPW}})
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		add("uid="+u+",ou=people,"+ldapBase, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {u}, "sn": {u},
			"userPassword": {u + "-password-1"}})
	}
	people := func(us ...string) []string {
		var out []string
		for _, u := range us {
			out = append(out, "uid="+u+",ou=people,"+ldapBase)
		}
		return out
	}
	add("cn=noc-admins,ou=groups,"+ldapBase, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"noc-admins"}, "member": people("alice")})
	add("cn=viewers,ou=groups,"+ldapBase, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"viewers"}, "member": people("alice", "carol")})
	add("cn=noc,ou=groups,"+ldapBase, map[string][]string{"objectClass": {"posixGroup"}, "cn": {"noc"}, "gidNumber": {"5000"}, "memberUid": {"bob"}})
	add("cn=sales,ou=groups,"+ldapBase, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"sales"}, "member": people("dave")})
	return s
}

func (s *slapdServer) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func testLDAP(url string) *LDAP {
	return &LDAP{URL: url, BindDN: ldapSvcDN, BindPassword: ldapSvcPW, BaseDN: "ou=people," + ldapBase,
		GroupBase: "ou=groups," + ldapBase, Timeout: 5 * time.Second,
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
	s := startSlapd(t)
	l := testLDAP(s.url)
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
	anon := testLDAP(s.url)
	anon.BindDN, anon.BindPassword = "", ""
	if role, err := anon.Authenticate(ctx, "bob", "bob-password-1"); err != nil || role != Operator {
		t.Errorf("anonymous search: role %q, error %v; want operator", role, err)
	}
	bad := testLDAP(s.url)
	bad.BindPassword = "wrong"
	if _, err := bad.Authenticate(ctx, "bob", "bob-password-1"); err == nil || errors.Is(err, ErrBadLogin) {
		t.Errorf("wrong service password: error %v, want a configuration error (not ErrBadLogin)", err)
	}
	s.stop()
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
