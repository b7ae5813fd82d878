package collector

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNewErrorsAfterCreate: every start-up error after the service is
// built (a bad listen port, an HTTP address in use, a bad retention)
// comes back as an error; none panics (Close on a half-built service).
func TestNewErrorsAfterCreate(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fwd := []string{"udp://127.0.0.1:9"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"listen port out of range", Config{Listen: []string{"udp://127.0.0.1:99999"}, Forward: fwd}, "99999"},
		{"http in use", Config{Listen: []string{"udp://127.0.0.1:0"}, Forward: fwd, HTTP: busy.Addr().String()}, "listen http"},
		{"bad retention", Config{Listen: []string{"udp://127.0.0.1:0"}, MySQL: "u:p@tcp(127.0.0.1:1)/", Retention: "call=14x"}, "retention"},
		{"bad tls cert", Config{Listen: []string{"tls://127.0.0.1:0"}, Forward: fwd, TLSCert: "/nonexistent.pem", TLSKey: "/nonexistent.key"}, "TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if s != nil {
				t.Errorf("New returned a service with its error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestSecondCollectorRefused: a second service on a UDP address another
// one holds is refused (SO_REUSEPORT would give it part of the stream),
// unless UDPSharePort says so; the readers of one service still share.
func TestSecondCollectorRefused(t *testing.T) {
	fwd := []string{"udp://127.0.0.1:9"}
	first, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, Readers: 2, Forward: fwd})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	addr := "udp://" + first.Listeners()[0].Addr.String()
	second, err := New(Config{Listen: []string{addr}, Readers: 2, Forward: fwd})
	if err == nil {
		second.Close()
		t.Fatal("second collector on the same UDP address started")
	}
	if !strings.Contains(err.Error(), "udp-share-port") {
		t.Errorf("error %q does not name the flag that allows it", err)
	}
	shared, err := New(Config{Listen: []string{addr}, Readers: 1, Forward: fwd, UDPSharePort: true})
	if err != nil {
		t.Fatalf("with UDPSharePort: %v", err)
	}
	shared.Close()
	// A wildcard bind overlapping the held address is refused too.
	port := first.Listeners()[0].Addr.Port()
	wild, err := New(Config{Listen: []string{"udp://0.0.0.0:" + strconv.Itoa(int(port))}, Readers: 1, Forward: fwd})
	if err == nil {
		wild.Close()
		t.Fatal("wildcard collector over a held address started")
	}
}

// TestAPIOnlyNode: --http with a database and no --listen runs (an API/UI
// node apart from the collectors) and answers the API until stopped.
func TestAPIOnlyNode(t *testing.T) {
	dsn := testDSN(t)
	name, _ := testDatabase(t, dsn)
	s, err := New(Config{HTTP: "127.0.0.1:0", MySQL: dsn, Database: name})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if s.Listeners() != nil {
		t.Errorf("listeners: %v", s.Listeners())
	}
	s.Mux().HandleFunc("/api/v1/ping", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var body string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + s.HTTPAddr().String() + "/api/v1/ping")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		break
	}
	if body != "pong" {
		t.Errorf("API answer %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// Without a database there is nothing to serve: still refused.
	if err := (&Config{HTTP: "127.0.0.1:0"}).Validate(); err == nil {
		t.Error("--http alone validated")
	}
}
