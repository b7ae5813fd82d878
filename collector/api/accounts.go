package api

// User accounts in the API: who a request is (session cookie, API token,
// the configured --api-token), what its role allows, CSRF checks on state
// changes, the audit log, and the account endpoints.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // user time zones without relying on the host's zoneinfo

	"github.com/xhep/xhep/collector/alias"
	"github.com/xhep/xhep/collector/auth"
)

// SessionCookie is the name of the login session cookie.
const SessionCookie = "xhep_session"

// CSRFHeader carries a session's CSRF token on every state-changing
// request (POST, PUT, PATCH, DELETE) made with the session cookie.
const CSRFHeader = "X-CSRF-Token"

// principal is who a request is.
type principal struct {
	user    auth.User // ID 0 for the --api-token and open modes
	name    string    // audit name: the user's, "api-token", or "" (open)
	role    auth.Role
	via     string // "session", "token", "api-token", "open"
	session string // session id (via "session")
	csrf    string
}

type principalKey struct{}

// who returns the principal authorize put on r's context.
func who(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	if p == nil {
		return &principal{}
	}
	return p
}

func errStatus(status int, format string, args ...any) error {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate finds the principal of a request in accounts mode: a
// bearer token (the configured --api-token, or a user's API token), else
// the session cookie.
func (a *API) authenticate(r *http.Request) (principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return principal{}, errStatus(http.StatusUnauthorized, "Authorization: want a Bearer token")
		}
		if a.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.Token)) == 1 {
			return principal{name: "api-token", role: auth.Admin, via: "api-token"}, nil
		}
		u, err := a.cfg.Accounts.TokenUser(ctx, tok)
		if errors.Is(err, auth.ErrNoSession) {
			return principal{}, errStatus(http.StatusUnauthorized, "unknown or revoked API token")
		}
		if err != nil {
			return principal{}, err
		}
		return principal{user: u, name: u.Name, role: u.Role, via: "token"}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return principal{}, errStatus(http.StatusUnauthorized, "login required")
	}
	u, csrf, err := a.cfg.Accounts.Session(ctx, c.Value)
	if errors.Is(err, auth.ErrNoSession) {
		return principal{}, errStatus(http.StatusUnauthorized, "login required (the session has expired or was ended)")
	}
	if err != nil {
		return principal{}, err
	}
	return principal{user: u, name: u.Name, role: u.Role, via: "session", session: c.Value, csrf: csrf}, nil
}

// sameOrigin reports whether a request's Origin (when a browser sent one)
// is this server's own: scheme-less comparison of host:port with Host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// authorize finds who a request is and whether it may do what it asks,
// puts the principal on the returned request's context and writes the
// audit entry action (when not ""). Without accounts every request that
// passed access is allowed.
func (a *API) authorize(r *http.Request, need auth.Role, action string) (*http.Request, error) {
	p := principal{role: auth.Admin, via: "open"}
	if a.cfg.Token != "" {
		p.name, p.via = "api-token", "api-token"
	}
	if a.cfg.Accounts != nil {
		var err error
		p, err = a.authenticate(r)
		if err != nil && need != "" {
			return r, err
		}
		if need != "" && !p.role.Allows(need) {
			return r, errStatus(http.StatusForbidden, "role %s may not do this (needs %s)", p.role, need)
		}
		if !safeMethod(r.Method) {
			if !sameOrigin(r) {
				return r, errStatus(http.StatusForbidden, "cross-origin request refused (Origin %s)", r.Header.Get("Origin"))
			}
			if p.via == "session" && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(p.csrf)) != 1 {
				return r, errStatus(http.StatusForbidden, "missing or wrong %s header", CSRFHeader)
			}
		}
	}
	r = r.WithContext(context.WithValue(r.Context(), principalKey{}, &p))
	if action != "" {
		detail := r.URL.Path
		if q, err := url.QueryUnescape(r.URL.RawQuery); err == nil && q != "" {
			detail += "?" + q
		}
		if err := a.audit(r, action, detail); err != nil {
			return r, err
		}
	}
	return r, nil
}

