// Package authtest starts a real OpenLDAP slapd for tests of LDAP logins
// (collector/auth and the console's browser tests in collector/api).
package authtest

import (
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

// The directory Slapd makes: base DN, its root and a service account that
// searches. Users alice, bob, carol and dave under ou=people have the
// password "<name>-password-1"; groups under ou=groups: noc-admins
// (groupOfNames: alice), viewers (alice, carol), noc (posixGroup
// memberUid bob), sales (dave).
const (
	Base   = "dc=xhep,dc=test"
	RootDN = "cn=admin,dc=xhep,dc=test"
	RootPW = "root-secret-1"
	SvcDN  = "cn=svc,dc=xhep,dc=test"
	SvcPW  = "svc-secret-22"
)

// Server is an OpenLDAP slapd the test started: its own config and
// database in a temporary directory, listening on a free loopback port.
type Server struct {
	URL string // ldap://127.0.0.1:PORT
	cmd *exec.Cmd
}

// Slapd starts Debian's slapd (package slapd) with a fresh mdb
// database for dc=xhep,dc=test, fills it with users and groups, and stops
// it (removing its files) at cleanup. It skips without slapd.
func Slapd(t testing.TB) *Server {
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
`, dir, Base, RootDN, RootPW, db)
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
	s := &Server{URL: url, cmd: cmd}
	t.Cleanup(s.Stop)
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
	if err := c.Bind(RootDN, RootPW); err != nil {
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
	add(Base, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"xhep"}, "o": {"xhep test"}})
	add("ou=people,"+Base, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	add("ou=groups,"+Base, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	add(SvcDN, map[string][]string{"objectClass": {"person"}, "cn": {"svc"}, "sn": {"svc"}, "userPassword": {SvcPW}})
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		add("uid="+u+",ou=people,"+Base, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {u}, "cn": {u}, "sn": {u},
			"userPassword": {u + "-password-1"}})
	}
	people := func(us ...string) []string {
		var out []string
		for _, u := range us {
			out = append(out, "uid="+u+",ou=people,"+Base)
		}
		return out
	}
	add("cn=noc-admins,ou=groups,"+Base, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"noc-admins"}, "member": people("alice")})
	add("cn=viewers,ou=groups,"+Base, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"viewers"}, "member": people("alice", "carol")})
	add("cn=noc,ou=groups,"+Base, map[string][]string{"objectClass": {"posixGroup"}, "cn": {"noc"}, "gidNumber": {"5000"}, "memberUid": {"bob"}})
	add("cn=sales,ou=groups,"+Base, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"sales"}, "member": people("dave")})
	return s
}

// Stop kills slapd (idempotent; also at cleanup).
func (s *Server) Stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}
