package collector

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/collector/auth"
)

// TestOpenAccounts: the first admin comes only from --admin-password-file
// or $XHEP_ADMIN_PASSWORD, only into an empty account table; without one
// and without any account the collector refuses to start.
func TestOpenAccounts(t *testing.T) {
	dsn := testDSN(t)
	name, root := testDatabase(t, dsn)
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	db, err := openTestDB(dsn, name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	noenv := func(string) string { return "" }
	cfg := Config{HTTP: ":0", MySQL: dsn, Console: ConsoleConfig{Accounts: true}}
	if _, _, err := cfg.OpenAccounts(ctx, db, noenv); err == nil || !strings.Contains(err.Error(), "Console.AdminPasswordFile") {
		t.Fatalf("no account and no password: %v, want a refusal naming --admin-password-file", err)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	cfg.Console.AdminPasswordFile = empty
	if _, _, err := cfg.OpenAccounts(ctx, db, noenv); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty password file: %v", err)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("first admin password\n"), 0o600)
	cfg.Console.AdminPasswordFile, cfg.Console.AdminUser = pw, "noc-admin"
	st, created, err := cfg.OpenAccounts(ctx, db, noenv)
	if err != nil || !created {
		t.Fatalf("first admin from the file: created %v, %v", created, err)
	}
	if u, err := st.Login(ctx, "noc-admin", "first admin password"); err != nil || u.Role != auth.Admin {
		t.Errorf("first admin login: %+v %v", u, err)
	}
	// Again (a restart with the file still given): nothing created.
	if _, created, err := cfg.OpenAccounts(ctx, db, noenv); err != nil || created {
		t.Errorf("restart: created %v, %v", created, err)
	}
	// Accounts exist: no password needed any more.
	cfg.Console.AdminPasswordFile = ""
	if _, _, err := cfg.OpenAccounts(ctx, db, noenv); err != nil {
		t.Errorf("restart without the file: %v", err)
	}
	// The environment works like the file on an empty table.
	name2, _ := testDatabase(t, dsn)
	root.Exec("CREATE DATABASE " + name2)
	db2, _ := openTestDB(dsn, name2)
	defer db2.Close()
	_, created, err = cfg.OpenAccounts(ctx, db2, func(k string) string {
		if k == EnvAdminPassword {
			return "env admin password"
		}
		return ""
	})
	if err != nil || !created {
		t.Errorf("first admin from $%s: created %v, %v", EnvAdminPassword, created, err)
	}
}

func openTestDB(dsn, name string) (*sql.DB, error) {
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	dc.DBName, dc.ParseTime, dc.Loc = name, true, time.UTC
	return sql.Open("mysql", dc.FormatDSN())
}

// TestLoadShareKey: --share-key-file is made (0600, 64 hex digits) when
// missing, then read back unchanged; a short key is refused.
func TestLoadShareKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "share.key")
	cfg := Config{Console: ConsoleConfig{ShareKeyFile: path}}
	k1, err := cfg.LoadShareKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 64 {
		t.Errorf("made key of %d characters, want 64", len(k1))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := cfg.LoadShareKey()
	if err != nil {
		t.Fatal(err)
	}
	if string(k1) != string(k2) {
		t.Errorf("second load %q, want the file's %q", k2, k1)
	}
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, err := cfg.LoadShareKey(); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("short key: %v, want a refusal", err)
	}
	if k, err := (&Config{}).LoadShareKey(); k != nil || err != nil {
		t.Errorf("no file configured: %q, %v; want nil, nil", k, err)
	}
	cfg.Console.ShareKeyFile = filepath.Join(dir, "no", "such", "dir", "key")
	if _, err := cfg.LoadShareKey(); err == nil || !strings.Contains(err.Error(), "Console.ShareKeyFile") {
		t.Errorf("uncreatable file: %v, want an error naming the flag", err)
	}
}
