package api

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/auth"
	"github.com/xhep/xhep/collector/store/backend"
)

//go:embed ui
var uiFiles embed.FS

// Config configures an [API]. Zero fields take the defaults named beside
// them.
type Config struct {
	// DB is the store's database handle, already on the collector's
	// database (store.(*Store).DB()). Required. A handle of its own needs
	// the same DSN options as the store's: parseTime=true, loc=UTC and
	// time_zone='+00:00'.
	DB *sql.DB
	// Backend is the store's backend: "mysql" (default, DB from
	// store.(*Store).DB()) or "clickhouse" (DB from the ClickHouse
	// backend's DB()).
	Backend string
	// Cluster is set when the ClickHouse store is a cluster
	// (--clickhouse-cluster): the queries read the Distributed tables.
	Cluster bool
	// Unavailable, when set, names the parts of the store that do not
	// answer (ClickHouse shards); a failed query's error then says which.
	Unavailable func(ctx context.Context) []string
	// Token, when set, is the bearer token every API request must carry.
	// Empty: no authentication, but only loopback clients are served, and
	// only under a loopback Host name (localhost, 127.0.0.0/8, ::1) or one
	// of Hosts: a page whose name was rebound to 127.0.0.1 (DNS rebinding)
	// is refused.
	Token string
	// Hosts are further Host names (without port, any case) served
	// without a token, for a collector reached by name on loopback.
	Hosts []string
	// DefaultRange is the search range when from/to are absent (default 1h).
	DefaultRange time.Duration
	// MaxRange is the longest search range accepted (default 7 days; every
	// query still names its create_date range, so only the days in it are
	// read).
	MaxRange time.Duration
	// FlowLookback is how far back from now a call flow looks for its
	// Call-ID when the request gives no from/to (default 14 days, the
	// store's default call retention).
	FlowLookback time.Duration
	// FlowMargin widens a call's own time range when fetching its RTCP,
	// DNS and logs and when looking for linked legs (default 30s).
	FlowMargin time.Duration
	// MaxLegs bounds the legs of one call flow (default 16).
	MaxLegs int
	// MaxLimit is the largest page size (default 1000).
	MaxLimit int
	// MaxFlowMessages bounds the SIP messages of one flow (default 5000).
	MaxFlowMessages int
	// QueryTimeout bounds each request's database work (default 30s).
	QueryTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Accounts, when set, turns on user accounts (package
	// [github.com/xhep/xhep/collector/auth]): every API request needs a
	// login session (cookie, with its CSRF token on state changes), a
	// user's API token, or Token (which acts as an admin); roles limit
	// what each may do, and logins, searches, exports and admin changes
	// go to the audit log. Nil: the Token / loopback modes above.
	Accounts *auth.Store
	// Aliases are the --alias entries (PREFIX[:PORT]=NAME, package
	// collector/alias): host names in the console, beside those an admin
	// keeps in the database (with Accounts).
	Aliases []string
	// SearchHeaders are the collector's --search-header names: the SIP
	// tables have a column per header (backend.SearchHeaders names it),
	// searched by the parameter of that name (hdr_x_account=...).
	SearchHeaders []string
	// ShareKey signs share links (HMAC-SHA256; at least 16 bytes). Empty:
	// a random key made at New, so links last until a restart (the
	// collector's --share-key-file keeps one in a file).
	ShareKey []byte
	// SecureCookie marks the session cookie Secure even on plain HTTP
	// requests (behind a TLS-terminating proxy); over TLS it always is.
	SecureCookie bool
}

// API serves the HTTP API and the UI. Safe for concurrent use.
type API struct {
	cfg Config
	q   querier
	ui  http.Handler
	// shareKey signs share links (Config.ShareKey or made at New).
	shareKey []byte
	// trace, set only by tests before use, sees every query.
	trace func(q string, args []any)
	// hdrs are Config.SearchHeaders.
	hdrs []backend.SearchHeader
	// logins limits failed logins per user name and per client address.
	logins *loginLimiter
}

// ErrConfig is wrapped by the errors of [New].
var ErrConfig = errors.New("invalid api config")

// New checks cfg and returns an API.
func New(cfg Config) (*API, error) {
	if cfg.DB == nil {
		return nil, fmt.Errorf("%w: DB is nil", ErrConfig)
	}
	if cfg.DefaultRange <= 0 {
		cfg.DefaultRange = time.Hour
	}
	if cfg.MaxRange <= 0 {
		cfg.MaxRange = 7 * 24 * time.Hour
	}
	if cfg.DefaultRange > cfg.MaxRange {
		return nil, fmt.Errorf("%w: default range %v exceeds max range %v", ErrConfig, cfg.DefaultRange, cfg.MaxRange)
	}
	if cfg.FlowLookback <= 0 {
		cfg.FlowLookback = 14 * 24 * time.Hour
	}
	if cfg.FlowMargin <= 0 {
		cfg.FlowMargin = 30 * time.Second
	}
	if cfg.MaxLegs <= 0 {
		cfg.MaxLegs = 16
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	if cfg.MaxFlowMessages <= 0 {
		cfg.MaxFlowMessages = 5000
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		return nil, fmt.Errorf("ui files: %w", err)
	}
	a := &API{cfg: cfg, ui: http.FileServerFS(sub), logins: newLoginLimiter(), shareKey: cfg.ShareKey}
	if len(a.shareKey) == 0 {
		a.shareKey = newShareKey()
	} else if len(a.shareKey) < 16 {
		return nil, fmt.Errorf("%w: share key shorter than 16 bytes", ErrConfig)
	}
	if a.hdrs, err = backend.SearchHeaders(cfg.SearchHeaders); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	switch cfg.Backend {
	case "", "mysql":
		a.q = &mysqlQ{a}
	case "clickhouse":
		a.q = &clickhouseQ{a}
	default:
		return nil, fmt.Errorf("%w: unknown backend %q (want mysql or clickhouse)", ErrConfig, cfg.Backend)
	}
	return a, nil
}

// Register mounts the API under /api/v1/ and the UI at / on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/messages", a.guard(auth.ReadOnly, "search", a.messages))
	mux.Handle("GET /api/v1/calls", a.guard(auth.ReadOnly, "search", a.calls))
	mux.Handle("GET /api/v1/calls/{callid}/flow", a.guard(auth.ReadOnly, "flow", a.flow))
	mux.Handle("GET /api/v1/calls/{callid}/pcap", a.guard(auth.Operator, "pcap", a.pcap))
	mux.Handle("GET /api/v1/calls/{callid}/text", a.guard(auth.Operator, "text", a.text))
	mux.Handle("GET /api/v1/stats", a.guard(auth.ReadOnly, "", a.stats))
	mux.Handle("GET /api/v1/media/lowmos", a.guard(auth.ReadOnly, "search", a.lowMOSCalls))
	mux.Handle("GET /api/v1/registrations", a.guard(auth.ReadOnly, "search", a.registrations))
	mux.Handle("GET /api/v1/events", a.guard(auth.ReadOnly, "search", a.events))
	mux.Handle("POST /api/v1/calls/{callid}/share", a.guard(auth.Operator, "", a.share))
	mux.Handle("GET /api/v1/shared/{token}/flow", a.guardShared(a.sharedFlow))
	a.registerAccounts(mux)
	mux.Handle("/api/v1/", a.guard("", "", func(w http.ResponseWriter, r *http.Request) error {
		return errNotFound("no such endpoint: " + r.Method + " " + r.URL.Path)
	}))
	mux.Handle("/", a.access(false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		a.ui.ServeHTTP(w, r)
	})))
}

