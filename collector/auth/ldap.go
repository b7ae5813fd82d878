package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAP authenticates against an LDAP server or Active Directory: find the
// user's entry (with the service account of BindDN, or anonymously), bind
// as that entry with the password, then map the user's groups to a role.
// Groups are the user entry's memberOf values and the entries under
// GroupBase matching GroupFilter. The highest role any group maps to wins;
// a user in no mapped group cannot log in.
type LDAP struct {
	// URL is ldap://HOST:PORT or ldaps://HOST:PORT.
	URL string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// TLS is the client TLS config for ldaps:// and StartTLS (nil: system
	// roots, the URL's host name).
	TLS *tls.Config
	// BindDN and BindPassword are the service account that searches
	// (empty: anonymous search).
	BindDN, BindPassword string
	// BaseDN is where users are searched. Required.
	BaseDN string
	// UserFilter finds a user; {user} is the escaped login name (default
	// "(|(uid={user})(sAMAccountName={user}))").
	UserFilter string
	// GroupBase is where groups are searched (default BaseDN).
	GroupBase string
	// GroupFilter finds a user's groups; {dn} is the user's escaped DN and
	// {user} the login name (default
	// "(|(member={dn})(uniqueMember={dn})(memberUid={user}))").
	GroupFilter string
	// Roles maps a group (its full DN or its cn, any case) to a role.
	Roles map[string]Role
	// Timeout bounds the dial and each operation (default 10s).
	Timeout time.Duration
}

// ParseLDAPRoles reads GROUP=ROLE entries (group a DN or cn).
func ParseLDAPRoles(entries []string) (map[string]Role, error) {
	m := map[string]Role{}
	for _, e := range entries {
		i := strings.LastIndex(e, "=")
		if i <= 0 {
			return nil, fmt.Errorf("%w: LDAP role %q: want GROUP=ROLE", ErrInvalid, e)
		}
		r, err := ParseRole(e[i+1:])
		if err != nil {
			return nil, err
		}
		m[strings.ToLower(strings.TrimSpace(e[:i]))] = r
	}
	return m, nil
}

func (l *LDAP) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return 10 * time.Second
}

func (l *LDAP) dial(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: l.timeout()}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if l.TLS != nil {
		opts = append(opts, ldap.DialWithTLSConfig(l.TLS))
	}
	c, err := ldap.DialURL(l.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial LDAP %s: %w", l.URL, err)
	}
	c.SetTimeout(l.timeout())
	if l.StartTLS {
		cfg := l.TLS
		if cfg == nil {
			host := strings.TrimPrefix(strings.TrimPrefix(l.URL, "ldap://"), "ldaps://")
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			c.Close()
			return nil, fmt.Errorf("LDAP StartTLS: %w", err)
		}
	}
	return c, nil
}

// Authenticate checks name and password against the directory and returns
// the role of the user's groups. Wrong credentials, an unknown user and a
// user without a mapped group are ErrBadLogin (wrapped with the reason);
// a server that cannot be reached is another error.
func (l *LDAP) Authenticate(ctx context.Context, name, password string) (Role, error) {
	if password == "" {
		// An empty password would be an unauthenticated bind (RFC 4513
		// 5.1.2), which many servers accept.
		return "", fmt.Errorf("%w: empty password", ErrBadLogin)
	}
	c, err := l.dial(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if l.BindDN != "" {
		if err := c.Bind(l.BindDN, l.BindPassword); err != nil {
			return "", fmt.Errorf("LDAP service bind as %s: %w", l.BindDN, err)
		}
	}
	filter := l.UserFilter
	if filter == "" {
		filter = "(|(uid={user})(sAMAccountName={user}))"
	}
	filter = strings.ReplaceAll(filter, "{user}", ldap.EscapeFilter(name))
	secs := int(l.timeout() / time.Second)
	res, err := c.Search(ldap.NewSearchRequest(l.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, secs, false,
		filter, []string{"dn", "memberOf"}, nil))
	if err != nil {
		return "", fmt.Errorf("LDAP user search: %w", err)
	}
	if len(res.Entries) != 1 {
		return "", fmt.Errorf("%w: LDAP user search found %d entries", ErrBadLogin, len(res.Entries))
	}
	user := res.Entries[0]
	if err := c.Bind(user.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return "", fmt.Errorf("%w: LDAP bind refused", ErrBadLogin)
		}
		return "", fmt.Errorf("LDAP bind as %s: %w", user.DN, err)
	}
	groups := map[string]bool{}
	for _, g := range user.GetAttributeValues("memberOf") {
		groups[strings.ToLower(g)] = true
	}
	// Search groups as the service account again (the user may not read them).
	if l.BindDN != "" {
		if err := c.Bind(l.BindDN, l.BindPassword); err != nil {
			return "", fmt.Errorf("LDAP service bind as %s: %w", l.BindDN, err)
		}
	}
	gf := l.GroupFilter
	if gf == "" {
		gf = "(|(member={dn})(uniqueMember={dn})(memberUid={user}))"
	}
	gf = strings.ReplaceAll(strings.ReplaceAll(gf, "{dn}", ldap.EscapeFilter(user.DN)), "{user}", ldap.EscapeFilter(name))
	base := l.GroupBase
	if base == "" {
		base = l.BaseDN
	}
	gres, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1000, secs, false,
		gf, []string{"dn", "cn"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return "", fmt.Errorf("LDAP group search: %w", err)
	}
	if gres != nil {
		for _, g := range gres.Entries {
			groups[strings.ToLower(g.DN)] = true
		}
	}
	best := Role("")
	for g := range groups {
		cn := ""
		if dn, err := ldap.ParseDN(g); err == nil && len(dn.RDNs) > 0 && len(dn.RDNs[0].Attributes) > 0 && strings.EqualFold(dn.RDNs[0].Attributes[0].Type, "cn") {
			cn = strings.ToLower(dn.RDNs[0].Attributes[0].Value)
		}
		for _, key := range []string{g, cn} {
			if r, ok := l.Roles[key]; ok && key != "" && r.rank() > best.rank() {
				best = r
			}
		}
	}
	if !best.Valid() {
		return "", fmt.Errorf("%w: none of the user's %d LDAP groups maps to a role", ErrBadLogin, len(groups))
	}
	return best, nil
}

// errLDAP marks configuration errors of an LDAP setup.
var errLDAP = errors.New("ldap config")

// Check validates the configuration.
func (l *LDAP) Check() error {
	if !strings.HasPrefix(l.URL, "ldap://") && !strings.HasPrefix(l.URL, "ldaps://") {
		return fmt.Errorf("%w: URL %q: want ldap://HOST:PORT or ldaps://HOST:PORT", errLDAP, l.URL)
	}
	if l.BaseDN == "" {
		return fmt.Errorf("%w: base DN is required", errLDAP)
	}
	if len(l.Roles) == 0 {
		return fmt.Errorf("%w: no group maps to a role (--ldap-role GROUP=ROLE)", errLDAP)
	}
	return nil
}