// audit writes an entry for the request's principal (accounts mode only).
func (a *API) audit(r *http.Request, action, detail string) error {
	if a.cfg.Accounts == nil {
		return nil
	}
	return a.cfg.Accounts.Audit(r.Context(), auth.Entry{User: who(r).name, Action: action, Detail: detail, Remote: remoteIP(r)})
}

func remoteIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// loginLimiter refuses logins for a user name after maxLoginFails
// failures within loginWindow (for a client address after
// maxLoginFailsIP), until the window of the first failure ends. Safe for concurrent use; bounded (old entries pruned).
type loginLimiter struct {
	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

const (
	maxLoginFails   = 5  // per user name
	maxLoginFailsIP = 20 // per client address (many users behind one NAT)
	loginWindow     = 5 * time.Minute
)

func newLoginLimiter() *loginLimiter { return &loginLimiter{fails: map[string]*failures{}} }

func (l *loginLimiter) blocked(now time.Time, keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		max := maxLoginFails
		if strings.HasPrefix(k, "ip:") {
			max = maxLoginFailsIP
		}
		if f := l.fails[k]; f != nil && now.Sub(f.first) < loginWindow && f.n >= max {
			return true
		}
	}
	return false
}

func (l *loginLimiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) > 10000 {
		for k, f := range l.fails {
			if now.Sub(f.first) >= loginWindow {
				delete(l.fails, k)
			}
		}
	}
	for _, k := range keys {
		f := l.fails[k]
		if f == nil || now.Sub(f.first) >= loginWindow {
			f = &failures{first: now}
			l.fails[k] = f
		}
		f.n++
	}
}

func (l *loginLimiter) reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.fails, k)
	}
}

// registerAccounts mounts the account endpoints.
func (a *API) registerAccounts(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/login", a.guard("", "", a.login))
	mux.Handle("POST /api/v1/logout", a.guard(auth.ReadOnly, "", a.logout))
	mux.Handle("GET /api/v1/session", a.guard("", "", a.session))
	mux.Handle("PUT /api/v1/settings", a.guard(auth.ReadOnly, "", a.putSettings))
	mux.Handle("POST /api/v1/password", a.guard(auth.ReadOnly, "", a.password))
	mux.Handle("GET /api/v1/tokens", a.guard(auth.ReadOnly, "", a.listTokens))
	mux.Handle("POST /api/v1/tokens", a.guard(auth.ReadOnly, "", a.newToken))
	mux.Handle("DELETE /api/v1/tokens/{id}", a.guard(auth.ReadOnly, "", a.deleteToken))
	mux.Handle("GET /api/v1/searches", a.guard(auth.ReadOnly, "", a.listSearches))
	mux.Handle("POST /api/v1/searches", a.guard(auth.ReadOnly, "", a.saveSearch))
	mux.Handle("DELETE /api/v1/searches/{id}", a.guard(auth.ReadOnly, "", a.deleteSearch))
	mux.Handle("GET /api/v1/users", a.guard(auth.Admin, "", a.listUsers))
	mux.Handle("POST /api/v1/users", a.guard(auth.Admin, "", a.createUser))
	mux.Handle("PATCH /api/v1/users/{name}", a.guard(auth.Admin, "", a.updateUser))
	mux.Handle("DELETE /api/v1/users/{name}", a.guard(auth.Admin, "", a.deleteUser))
	mux.Handle("GET /api/v1/audit", a.guard(auth.Admin, "", a.auditLog))
	mux.Handle("GET /api/v1/aliases", a.guard(auth.ReadOnly, "", a.listAliases))
	mux.Handle("PUT /api/v1/aliases", a.guard(auth.Admin, "", a.putAliases))
}

// accounts returns the store or a 404 when accounts are off.
func (a *API) accounts() (*auth.Store, error) {
	if a.cfg.Accounts == nil {
		return nil, errNotFound("user accounts are not enabled (start the collector with --accounts)")
	}
	return a.cfg.Accounts, nil
}

// readJSON decodes a JSON request body (at most 64 KiB, no unknown
// fields) into v.
func readJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errStatus(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	d := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return errBad("request body: %v", err)
	}
	return nil
}

