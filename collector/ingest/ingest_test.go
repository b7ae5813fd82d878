package ingest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// hep3 builds a minimal HEP3 message carrying payload in chunk 0x0f:
//
//	"HEP3" | total length u16 | chunk: vendor u16 = 0, type u16 = 0x0f, length u16 = 6+len, payload
func hep3(payload string) []byte {
	b := []byte("HEP3\x00\x00")
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, 0x0f)
	b = binary.BigEndian.AppendUint16(b, uint16(6+len(payload)))
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	return b
}

func newFramer(r io.Reader, max int) Framer { return hep.NewFramer(r, max) }

type received struct {
	mu        sync.Mutex
	msgs      []string
	transport map[string]int
	from      map[netip.Addr]int
	cond      *sync.Cond
}

func newReceived() *received {
	r := &received{transport: map[string]int{}, from: map[netip.Addr]int{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *received) handle(b []byte, from netip.AddrPort, transport string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(b))
	r.transport[transport]++
	r.from[from.Addr()]++
	r.mu.Unlock()
	r.cond.Broadcast()
}

// waitFor blocks until cond holds (checked under the lock) or 10 s passed.
func (r *received) waitFor(t *testing.T, cond func(*received) bool) {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, r.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(10 * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond(r) && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	if !cond(r) {
		t.Fatal("condition not reached in 10s")
	}
}

// wait blocks until n messages arrived or 10 s passed.
func (r *received) wait(t *testing.T, n int) []string {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, r.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(10 * time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.msgs) < n && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	if len(r.msgs) < n {
		t.Fatalf("received %d messages, want %d", len(r.msgs), n)
	}
	out := slices.Clone(r.msgs)
	slices.Sort(out)
	return out
}

func start(t *testing.T, cfg Config, h Handler) *Server {
	t.Helper()
	if cfg.NewFramer == nil {
		cfg.NewFramer = newFramer
	}
	s, err := New(cfg, h)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in, scheme, addr string
		wantErr          bool
	}{
		{in: "udp://127.0.0.1:9060", scheme: "udp", addr: "127.0.0.1:9060"},
		{in: "TCP://:9061", scheme: "tcp", addr: ":9061"},
		{in: "tls://[::1]:9062", scheme: "tls", addr: "[::1]:9062"},
		{in: "127.0.0.1:9060", wantErr: true},
		{in: "sctp://127.0.0.1:9060", wantErr: true},
		{in: "udp://127.0.0.1", wantErr: true},
	}
	for _, tt := range tests {
		scheme, addr, err := ParseListen(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseListen(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff([]string{tt.scheme, tt.addr}, []string{scheme, addr}); !tt.wantErr && diff != "" {
			t.Errorf("ParseListen(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestUDP(t *testing.T) {
	rec := newReceived()
	s := start(t, Config{Listen: []string{"udp://127.0.0.1:0", "udp://[::1]:0"}, Readers: 3, Batch: 8}, rec.handle)
	st := s.Status()
	if len(st) != 2 {
		t.Fatalf("Status: %d listeners, want 2", len(st))
	}
	for _, l := range st {
		if l.Readers != 3 || l.RcvBuf <= 0 || l.Addr.Port() == 0 {
			t.Errorf("status %+v: want 3 readers, a port and a receive buffer", l)
		}
		if os.Geteuid() == 0 && l.Capped {
			t.Errorf("status %+v: capped although root may use SO_RCVBUFFORCE", l)
		}
	}
	var want []string
	for i, l := range st {
		// Several source sockets so that SO_REUSEPORT spreads them.
		for src := range 4 {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(l.Addr))
			if err != nil {
				t.Fatal(err)
			}
			for k := range 50 {
				m := hep3(fmt.Sprintf("listener %d source %d message %d", i, src, k))
				if _, err := c.Write(m); err != nil {
					t.Fatal(err)
				}
				want = append(want, string(m))
			}
			c.Close()
		}
	}
	got := rec.wait(t, len(want))
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if rec.from[netip.MustParseAddr("127.0.0.1")] != 200 || rec.from[netip.MustParseAddr("::1")] != 200 {
		t.Errorf("sources %v, want 200 from 127.0.0.1 and 200 from ::1", rec.from)
	}
	stats := s.Stats()
	if stats.Messages[UDP] != uint64(len(want)) {
		t.Errorf("Stats.Messages[udp] = %d, want %d", stats.Messages[UDP], len(want))
	}
}

func TestTCPManyAgents(t *testing.T) {
	rec := newReceived()
	s := start(t, Config{Listen: []string{"tcp://127.0.0.1:0"}}, rec.handle)
	addr := s.Status()[0].Addr.String()

	const agents, per = 8, 100
	var want []string
	var stream [agents][]byte
	for a := range agents {
		for k := range per {
			m := hep3(fmt.Sprintf("agent %d message %d", a, k))
			want = append(want, string(m))
			stream[a] = append(stream[a], m...)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	for a := range agents {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			// Odd-sized writes split messages (and headers) across segments.
			b := stream[a]
			for step := 1 + a*7; len(b) > 0; {
				n := min(step, len(b))
				if _, err := c.Write(b[:n]); err != nil {
					errs <- err
					return
				}
				b = b[n:]
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := rec.wait(t, len(want))
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if st := s.Stats(); st.Accepted != agents {
		t.Errorf("accepted %d connections, want %d", st.Accepted, agents)
	}
}

func TestTCPGarbageResync(t *testing.T) {
	rec := newReceived()
	s := start(t, Config{Listen: []string{"tcp://127.0.0.1:0"}}, rec.handle)
	c, err := net.Dial("tcp", s.Status()[0].Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b []byte
	b = append(b, hep3("first")...)
	b = append(b, "garbage\r\n"...)
	b = append(b, hep3("second")...)
	b = append(b, 0, 0, 'x')
	b = append(b, hep3("third")...)
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	got := rec.wait(t, 3)
	want := []string{string(hep3("first")), string(hep3("second")), string(hep3("third"))}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	// The stream ends inside a message: counted as truncated and skipped.
	if _, err := c.Write(hep3("fourth")[:5]); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The counters are updated as the framer resyncs; wait for the close.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().OpenConns != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := s.Stats()
	if diff := cmp.Diff([]uint64{2, 1, 17}, []uint64{st.Errors["tcp/resync"], st.Errors["tcp/truncated"], st.Skipped}); diff != "" {
		t.Errorf("resyncs, truncated streams and skipped bytes (-want +got):\n%s", diff)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	rec := newReceived()
	s := start(t, Config{Listen: []string{"tcp://127.0.0.1:0"}, TCPIdle: 100 * time.Millisecond}, rec.handle)
	c, err := net.Dial("tcp", s.Status()[0].Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(hep3("hello")); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, 1)
	// The server closes the silent connection: our read sees EOF.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after idle = %v, want EOF (closed by server)", err)
	}
	if st := s.Stats(); st.IdleClosed != 1 || st.Errors["tcp/idle_timeout"] != 1 {
		t.Errorf("stats %+v: want one idle close", st)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and returns the server
// configuration and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "xhep test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

func TestTLS(t *testing.T) {
	srv, pool := selfSigned(t)
	rec := newReceived()
	s := start(t, Config{Listen: []string{"tls://127.0.0.1:0"}, TLS: srv}, rec.handle)
	addr := s.Status()[0].Addr.String()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var want []string
	for k := range 20 {
		m := hep3(fmt.Sprintf("tls message %d", k))
		want = append(want, string(m))
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	got := rec.wait(t, len(want))
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if rec.transport[TLS] != len(want) {
		t.Errorf("transports %v, want all tls", rec.transport)
	}

	// A plain-TCP client on the TLS port fails the handshake: counted.
	p, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.Write(append(hep3("plain"), bytes.Repeat([]byte{0}, 64)...))
	p.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, p)
	p.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Errors["tls/handshake"] == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Stats().Errors["tls/handshake"]; n != 1 {
		t.Errorf("handshake errors = %d, want 1", n)
	}
}

func TestNewErrors(t *testing.T) {
	h := func([]byte, netip.AddrPort, string) {}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no address", Config{}},
		{"bad scheme", Config{Listen: []string{"http://127.0.0.1:0"}}},
		{"tcp without framer", Config{Listen: []string{"tcp://127.0.0.1:0"}}},
		{"tls without cert", Config{Listen: []string{"tls://127.0.0.1:0"}, NewFramer: newFramer}},
		{"bad host", Config{Listen: []string{"udp://256.0.0.1:0"}}},
	}
	for _, tt := range tests {
		s, err := New(tt.cfg, h)
		if err == nil {
			s.Close()
			t.Errorf("%s: New succeeded, want an error", tt.name)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	s := start(t, Config{Listen: []string{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"}}, func([]byte, netip.AddrPort, string) {})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

// TestCloseDrains checks that Close takes what is already queued: UDP
// datagrams waiting in the socket buffers and bytes waiting on open streams.
func TestCloseDrains(t *testing.T) {
	rec := newReceived()
	s, err := New(Config{Listen: []string{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"}, Readers: 2, NewFramer: newFramer, DrainGrace: 2 * time.Second}, rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	st := s.Status()
	// Queue 2000 datagrams before anything reads them.
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(st[0].Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for k := range 2000 {
		if _, err := u.Write(hep3(fmt.Sprintf("queued %d", k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", st[1].Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(hep3("first"))
	rec.waitFor(t, func(r *received) bool { return r.transport[TCP] == 1 })
	var burst []byte
	for k := range 1000 {
		burst = append(burst, hep3(fmt.Sprintf("stream %d", k))...)
	}
	if _, err := c.Write(burst); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if diff := cmp.Diff(map[string]int{UDP: 2000, TCP: 1001}, rec.transport); diff != "" {
		t.Errorf("delivered before Close returned (-want +got):\n%s", diff)
	}
}

// TestUDPDropsCounted overflows a small receive buffer before anything
// reads it: the kernel's drops must show in Stats (SO_MEMINFO).
func TestUDPDropsCounted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_MEMINFO drop counts are Linux only")
	}
	rec := newReceived()
	s, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, Readers: 1, RcvBuf: 4096}, rec.handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.Status()[0].Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 200
	for range n {
		c.Write(hep3(fmt.Sprintf("%0600d", 0)))
	}
	if st := s.Status()[0]; st.Capped || st.RcvBuf < 4096 {
		t.Errorf("status %+v: want the 4096 bytes asked for granted", st)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	st := s.Stats()
	if st.UDPDrops == 0 || st.Messages[UDP]+st.UDPDrops != n {
		t.Errorf("received %d + dropped %d, want some drops and %d in all", st.Messages[UDP], st.UDPDrops, n)
	}
}
