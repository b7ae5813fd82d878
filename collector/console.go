package collector

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/xhep/xhep/collector/auth"
)

// EnvAdminPassword holds the first admin's password when no
// --admin-password-file is given.
const EnvAdminPassword = "XHEP_ADMIN_PASSWORD"

// ConsoleConfig configures the web console's user accounts (packages
// collector/api and collector/auth).
type ConsoleConfig struct {
	// Accounts turns on user accounts: logins, roles, API tokens, audit log.
	Accounts bool
	// AdminUser and AdminPasswordFile name the first admin, created only
	// when no account exists (the password's first line; or
	// $XHEP_ADMIN_PASSWORD). There is no default password.
	AdminUser         string
	AdminPasswordFile string
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// CookieSecure marks the session cookie Secure on plain HTTP too
	// (behind a TLS proxy).
	CookieSecure bool
	// LDAP login (see auth.LDAP); LDAPURL empty: local accounts only.
	LDAPURL              string
	LDAPStartTLS         bool
	LDAPBindDN           string
	LDAPBindPasswordFile string
	LDAPBaseDN           string
	LDAPUserFilter       string
	LDAPGroupBase        string
	LDAPGroupFilter      string
	LDAPRoles            []string
	// ShareKeyFile holds the key that signs share links, so links survive
	// a restart and several collectors behind one name accept each
	// other's links (LoadShareKey). Empty: a key made at each start.
	ShareKeyFile string
}

// validate checks the console settings of c.
func (c *Config) validateConsole() error {
	k := &c.Console
	var errs []error
	if !k.Accounts {
		if k.AdminPasswordFile != "" || k.LDAPURL != "" {
			errs = append(errs, badSetting(nil, "{Console.AdminPasswordFile} and {Console.LDAPURL} need {Console.Accounts}"))
		}
		return errors.Join(errs...)
	}
	if c.HTTP == "" {
		errs = append(errs, badSetting(nil, "{Console.Accounts} needs {HTTP}"))
	}
	if c.MySQL == "" {
		errs = append(errs, badSetting(nil, "{Console.Accounts} needs {MySQL}: the account tables live in MySQL/MariaDB (not supported with the ClickHouse backend alone)"))
	}
	if k.AdminUser != "" {
		if err := auth.CheckName(k.AdminUser); err != nil {
			errs = append(errs, badSetting(err, "{Console.AdminUser}"))
		}
	}
	if k.SessionTTL < 0 {
		errs = append(errs, badSetting(nil, "negative {Console.SessionTTL}"))
	}
	if k.LDAPURL != "" {
		if _, err := k.ldap(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ldap returns the LDAP configuration (nil without --ldap-url).
func (k *ConsoleConfig) ldap() (*auth.LDAP, error) {
	if k.LDAPURL == "" {
		return nil, nil
	}
	roles, err := auth.ParseLDAPRoles(k.LDAPRoles)
	if err != nil {
		return nil, badSetting(err, "{Console.LDAPRoles}")
	}
	l := &auth.LDAP{URL: k.LDAPURL, StartTLS: k.LDAPStartTLS, BindDN: k.LDAPBindDN, BaseDN: k.LDAPBaseDN,
		UserFilter: k.LDAPUserFilter, GroupBase: k.LDAPGroupBase, GroupFilter: k.LDAPGroupFilter, Roles: roles}
	if k.LDAPBindPasswordFile != "" {
		if l.BindPassword, err = readSecret(k.LDAPBindPasswordFile); err != nil {
			return nil, badSetting(err, "{Console.LDAPBindPasswordFile}")
		}
	}
	if err := l.Check(); err != nil {
		return nil, badSetting(err, "{Console.LDAPURL} and the other LDAP settings")
	}
	return l, nil
}

// OpenAccounts opens the account store on db (the MySQL store's handle)
// and creates the first admin when no account exists yet; it reports
// whether it did. Without any account and no admin password it fails.
// getenv is os.Getenv outside tests.
func (c *Config) OpenAccounts(ctx context.Context, db *sql.DB, getenv func(string) string) (*auth.Store, bool, error) {
	k := &c.Console
	l, err := k.ldap()
	if err != nil {
		return nil, false, err
	}
	st, err := auth.Open(ctx, auth.Config{DB: db, SessionTTL: k.SessionTTL, LDAP: l})
	if err != nil {
		return nil, false, err
	}
	pw := ""
	if k.AdminPasswordFile != "" {
		if pw, err = readSecret(k.AdminPasswordFile); err != nil {
			return nil, false, badSetting(err, "{Console.AdminPasswordFile}")
		}
	} else {
		pw = getenv(EnvAdminPassword)
	}
	name := k.AdminUser
	if name == "" {
		name = "admin"
	}
	if pw == "" {
		has, err := st.HasUsers(ctx)
		if err != nil {
			return nil, false, err
		}
		if !has && l == nil {
			return nil, false, badSetting(nil, "{Console.Accounts}: no account exists yet; give the first admin's password with {Console.AdminPasswordFile} (or $%s)", EnvAdminPassword)
		}
		return st, false, nil
	}
	created, err := st.EnsureAdmin(ctx, name, pw)
	return st, created, err
}

// minShareKey is the shortest share-link key accepted from a file.
const minShareKey = 32

// LoadShareKey returns the share-link key of --share-key-file: the file's
// first line (surrounding whitespace removed, at least 32 characters),
// or, when the file does not exist yet, a new random key (64 hex digits)
// written to it with mode 0600 (created exclusively, so two collectors
// starting at once agree on one key). No file configured: nil (the API
// then makes a key per start).
func (c *Config) LoadShareKey() ([]byte, error) {
	path := c.Console.ShareKeyFile
	if path == "" {
		return nil, nil
	}
	s, err := readSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [32]byte
		rand.Read(k[:])
		s = hex.EncodeToString(k[:])
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return c.LoadShareKey() // another process made it just now
		}
		if err != nil {
			return nil, badSetting(err, "{Console.ShareKeyFile}: creating it")
		}
		_, werr := f.WriteString(s + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			os.Remove(path)
			return nil, badSetting(err, "{Console.ShareKeyFile}: writing it")
		}
		return []byte(s), nil
	}
	if err != nil {
		return nil, badSetting(err, "{Console.ShareKeyFile}")
	}
	if len(s) < minShareKey {
		return nil, badSetting(nil, "{Console.ShareKeyFile}: %s holds %d characters, want at least %d (delete it to have a new one made)", path, len(s), minShareKey)
	}
	return []byte(s), nil
}
