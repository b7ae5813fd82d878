package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what a user may do. Each role may do everything of the roles
// before it.
type Role string

const (
	// ReadOnly searches and views calls, keeps its own settings.
	ReadOnly Role = "read-only"
	// Operator also exports pcap and text, saves searches and makes share
	// links.
	Operator Role = "operator"
	// Admin also manages users, aliases and reads the audit log.
	Admin Role = "admin"
)

// rank orders roles; 0 is no role.
func (r Role) rank() int {
	switch r {
	case ReadOnly:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r may do what need needs.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

// ParseRole reads "admin", "operator" or "read-only" (also "readonly").
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Operator, ReadOnly:
		return r, nil
	case "readonly":
		return ReadOnly, nil
	}
	return "", fmt.Errorf("%w: role %q (want admin, operator or read-only)", ErrInvalid, s)
}

// Errors callers test with errors.Is.
var (
	ErrBadLogin  = errors.New("wrong user name or password")
	ErrNoSession = errors.New("no such session (expired or logged out)")
	ErrNotFound  = errors.New("not found")
	ErrExists    = errors.New("already exists")
	ErrInvalid   = errors.New("invalid")
)

// Settings are a user's console preferences.
type Settings struct {
	// TZ is an IANA time zone name for display and input ("" = UTC).
	TZ string `json:"tz"`
	// PageSize is the search page size (0 = the console's default).
	PageSize int `json:"page_size"`
}

// User is an account.
type User struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Source   string    `json:"source"` // "local" or "ldap"
	Created  time.Time `json:"created"`
	Settings Settings  `json:"settings"`
}

