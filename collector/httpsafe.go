package collector

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics access (Config.MetricsAuth).
const (
	MetricsOpen  = "open"  // no authentication
	MetricsToken = "token" // the API's bearer token (Prometheus: authorization.credentials_file)
)

// metricsAuth is the effective /metrics access: as configured, else token
// when an API token is set (closed by default), else open.
func (c *Config) metricsAuth() string {
	switch {
	case c.MetricsAuth != "":
		return c.MetricsAuth
	case c.APIToken != "":
		return MetricsToken
	}
	return MetricsOpen
}

// metricsHandler is /metrics behind the configured access.
func (s *Service) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	if s.cfg.metricsAuth() != MetricsToken {
		return h
	}
	token := []byte(s.cfg.APIToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="xhep metrics"`)
			http.Error(w, "missing or wrong bearer token (--metrics-auth token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// mountMetrics serves /metrics on the HTTP mux, or on its own address
// (Config.MetricsAddr), which it binds.
func (s *Service) mountMetrics() error {
	if s.cfg.MetricsAddr == "" {
		s.mux.Handle("/metrics", s.metricsHandler())
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen metrics %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.metricsHandler())
	s.metricsLn = ln
	s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: httpIdle,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	return nil
}

// MetricsAddr is the bound address of Config.MetricsAddr, or nil.
func (s *Service) MetricsAddr() net.Addr {
	if s.metricsLn == nil {
		return nil
	}
	return s.metricsLn.Addr()
}

// httpIdle closes HTTP keep-alive connections idle this long, so idle
// browsers and scrapers do not hold descriptors for ever.
const httpIdle = 2 * time.Minute