// Handler returns a new mux with only the API and the UI on it.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	a.Register(mux)
	return mux
}

// httpError is an error with the HTTP status it maps to.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errBad(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func errNotFound(msg string) error { return &httpError{http.StatusNotFound, msg} }

// handlerFunc is an endpoint: it writes a response or returns an error
// that guard maps to a status and a JSON body.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// guard checks access (with accounts: a user of at least role need; ""
// needs no login), bounds the request's database time, writes the audit
// entry action (when not "") and maps errors.
func (a *API) guard(need auth.Role, action string, h handlerFunc) http.Handler {
	return a.access(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
		defer cancel()
		r, err := a.authorize(r.WithContext(ctx), need, action)
		if err == nil {
			err = h(w, r)
		}
		if err == nil {
			return
		}
		var he *httpError
		switch {
		case errors.As(err, &he):
			writeError(w, he.status, he.msg)
		case errors.Is(err, context.DeadlineExceeded):
			writeError(w, http.StatusGatewayTimeout, "query timed out")
		case errors.Is(err, context.Canceled):
			// The client went away; nothing to answer.
		default:
			writeError(w, http.StatusInternalServerError, err.Error())
		}
	}))
}

// access enforces the token (API only, when api is true) or, without a
// token, loopback clients.
func (a *API) access(api bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api {
			w.Header().Set("Cache-Control", "no-store")
		}
		if a.cfg.Accounts != nil {
			// Accounts: authorize checks each API request; the UI's
			// static files (with its login form) are public.
			next.ServeHTTP(w, r)
			return
		}
		if a.cfg.Token == "" {
			if !loopback(r.RemoteAddr) {
				writeError(w, http.StatusForbidden, "no --api-token is configured: only loopback clients are served")
				return
			}
			if !a.hostAllowed(r.Host) {
				writeError(w, http.StatusForbidden, "no --api-token is configured: only loopback Host names (or --http-host) are served")
				return
			}
		} else if api {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="xhep"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a request's Host header names this host
// over loopback: localhost, a loopback address, or one of Config.Hosts.
// An empty Host (HTTP/1.0 without one; browsers always send it) passes.
func (a *API) hostAllowed(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	for _, h := range a.cfg.Hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

// loopback reports whether a RemoteAddr ("ip:port") is a loopback address.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// query runs a query on the database (and hands it to the test trace).
func (a *API) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if a.trace != nil {
		a.trace(q, args)
	}
	return a.cfg.DB.QueryContext(ctx, q, args...)
}

func (a *API) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if a.trace != nil {
		a.trace(q, args)
	}
	return a.cfg.DB.QueryRowContext(ctx, q, args...)
}

// shardErr adds to a failed query's error which parts of the store do not
// answer, when Config.Unavailable knows.
func (a *API) shardErr(ctx context.Context, err error) error {
	if a.cfg.Unavailable == nil || err == nil {
		return err
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if down := a.cfg.Unavailable(pctx); len(down) > 0 {
		return &httpError{http.StatusServiceUnavailable, fmt.Sprintf("store incomplete: %s not answering: %v", strings.Join(down, ", "), err)}
	}
	return err
}