// Token is a user's API token (its secret is shown once, at creation).
type Token struct {
	ID       int64      `json:"id"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// SavedSearch is a named search query (the console's query string).
type SavedSearch struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Query   string    `json:"query"`
	Created time.Time `json:"created"`
}

// Entry is one audit log record.
type Entry struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	User   string    `json:"user"`   // "" for anonymous (a failed login names the attempted user in Detail)
	Action string    `json:"action"` // login, login_failed, logout, search, flow, pcap, text, user_create, ...
	Detail string    `json:"detail"`
	Remote string    `json:"remote"`
}

// Config configures a [Store].
type Config struct {
	// DB is a MySQL/MariaDB handle on the collector's database
	// (parseTime=true, loc=UTC). Required.
	DB *sql.DB
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// LDAP, when set, authenticates users that are not local accounts.
	LDAP *LDAP
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store keeps users, sessions, API tokens, settings, saved searches and the
// audit log in tables beside the captured data (xhep_users, xhep_sessions,
// xhep_tokens, xhep_searches, xhep_audit). Secrets (session ids, API
// tokens) are stored only as SHA-256 hashes, passwords as argon2id hashes.
// Safe for concurrent use.
type Store struct {
	cfg   Config
	dummy string // a hash checked for unknown users, so they take as long
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS xhep_users (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		name VARCHAR(64) NOT NULL,
		role VARCHAR(16) NOT NULL,
		source VARCHAR(8) NOT NULL DEFAULT 'local',
		pass_hash VARCHAR(255) NULL,
		settings JSON NULL,
		created DATETIME(6) NOT NULL,
		UNIQUE KEY name (name)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	`CREATE TABLE IF NOT EXISTS xhep_sessions (
		id_hash BINARY(32) NOT NULL PRIMARY KEY,
		user_id BIGINT UNSIGNED NOT NULL,
		csrf CHAR(43) NOT NULL,
		created DATETIME(6) NOT NULL,
		expires DATETIME(6) NOT NULL,
		KEY expires (expires),
		CONSTRAINT xhep_sessions_user FOREIGN KEY (user_id) REFERENCES xhep_users (id) ON DELETE CASCADE
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS xhep_tokens (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		user_id BIGINT UNSIGNED NOT NULL,
		name VARCHAR(64) NOT NULL,
		hash BINARY(32) NOT NULL,
		created DATETIME(6) NOT NULL,
		last_used DATETIME(6) NULL,
		UNIQUE KEY hash (hash),
		CONSTRAINT xhep_tokens_user FOREIGN KEY (user_id) REFERENCES xhep_users (id) ON DELETE CASCADE
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	`CREATE TABLE IF NOT EXISTS xhep_searches (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		user_id BIGINT UNSIGNED NOT NULL,
		name VARCHAR(64) NOT NULL,
		query TEXT NOT NULL,
		created DATETIME(6) NOT NULL,
		UNIQUE KEY user_name (user_id, name),
		CONSTRAINT xhep_searches_user FOREIGN KEY (user_id) REFERENCES xhep_users (id) ON DELETE CASCADE
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	`CREATE TABLE IF NOT EXISTS xhep_aliases (
		prefix VARCHAR(64) NOT NULL PRIMARY KEY,
		name VARCHAR(64) NOT NULL
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	`CREATE TABLE IF NOT EXISTS xhep_audit (
		id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
		ts DATETIME(6) NOT NULL,
		user VARCHAR(64) NOT NULL,
		action VARCHAR(32) NOT NULL,
		detail TEXT NOT NULL,
		remote VARCHAR(64) NOT NULL,
		KEY ts (ts),
		KEY user_ts (user, ts)
	) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
}

// Open creates the account tables if needed and returns a Store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, fmt.Errorf("%w: auth config: DB is nil", ErrInvalid)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, q := range schema {
		if _, err := cfg.DB.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("create account tables: %w", err)
		}
	}
	dummy, err := HashPassword("no such user")
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, dummy: dummy}, nil
}

// LDAPEnabled reports whether LDAP logins are configured.
func (s *Store) LDAPEnabled() bool { return s.cfg.LDAP != nil }

// SessionTTL is how long a login lasts.
func (s *Store) SessionTTL() time.Duration { return s.cfg.SessionTTL }

func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CheckName validates a user name: 1-64 letters, digits and "._@-",
// starting with a letter or digit.
func CheckName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w: user name %q (1-64 letters, digits and ._@-)", ErrInvalid, name)
	}
	return nil
}

// MinPassword is the shortest password accepted for a local account.
const MinPassword = 10

func checkPasswordPolicy(pw string) error {
	if utf8.RuneCountInString(pw) < MinPassword {
		return fmt.Errorf("%w: password shorter than %d characters", ErrInvalid, MinPassword)
	}
	if len(pw) > 1024 {
		return fmt.Errorf("%w: password longer than 1024 bytes", ErrInvalid)
	}
	return nil
}

// CreateUser adds a local account.
func (s *Store) CreateUser(ctx context.Context, name string, role Role, password string) (User, error) {
	if err := CheckName(name); err != nil {
		return User{}, err
	}
	if !role.Valid() {
		return User{}, fmt.Errorf("%w: role %q", ErrInvalid, role)
	}
	if err := checkPasswordPolicy(password); err != nil {
		return User{}, err
	}
	h, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	return s.insertUser(ctx, name, role, "local", &h)
}

func (s *Store) insertUser(ctx context.Context, name string, role Role, source string, hash *string) (User, error) {
	u := User{Name: name, Role: role, Source: source, Created: s.now()}
	res, err := s.cfg.DB.ExecContext(ctx, "INSERT INTO xhep_users (name, role, source, pass_hash, created) VALUES (?, ?, ?, ?, ?)",
		name, string(role), source, hash, u.Created)
	if err != nil {
		if isDuplicate(err) {
			return User{}, fmt.Errorf("user %q: %w", name, ErrExists)
		}
		return User{}, fmt.Errorf("create user: %w", err)
	}
	u.ID, _ = res.LastInsertId()
	return u, nil
}

// isDuplicate reports a MySQL duplicate-key error (1062).
func isDuplicate(err error) bool { return strings.Contains(err.Error(), "Error 1062") }

// EnsureAdmin creates the first admin when there are no users at all; it
// reports whether it did. With users present it changes nothing, so the
// flag or file that names the first admin can stay in place.
func (s *Store) EnsureAdmin(ctx context.Context, name, password string) (bool, error) {
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM xhep_users").Scan(&n); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := s.CreateUser(ctx, name, Admin, password); err != nil {
		return false, fmt.Errorf("first admin: %w", err)
	}
	return true, nil
}

// HasUsers reports whether any account exists.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM xhep_users").Scan(&n); err != nil {
		return false, fmt.Errorf("count users: %w", err)
	}
	return n > 0, nil
}

const userCols = "id, name, role, source, created, COALESCE(settings, '{}')"

func scanUser(row interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var role, settings string
	if err := row.Scan(append([]any{&u.ID, &u.Name, &role, &u.Source, &u.Created, &settings}, extra...)...); err != nil {
		return u, err
	}
	u.Role = Role(role)
	u.Created = u.Created.UTC()
	_ = json.Unmarshal([]byte(settings), &u.Settings)
	return u, nil
}

// Users lists the accounts by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, "SELECT "+userCols+" FROM xhep_users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UserByName returns the account called name.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.cfg.DB.QueryRowContext(ctx, "SELECT "+userCols+" FROM xhep_users WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	return u, err
}

// UpdateUser changes a user's role and/or password (nil: unchanged). A
// password makes an LDAP account local. The last admin cannot lose the
// role.
func (s *Store) UpdateUser(ctx context.Context, name string, role *Role, password *string) error {
	u, err := s.UserByName(ctx, name)
	if err != nil {
		return err
	}
	if role != nil {
		if !role.Valid() {
			return fmt.Errorf("%w: role %q", ErrInvalid, *role)
		}
		if u.Role == Admin && *role != Admin {
			if err := s.keepAnAdmin(ctx); err != nil {
				return err
			}
		}
		if _, err := s.cfg.DB.ExecContext(ctx, "UPDATE xhep_users SET role = ? WHERE id = ?", string(*role), u.ID); err != nil {
			return fmt.Errorf("update role: %w", err)
		}
	}
	if password != nil {
		if err := checkPasswordPolicy(*password); err != nil {
			return err
		}
		h, err := HashPassword(*password)
		if err != nil {
			return err
		}
		if _, err := s.cfg.DB.ExecContext(ctx, "UPDATE xhep_users SET pass_hash = ?, source = 'local' WHERE id = ?", h, u.ID); err != nil {
			return fmt.Errorf("update password: %w", err)
		}
		// A new password ends the user's other sessions.
		if _, err := s.cfg.DB.ExecContext(ctx, "DELETE FROM xhep_sessions WHERE user_id = ?", u.ID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
	}
	return nil
}

func (s *Store) keepAnAdmin(ctx context.Context) error {
	var n int
	if err := s.cfg.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM xhep_users WHERE role = 'admin'").Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n <= 1 {
		return fmt.Errorf("%w: the last admin keeps the admin role", ErrInvalid)
	}
	return nil
}

// DeleteUser removes an account with its sessions, tokens and searches.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	u, err := s.UserByName(ctx, name)
	if err != nil {
		return err
	}
	if u.Role == Admin {
		if err := s.keepAnAdmin(ctx); err != nil {
			return err
		}
	}
	if _, err := s.cfg.DB.ExecContext(ctx, "DELETE FROM xhep_users WHERE id = ?", u.ID); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// Login checks a user name and password: a local account's argon2id hash,
// else (no local account, LDAP configured) an LDAP bind, which creates or
// updates the LDAP account with the role its groups map to. Every failure
// is ErrBadLogin (wrapped with the reason for the audit log); the message
// shown to the client must not tell which part was wrong.
func (s *Store) Login(ctx context.Context, name, password string) (User, error) {
	if CheckName(name) != nil || password == "" || len(password) > 1024 {
		checkPassword(s.dummy, password)
		return User{}, fmt.Errorf("%w: malformed", ErrBadLogin)
	}
	var hash sql.NullString
	u, err := scanUser(s.cfg.DB.QueryRowContext(ctx, "SELECT "+userCols+", pass_hash FROM xhep_users WHERE name = ?", name), &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		u = User{}
	case err != nil:
		return User{}, fmt.Errorf("look up user: %w", err)
	}
	if u.ID != 0 && u.Source == "local" {
		ok, err := checkPassword(hash.String, password)
		if err != nil || !ok {
			return User{}, fmt.Errorf("%w: wrong password", ErrBadLogin)
		}
		return u, nil
	}
	if s.cfg.LDAP == nil {
		checkPassword(s.dummy, password)
		return User{}, fmt.Errorf("%w: no such user", ErrBadLogin)
	}
	role, err := s.cfg.LDAP.Authenticate(ctx, name, password)
	if err != nil {
		return User{}, err
	}
	if u.ID == 0 {
		return s.insertUser(ctx, name, role, "ldap", nil)
	}
	if u.Role != role {
		if _, err := s.cfg.DB.ExecContext(ctx, "UPDATE xhep_users SET role = ? WHERE id = ?", string(role), u.ID); err != nil {
			return User{}, fmt.Errorf("update role: %w", err)
		}
		u.Role = role
	}
	return u, nil
}

// ChangePassword sets a local user's password after checking the old one.
func (s *Store) ChangePassword(ctx context.Context, name, old, password string) error {
	u, err := s.Login(ctx, name, old)
	if err != nil {
		return err
	}
	if u.Source != "local" {
		return fmt.Errorf("%w: an LDAP account's password is changed in the directory", ErrInvalid)
	}
	return s.UpdateUser(ctx, name, nil, &password)
}

// secret returns 32 random bytes, URL-safe base64 (43 characters).
func secret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// NewSession starts a login session for u and returns its id (the
// cookie's value), its CSRF token and when it expires.
func (s *Store) NewSession(ctx context.Context, u User) (id, csrf string, expires time.Time, err error) {
	if id, err = secret(); err != nil {
		return
	}
	if csrf, err = secret(); err != nil {
		return
	}
	now := s.now()
	expires = now.Add(s.cfg.SessionTTL)
	if _, err = s.cfg.DB.ExecContext(ctx, "INSERT INTO xhep_sessions (id_hash, user_id, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
		hashOf(id), u.ID, csrf, now, expires); err != nil {
		err = fmt.Errorf("create session: %w", err)
		return
	}
	// Expired sessions go now and then (here: at each login).
	s.cfg.DB.ExecContext(ctx, "DELETE FROM xhep_sessions WHERE expires < ?", now)
	return
}

// Session returns the user and CSRF token of a live session.
func (s *Store) Session(ctx context.Context, id string) (User, string, error) {
	if id == "" || len(id) > 64 {
		return User{}, "", ErrNoSession
	}
	var csrf string
	u, err := scanUser(s.cfg.DB.QueryRowContext(ctx, "SELECT u.id, u.name, u.role, u.source, u.created, COALESCE(u.settings, '{}'), s.csrf "+
		"FROM xhep_sessions s JOIN xhep_users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires > ?", hashOf(id), s.now()), &csrf)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNoSession
	}
	if err != nil {
		return User{}, "", fmt.Errorf("look up session: %w", err)
	}
	return u, csrf, nil
}

// EndSession logs a session out.
func (s *Store) EndSession(ctx context.Context, id string) error {
	if _, err := s.cfg.DB.ExecContext(ctx, "DELETE FROM xhep_sessions WHERE id_hash = ?", hashOf(id)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// TokenPrefix starts every API token, so they are recognisable in scripts
// and secret scanners.
const TokenPrefix = "xhep_"

// NewToken creates an API token for user uid and returns its secret (shown
// once; only its hash is kept).
func (s *Store) NewToken(ctx context.Context, uid int64, name string) (Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return Token{}, "", fmt.Errorf("%w: token name must have 1-64 characters", ErrInvalid)
	}
	sec, err := secret()
	if err != nil {
		return Token{}, "", err
	}
	sec = TokenPrefix + sec
	t := Token{Name: name, Created: s.now()}
	res, err := s.cfg.DB.ExecContext(ctx, "INSERT INTO xhep_tokens (user_id, name, hash, created) VALUES (?, ?, ?, ?)", uid, name, hashOf(sec), t.Created)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	t.ID, _ = res.LastInsertId()
	return t, sec, nil
}

// Tokens lists user uid's API tokens.
func (s *Store) Tokens(ctx context.Context, uid int64) ([]Token, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, "SELECT id, name, created, last_used FROM xhep_tokens WHERE user_id = ? ORDER BY id", uid)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		var last sql.NullTime
		if err := rows.Scan(&t.ID, &t.Name, &t.Created, &last); err != nil {
			return nil, fmt.Errorf("scan token: %w", err)
		}
		t.Created = t.Created.UTC()
		if last.Valid {
			lu := last.Time.UTC()
			t.LastUsed = &lu
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteToken revokes user uid's token id.
func (s *Store) DeleteToken(ctx context.Context, uid, id int64) error {
	res, err := s.cfg.DB.ExecContext(ctx, "DELETE FROM xhep_tokens WHERE id = ? AND user_id = ?", id, uid)
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %d: %w", id, ErrNotFound)
	}
	return nil
}

// TokenUser returns the owner of an API token and marks it used.
func (s *Store) TokenUser(ctx context.Context, tok string) (User, error) {
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 128 {
		return User{}, ErrNoSession
	}
	var tid int64
	u, err := scanUser(s.cfg.DB.QueryRowContext(ctx, "SELECT u.id, u.name, u.role, u.source, u.created, COALESCE(u.settings, '{}'), t.id "+
		"FROM xhep_tokens t JOIN xhep_users u ON u.id = t.user_id WHERE t.hash = ?", hashOf(tok)), &tid)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNoSession
	}
	if err != nil {
		return User{}, fmt.Errorf("look up token: %w", err)
	}
	s.cfg.DB.ExecContext(ctx, "UPDATE xhep_tokens SET last_used = ? WHERE id = ?", s.now(), tid)
	return u, nil
}

// SetSettings stores user uid's settings.
func (s *Store) SetSettings(ctx context.Context, uid int64, st Settings) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.cfg.DB.ExecContext(ctx, "UPDATE xhep_users SET settings = ? WHERE id = ?", string(b), uid); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}

// SaveSearch stores (or replaces, by name) a saved search of user uid.
func (s *Store) SaveSearch(ctx context.Context, uid int64, name, query string) (SavedSearch, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return SavedSearch{}, fmt.Errorf("%w: search name must have 1-64 characters", ErrInvalid)
	}
	if len(query) > 4096 {
		return SavedSearch{}, fmt.Errorf("%w: query longer than 4096 bytes", ErrInvalid)
	}
	ss := SavedSearch{Name: name, Query: query, Created: s.now()}
	if _, err := s.cfg.DB.ExecContext(ctx, "INSERT INTO xhep_searches (user_id, name, query, created) VALUES (?, ?, ?, ?) "+
		"ON DUPLICATE KEY UPDATE query = VALUES(query), created = VALUES(created)", uid, name, query, ss.Created); err != nil {
		return SavedSearch{}, fmt.Errorf("save search: %w", err)
	}
	err := s.cfg.DB.QueryRowContext(ctx, "SELECT id FROM xhep_searches WHERE user_id = ? AND name = ?", uid, name).Scan(&ss.ID)
	return ss, err
}

// Searches lists user uid's saved searches by name.
func (s *Store) Searches(ctx context.Context, uid int64) ([]SavedSearch, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, "SELECT id, name, query, created FROM xhep_searches WHERE user_id = ? ORDER BY name", uid)
	if err != nil {
		return nil, fmt.Errorf("list searches: %w", err)
	}
	defer rows.Close()
	out := []SavedSearch{}
	for rows.Next() {
		var ss SavedSearch
		if err := rows.Scan(&ss.ID, &ss.Name, &ss.Query, &ss.Created); err != nil {
			return nil, fmt.Errorf("scan search: %w", err)
		}
		ss.Created = ss.Created.UTC()
		out = append(out, ss)
	}
	return out, rows.Err()
}

// DeleteSearch removes user uid's saved search id.
func (s *Store) DeleteSearch(ctx context.Context, uid, id int64) error {
	res, err := s.cfg.DB.ExecContext(ctx, "DELETE FROM xhep_searches WHERE id = ? AND user_id = ?", id, uid)
	if err != nil {
		return fmt.Errorf("delete search: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("search %d: %w", id, ErrNotFound)
	}
	return nil
}

// Audit appends an entry to the audit log (its Time is set when zero).
func (s *Store) Audit(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if len(e.Detail) > 4000 {
		e.Detail = e.Detail[:4000]
	}
	if _, err := s.cfg.DB.ExecContext(ctx, "INSERT INTO xhep_audit (ts, user, action, detail, remote) VALUES (?, ?, ?, ?, ?)",
		e.Time, e.User, e.Action, e.Detail, e.Remote); err != nil {
		return fmt.Errorf("write audit log: %w", err)
	}
	return nil
}

// AuditLog returns up to limit entries, newest first, older than id before
// (0: from the newest), optionally of one user only.
func (s *Store) AuditLog(ctx context.Context, user string, before int64, limit int) ([]Entry, error) {
	q := "SELECT id, ts, user, action, detail, remote FROM xhep_audit WHERE 1=1"
	var args []any
	if user != "" {
		q += " AND user = ?"
		args = append(args, user)
	}
	if before > 0 {
		q += " AND id < ?"
		args = append(args, before)
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.cfg.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.Time, &e.User, &e.Action, &e.Detail, &e.Remote); err != nil {
			return nil, fmt.Errorf("scan audit entry: %w", err)
		}
		e.Time = e.Time.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Alias names an address or prefix, optionally with a port, in the
// console ("10.1.0.0/24" → "carrier-a", "10.0.0.1:5080" → "trunk-a");
// see package collector/alias for the forms accepted.
type Alias struct {
	Prefix string `json:"prefix"`
	Name   string `json:"name"`
}

// Aliases returns the aliases kept in the database, by prefix.
func (s *Store) Aliases(ctx context.Context) ([]Alias, error) {
	rows, err := s.cfg.DB.QueryContext(ctx, "SELECT prefix, name FROM xhep_aliases ORDER BY prefix")
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	defer rows.Close()
	out := []Alias{}
	for rows.Next() {
		var a Alias
		if err := rows.Scan(&a.Prefix, &a.Name); err != nil {
			return nil, fmt.Errorf("scan alias: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAliases replaces the database's aliases with as (validated by the
// caller) in one transaction.
func (s *Store) SetAliases(ctx context.Context, as []Alias) error {
	tx, err := s.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set aliases: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM xhep_aliases"); err != nil {
		return fmt.Errorf("set aliases: %w", err)
	}
	for _, a := range as {
		if _, err := tx.ExecContext(ctx, "INSERT INTO xhep_aliases (prefix, name) VALUES (?, ?)", a.Prefix, a.Name); err != nil {
			return fmt.Errorf("set aliases: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set aliases: %w", err)
	}
	return nil
}