// authErr maps the store's errors to HTTP statuses.
func authErr(err error) error {
	switch {
	case errors.Is(err, auth.ErrInvalid):
		return errBad("%v", err)
	case errors.Is(err, auth.ErrNotFound):
		return errNotFound(err.Error())
	case errors.Is(err, auth.ErrExists):
		return errStatus(http.StatusConflict, "%v", err)
	}
	return err
}

// SessionInfo is the body of GET /api/v1/session and POST /api/v1/login.
type SessionInfo struct {
	Accounts bool          `json:"accounts"` // false: token or loopback mode, no logins
	User     string        `json:"user,omitempty"`
	Role     auth.Role     `json:"role"`
	Via      string        `json:"via"` // session, token, api-token, open
	CSRF     string        `json:"csrf,omitempty"`
	Settings auth.Settings `json:"settings"`
	LDAP     bool          `json:"ldap"`
	// SearchHeaders are the configured --search-header names and their
	// search parameters (the console's search fields).
	SearchHeaders []SearchHeader `json:"search_headers"`
}

// SearchHeader is a configured search header: its name and the search
// parameter (hdr_...) that finds messages by its value.
type SearchHeader struct {
	Name  string `json:"name"`
	Param string `json:"param"`
}

// searchHeaders lists the configured search headers for SessionInfo.
func (a *API) searchHeaders() []SearchHeader {
	out := make([]SearchHeader, len(a.hdrs))
	for i, h := range a.hdrs {
		out[i] = SearchHeader{Name: h.Name, Param: h.Column}
	}
	return out
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	if !sameOrigin(r) {
		return errStatus(http.StatusForbidden, "cross-origin login refused")
	}
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	now := a.cfg.Now()
	keys := []string{"u:" + strings.ToLower(body.User), "ip:" + remoteIP(r)}
	if a.logins.blocked(now, keys...) {
		a.cfg.Accounts.Audit(r.Context(), auth.Entry{Action: "login_blocked", Detail: "user " + strconv.Quote(body.User), Remote: remoteIP(r)})
		return errStatus(http.StatusTooManyRequests, "too many failed logins: wait %v", loginWindow)
	}
	u, err := st.Login(r.Context(), body.User, body.Password)
	if errors.Is(err, auth.ErrBadLogin) {
		a.logins.fail(now, keys...)
		if aerr := st.Audit(r.Context(), auth.Entry{Action: "login_failed", Detail: fmt.Sprintf("user %q: %v", body.User, err), Remote: remoteIP(r)}); aerr != nil {
			return aerr
		}
		return errStatus(http.StatusUnauthorized, "wrong user name or password")
	}
	if err != nil {
		return err
	}
	a.logins.reset(keys[0])
	id, csrf, exp, err := st.NewSession(r.Context(), u)
	if err != nil {
		return err
	}
	if err := st.Audit(r.Context(), auth.Entry{User: u.Name, Action: "login", Detail: u.Source + " " + string(u.Role), Remote: remoteIP(r)}); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", Expires: exp, MaxAge: int(st.SessionTTL() / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || a.cfg.SecureCookie})
	writeJSON(w, http.StatusOK, SessionInfo{Accounts: true, User: u.Name, Role: u.Role, Via: "session", CSRF: csrf, Settings: u.Settings, LDAP: st.LDAPEnabled(),
		SearchHeaders: a.searchHeaders()})
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	p := who(r)
	if p.via == "session" {
		if err := st.EndSession(r.Context(), p.session); err != nil {
			return err
		}
	}
	if err := a.audit(r, "logout", ""); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || a.cfg.SecureCookie})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (a *API) session(w http.ResponseWriter, r *http.Request) error {
	p := who(r)
	if a.cfg.Accounts == nil {
		writeJSON(w, http.StatusOK, SessionInfo{Role: p.role, Via: p.via, SearchHeaders: a.searchHeaders()})
		return nil
	}
	if p.via == "" {
		return errStatus(http.StatusUnauthorized, "login required")
	}
	writeJSON(w, http.StatusOK, SessionInfo{Accounts: true, User: p.name, Role: p.role, Via: p.via, CSRF: p.csrf,
		Settings: p.user.Settings, LDAP: a.cfg.Accounts.LDAPEnabled(), SearchHeaders: a.searchHeaders()})
	return nil
}

