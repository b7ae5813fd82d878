package api

import (
	"database/sql"
	"net/http"
	"net/http/httptest"
	"testing"

	_ "github.com/go-sql-driver/mysql"
)

// TestDNSRebinding: without a token (loopback clients only) a request
// whose Host is not a loopback name or a configured one is refused, so a
// web page whose name was rebound to 127.0.0.1 cannot read stored calls
// through the browser of someone on the collector host. API answers are
// never cached.
func TestDNSRebinding(t *testing.T) {
	// A handle that is never reached: access is decided before any query.
	db, err := sql.Open("mysql", "u:p@tcp(127.0.0.1:1)/x?timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := New(Config{DB: db, Hosts: []string{"xhep.example.net"}})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler()
	for _, tc := range []struct {
		host, path string
		forbidden  bool
	}{
		{"evil.example.com", "/api/v1/stats", true},
		{"evil.example.com:9080", "/", true},
		{"127.0.0.1.evil.example.com", "/api/v1/messages", true},
		{"localhost.evil.example.com:9080", "/api/v1/stats", true},
		{"xhep.example.net.evil.example.com", "/api/v1/stats", true},
		{"127.0.0.1:9080", "/api/v1/stats", false},
		{"127.8.9.10", "/api/v1/stats", false},
		{"[::1]:9080", "/", false},
		{"localhost:9080", "/api/v1/stats", false},
		{"LOCALHOST", "/", false},
		{"xhep.example.net:9080", "/api/v1/stats", false},
		{"XHEP.example.NET", "/", false},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Host = tc.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Code == http.StatusForbidden; got != tc.forbidden {
			t.Errorf("Host %s %s: status %d, forbidden want %v: %s", tc.host, tc.path, w.Code, tc.forbidden, w.Body)
		}
		if tc.path != "/" && w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Host %s %s: Cache-Control %q, want no-store", tc.host, tc.path, w.Header().Get("Cache-Control"))
		}
	}
	// With a token any Host is served: the token is what a rebound page
	// lacks.
	a, err = New(Config{DB: db, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/api/v1/stats", nil)
	r.Host = "evil.example.com"
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("token mode, no token: status %d, want 401", w.Code)
	}
}