// accountOf returns the principal's account or a 400 for the --api-token.
func accountOf(r *http.Request) (*principal, error) {
	p := who(r)
	if p.user.ID == 0 {
		return nil, errBad("the --api-token is not a user account: log in or use a user's API token")
	}
	return p, nil
}

// ownAccount is the account store and the logged-in user of a request
// that acts on the user's own settings, tokens or searches.
func (a *API) ownAccount(r *http.Request) (*auth.Store, *principal, error) {
	st, err := a.accounts()
	if err != nil {
		return nil, nil, err
	}
	p, err := accountOf(r)
	if err != nil {
		return nil, nil, err
	}
	return st, p, nil
}

func (a *API) putSettings(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	var s auth.Settings
	if err := readJSON(r, &s); err != nil {
		return err
	}
	if s.TZ == "UTC" {
		s.TZ = ""
	}
	if s.TZ != "" {
		if _, err := time.LoadLocation(s.TZ); err != nil || !strings.Contains(s.TZ, "/") && s.TZ != "UTC" {
			return errBad("tz: %q is not an IANA time zone (e.g. Europe/Berlin)", s.TZ)
		}
	}
	if s.PageSize != 0 && (s.PageSize < 10 || s.PageSize > a.cfg.MaxLimit) {
		return errBad("page_size: %d is not in 10..%d", s.PageSize, a.cfg.MaxLimit)
	}
	if err := st.SetSettings(r.Context(), p.user.ID, s); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

func (a *API) password(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	var body struct {
		Old string `json:"old"`
		New string `json:"new"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	if err := st.ChangePassword(r.Context(), p.name, body.Old, body.New); err != nil {
		if errors.Is(err, auth.ErrBadLogin) {
			return errStatus(http.StatusForbidden, "the old password is wrong")
		}
		return authErr(err)
	}
	if err := a.audit(r, "password_change", ""); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errBad("id: %q is not a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	toks, err := st.Tokens(r.Context(), p.user.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}

func (a *API) newToken(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	t, secret, err := st.NewToken(r.Context(), p.user.ID, body.Name)
	if err != nil {
		return authErr(err)
	}
	if err := a.audit(r, "token_create", fmt.Sprintf("token %d %q", t.ID, t.Name)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
	return nil
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := st.DeleteToken(r.Context(), p.user.ID, id); err != nil {
		return authErr(err)
	}
	if err := a.audit(r, "token_delete", fmt.Sprintf("token %d", id)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (a *API) listSearches(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	ss, err := st.Searches(r.Context(), p.user.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"searches": ss})
	return nil
}

func (a *API) saveSearch(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	var body struct {
		Name  string `json:"name"`
		Query string `json:"query"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	q, err := url.ParseQuery(body.Query)
	if err != nil {
		return errBad("query: %v", err)
	}
	q.Del("what")
	q.Del("from")
	q.Del("to")
	q.Del("range")
	if err := a.checkSearchParams(q); err != nil {
		return err
	}
	ss, err := st.SaveSearch(r.Context(), p.user.ID, body.Name, body.Query)
	if err != nil {
		return authErr(err)
	}
	writeJSON(w, http.StatusCreated, ss)
	return nil
}

func (a *API) deleteSearch(w http.ResponseWriter, r *http.Request) error {
	st, p, err := a.ownAccount(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := st.DeleteSearch(r.Context(), p.user.ID, id); err != nil {
		return authErr(err)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	us, err := st.Users(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	var body struct {
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		return errBad("%v", err)
	}
	u, err := st.CreateUser(r.Context(), body.Name, role, body.Password)
	if err != nil {
		return authErr(err)
	}
	if err := a.audit(r, "user_create", fmt.Sprintf("user %q role %s", u.Name, u.Role)); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	var body struct {
		Role     *string `json:"role"`
		Password *string `json:"password"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	var role *auth.Role
	var what []string
	if body.Role != nil {
		ro, err := auth.ParseRole(*body.Role)
		if err != nil {
			return errBad("%v", err)
		}
		role = &ro
		what = append(what, "role "+string(ro))
	}
	if body.Password != nil {
		what = append(what, "password")
	}
	if len(what) == 0 {
		return errBad("nothing to change: give role and/or password")
	}
	name := r.PathValue("name")
	if err := st.UpdateUser(r.Context(), name, role, body.Password); err != nil {
		return authErr(err)
	}
	if err := a.audit(r, "user_update", fmt.Sprintf("user %q: %s", name, strings.Join(what, ", "))); err != nil {
		return err
	}
	u, err := st.UserByName(r.Context(), name)
	if err != nil {
		return authErr(err)
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := st.DeleteUser(r.Context(), name); err != nil {
		return authErr(err)
	}
	if err := a.audit(r, "user_delete", fmt.Sprintf("user %q", name)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

func (a *API) auditLog(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := checkParams(q, map[string]bool{"user": true, "before": true, "limit": true}); err != nil {
		return err
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return errBad("limit: %q is not in 1..1000", v)
		}
	}
	var before int64
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return errBad("before: %q is not an entry id", v)
		}
	}
	es, err := st.AuditLog(r.Context(), q.Get("user"), before, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
	return nil
}

// configuredAliases returns Config.Aliases as entries.
func (a *API) configuredAliases() []auth.Alias {
	out := []auth.Alias{}
	for _, e := range a.cfg.Aliases {
		p, n, ok := strings.Cut(e, "=")
		if ok {
			out = append(out, auth.Alias{Prefix: strings.TrimSpace(p), Name: strings.TrimSpace(n)})
		}
	}
	return out
}

// aliasMap returns the console's aliases: --alias entries and, with
// accounts, those kept in the database (a prefix named by --alias keeps
// that name).
func (a *API) aliasMap(ctx context.Context) (*alias.Map, error) {
	entries := append([]string{}, a.cfg.Aliases...)
	if a.cfg.Accounts != nil {
		stored, err := a.cfg.Accounts.Aliases(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range stored {
			entries = append(entries, e.Prefix+"="+e.Name)
		}
	}
	m, err := alias.Parse(entries)
	if err != nil {
		// A stored alias that now clashes with a flag: the flags alone.
		return alias.Parse(a.cfg.Aliases)
	}
	return m, nil
}

// AliasesResult is the body of GET /api/v1/aliases.
type AliasesResult struct {
	Configured []auth.Alias `json:"configured"` // --alias, read-only here
	Stored     []auth.Alias `json:"stored"`     // kept in the database, edited by admins
}

func (a *API) listAliases(w http.ResponseWriter, r *http.Request) error {
	res := AliasesResult{Configured: a.configuredAliases(), Stored: []auth.Alias{}}
	if a.cfg.Accounts != nil {
		var err error
		if res.Stored, err = a.cfg.Accounts.Aliases(r.Context()); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (a *API) putAliases(w http.ResponseWriter, r *http.Request) error {
	st, err := a.accounts()
	if err != nil {
		return err
	}
	var body struct {
		Aliases []auth.Alias `json:"aliases"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	if len(body.Aliases) > 10000 {
		return errBad("more than 10000 aliases")
	}
	entries := append([]string{}, a.cfg.Aliases...)
	for i, e := range body.Aliases {
		body.Aliases[i].Prefix, body.Aliases[i].Name = strings.TrimSpace(e.Prefix), strings.TrimSpace(e.Name)
		entries = append(entries, body.Aliases[i].Prefix+"="+body.Aliases[i].Name)
	}
	if _, err := alias.Parse(entries); err != nil {
		return errBad("%v", err)
	}
	if err := st.SetAliases(r.Context(), body.Aliases); err != nil {
		return err
	}
	if err := a.audit(r, "aliases_update", fmt.Sprintf("%d aliases", len(body.Aliases))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, AliasesResult{Configured: a.configuredAliases(), Stored: body.Aliases})
	return nil
}
