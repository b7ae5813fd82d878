package collector

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// sipMsg builds a small SIP message with CRLF line ends.
func sipMsg(first, callID, cseq string) []byte {
	s := first + "\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-" + callID + "\nFrom: <sip:alice@a.example>;tag=1\nTo: <sip:bob@b.example>\nCall-ID: " + callID + "\nCSeq: " + cseq + "\nContent-Length: 0\n\n"
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

// hepMsg encodes a HEP3 message; at is the capture time.
func hepMsg(t testing.TB, proto hep.ProtoType, payload []byte, at time.Time, mod func(*hep.Message)) []byte {
	t.Helper()
	m := hep.Message{
		IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5060,
		TsSec: uint32(at.Unix()), TsUsec: uint32(at.Nanosecond() / 1000),
		Proto: proto, NodeID: 7, Payload: payload,
	}
	if mod != nil {
		mod(&m)
	}
	b, err := m.AppendTo(nil)
	if err != nil {
		t.Fatalf("encode HEP: %v", err)
	}
	return b
}

// rows collects what the service writes.
type rows struct {
	mu   sync.Mutex
	got  []printedRow
	cond *sync.Cond
}

type printedRow struct {
	Table          string         `json:"table"`
	CreateDate     string         `json:"create_date"`
	GID            uint32         `json:"gid"`
	HepHeader      map[string]any `json:"hep_header"`
	ProtocolHeader map[string]any `json:"protocol_header"`
	Payload        any            `json:"payload"`
	Raw            *string        `json:"raw"`
	RawBase64      *string        `json:"raw_base64"`
}

func (r *rows) Write(row *store.Row) error {
	var buf bytes.Buffer
	if err := newPrinter(&buf).Write(row); err != nil {
		return err
	}
	var p printedRow
	if err := json.Unmarshal(buf.Bytes(), &p); err != nil {
		return fmt.Errorf("printed row is not JSON: %v: %s", err, buf.Bytes())
	}
	r.mu.Lock()
	r.got = append(r.got, p)
	r.mu.Unlock()
	r.cond.Broadcast()
	return nil
}

func (r *rows) wait(t *testing.T, n int) []printedRow {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(10*time.Second, r.cond.Broadcast)
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.got) < n && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	if len(r.got) != n {
		t.Fatalf("got %d rows, want %d", len(r.got), n)
	}
	return slices.Clone(r.got)
}

// startService runs a service with the given listeners whose rows go to
// the returned collector, or to out when given (forward-only
// configuration, rows captured).
func startService(t *testing.T, cfg Config, out ...rowWriter) (*Service, *rows) {
	t.Helper()
	if len(cfg.Forward) == 0 && cfg.MySQL == "" {
		// Forward to a socket nobody reads, so the configuration is valid
		// without a database; rows are captured below.
		sink, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sink.Close() })
		cfg.Forward = []string{"udp://" + sink.LocalAddr().String()}
	}
	if cfg.HTTP == "" {
		cfg.HTTP = "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := &rows{}
	r.cond = sync.NewCond(&r.mu)
	if cfg.MySQL == "" {
		s.out = r
		if len(out) > 0 {
			s.out = out[0]
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// The sockets are bound in New: what is sent before Run starts
	// reading waits in the kernel.
	return s, r
}

func addrOf(t *testing.T, s *Service, transport string) string {
	t.Helper()
	for _, l := range s.Listeners() {
		if l.Transport == transport {
			return l.Addr.String()
		}
	}
	t.Fatalf("no %s listener", transport)
	return ""
}

// metricsText fetches /metrics.
func metricsText(t *testing.T, s *Service) string {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricValue returns the value of the sample whose line starts with
// name{labels} (or name alone), or -1 when absent.
func metricValue(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// waitMetric polls /metrics until cond holds or 10 s passed.
func waitMetric(t *testing.T, s *Service, cond func(string) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond(metricsText(t, s)) {
			return
		}
	}
	t.Fatal("metrics did not reach the expected state in 10s")
}

// metricSum adds the samples whose line starts with prefix.
func metricSum(text, prefix string) float64 {
	var sum float64
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			var f float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &f)
			sum += f
		}
	}
	return sum
}

func TestUDPEndToEnd(t *testing.T) {
	s, r := startService(t, Config{Listen: []string{"udp://127.0.0.1:0"}})
	c, err := net.Dial("udp", addrOf(t, s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)
	msgs := [][]byte{
		hepMsg(t, hep.ProtoSIP, sipMsg("INVITE sip:bob@b.example SIP/2.0", "call-1", "1 INVITE"), t0, nil),
		hepMsg(t, hep.ProtoSIP, sipMsg("SIP/2.0 100 Trying", "call-1", "1 INVITE"), t0.Add(20*time.Millisecond), nil),
		hepMsg(t, hep.ProtoSIP, sipMsg("SIP/2.0 200 OK", "call-1", "1 INVITE"), t0.Add(3*time.Second), func(m *hep.Message) { m.Compress = true }),
		hepMsg(t, hep.ProtoSIP, sipMsg("REGISTER sip:b.example SIP/2.0", "reg-1", "1 REGISTER"), t0, nil),
		hepMsg(t, hep.ProtoSIP, sipMsg("SIP/2.0 401 Unauthorized", "reg-1", "1 REGISTER"), t0, nil),
		hepMsg(t, hep.ProtoSIP, sipMsg("OPTIONS sip:b.example SIP/2.0", "opt-1", "1 OPTIONS"), t0, nil),
		hepMsg(t, hep.ProtoSIP, []byte("\x00\x01 not SIP"), t0, nil),
		hepMsg(t, hep.ProtoLog, []byte("a log line"), t0, nil),
		hepMsg(t, hep.ProtoSIP, nil, t0, func(m *hep.Message) { m.KeepAlive = 30; m.Set(hep.ChunkKeepAlive) }), // keep-alive: counted, not stored
		{},                             // an agent's reachability probe: counted as a keep-alive, not a decode error
		[]byte("HEP3 this is not HEP"), // dropped, counted
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	}
	for _, m := range msgs {
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // keep order for the KPI table
	}
	got := r.wait(t, 8)
	// The two datagrams that are not HEP come last; wait until they are counted.
	waitMetric(t, s, func(m string) bool { return metricSum(m, "xhep_collector_decode_errors_total{") == 2 })
	tables := map[string]int{}
	for _, row := range got {
		tables[row.Table]++
	}
	want := map[string]int{"hep_proto_1_call": 3, "hep_proto_1_registration": 2, "hep_proto_1_default": 2, "hep_proto_100_default": 1}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("rows by table (-want +got):\n%s", diff)
	}
	for _, row := range got {
		if row.GID != 7 || row.CreateDate[:19] != "2026-11-26 12:00:00" && row.CreateDate[:19] != "2026-11-26 12:00:03" {
			t.Errorf("row %s: gid %d create_date %s", row.Table, row.GID, row.CreateDate)
		}
	}
	m := metricsText(t, s)
	checks := map[string]float64{
		`xhep_collector_messages_total{transport="udp",type="sip"}`:                              8,
		`xhep_collector_no_payload_total`:                                                        2,
		`xhep_collector_messages_total{transport="udp",type="log"}`:                              1,
		`xhep_collector_dissect_errors_total{reason="sip_malformed"}`:                            1,
		`xhep_sip_requests_total{method="INVITE",node="7",peer="other"}`:                         1,
		`xhep_sip_requests_total{method="REGISTER",node="7",peer="other"}`:                       1,
		`xhep_sip_responses_total{class="2xx",code="200",method="INVITE",node="7",peer="other"}`: 1,
		`xhep_sip_register_responses_total{node="7",outcome="challenge",peer="other"}`:           1,
		`xhep_sip_srd_seconds_count{node="7",peer="other"}`:                                      1,
		`xhep_sip_srd_seconds_sum{node="7",peer="other"}`:                                        3, // 100 Trying excluded
		`xhep_sip_invite_outcomes_total{node="7",outcome="answered",peer="other"}`:               1,
		`xhep_sip_invite_answer_seconds_sum{node="7",peer="other"}`:                              3,
		`xhep_collector_received_messages_total{transport="udp"}`:                                12,
	}
	for series, want := range checks {
		if got := metricValue(m, series); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := metricSum(m, "xhep_collector_decode_errors_total{"); got != 2 {
		t.Errorf("decode errors = %v, want 2", got)
	}
}

func TestAuthKeyAndForward(t *testing.T) {
	fwd, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	s, r := startService(t, Config{
		Listen:  []string{"udp://127.0.0.1:0"},
		AuthKey: "secret",
		Forward: []string{"udp://" + fwd.LocalAddr().String()},
	})
	c, err := net.Dial("udp", addrOf(t, s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	good := hepMsg(t, hep.ProtoLog, []byte("with key"), now, func(m *hep.Message) { m.AuthKey = []byte("secret") })
	bad := hepMsg(t, hep.ProtoLog, []byte("wrong key"), now, func(m *hep.Message) { m.AuthKey = []byte("guess") })
	none := hepMsg(t, hep.ProtoLog, []byte("no key"), now, nil)
	for _, m := range [][]byte{bad, none, good} {
		if _, err := c.Write(m); err != nil {
			t.Fatal(err)
		}
	}
	got := r.wait(t, 1)
	if got[0].Payload.(map[string]any)["message"] != "with key" {
		t.Errorf("stored %v, want only the message with the key", got[0].Payload)
	}
	// The forward destination gets the accepted message, byte for byte.
	fwd.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	n, _, err := fwd.ReadFrom(buf)
	if err != nil {
		t.Fatalf("forwarded copy: %v", err)
	}
	if !bytes.Equal(buf[:n], good) {
		t.Errorf("forwarded %q, want %q", buf[:n], good)
	}
	m := metricsText(t, s)
	if v := metricValue(m, "xhep_collector_auth_rejects_total"); v != 2 {
		t.Errorf("auth rejects = %v, want 2", v)
	}
}

func TestTCPAndTLSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	s, r := startService(t, Config{
		Listen:  []string{"tcp://127.0.0.1:0", "tls://127.0.0.1:0"},
		TLSCert: certFile, TLSKey: keyFile,
	})
	now := time.Now()
	var stream []byte
	for i := range 50 {
		stream = append(stream, hepMsg(t, hep.ProtoSIP, sipMsg("OPTIONS sip:b.example SIP/2.0", fmt.Sprintf("tcp-%d", i), "1 OPTIONS"), now, nil)...)
		if i == 10 {
			stream = append(stream, "garbage between messages"...)
		}
	}
	// Several agents at once, writes split at odd sizes.
	var wg sync.WaitGroup
	for agent := range 3 {
		wg.Go(func() {
			c, err := net.Dial("tcp", addrOf(t, s, "tcp"))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for b := stream; len(b) > 0; {
				n := min(len(b), 97+agent*13)
				c.Write(b[:n])
				b = b[n:]
			}
		})
	}
	wg.Wait()
	tc, err := tls.Dial("tcp", addrOf(t, s, "tls"), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tc.Write(stream)
	tc.Close()
	got := r.wait(t, 4*50)
	for _, row := range got {
		if row.Table != "hep_proto_1_default" {
			t.Fatalf("row in %s", row.Table)
		}
	}
	m := metricsText(t, s)
	for series, want := range map[string]float64{
		`xhep_collector_messages_total{transport="tcp",type="sip"}`: 150,
		`xhep_collector_messages_total{transport="tls",type="sip"}`: 50,
		// Every stream skipped its garbage and nothing else.
		`xhep_collector_stream_skipped_bytes_total`: 4 * float64(len("garbage between messages")),
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xhep-collector test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestHEPv2(t *testing.T) {
	s, r := startService(t, Config{Listen: []string{"udp://127.0.0.1:0"}})
	c, err := net.Dial("udp", addrOf(t, s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// HEP v2, IPv4 (little-endian times and node id, as captagent 4 writes):
	//
	//	version 2 | header length 28 | family 2 | proto 17 | sport 5060 | dport 5060 (big endian)
	//	src 192.0.2.1 | dst 192.0.2.2 | ts sec | ts usec | node id u16 | 2 padding | payload
	v2 := []byte{2, 28, 2, 17, 0x13, 0xc4, 0x13, 0xc4, 192, 0, 2, 1, 192, 0, 2, 2}
	v2 = append(v2, 0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, 0x07, 0x00, 0, 0)
	v2 = append(v2, sipMsg("BYE sip:bob@b.example SIP/2.0", "v2-call", "2 BYE")...)
	if _, err := c.Write(v2); err != nil {
		t.Fatal(err)
	}
	got := r.wait(t, 1)
	if got[0].Table != "hep_proto_1_call" || got[0].HepHeader["hepVersion"] != 2.0 || got[0].ProtocolHeader["callid"] != "v2-call" {
		t.Errorf("v2 row: %+v", got[0])
	}
}

// TestMuxHook checks that a handler registered on Mux before Run is served
// next to /metrics (how the HTTP API mounts itself).
func TestMuxHook(t *testing.T) {
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	s, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, Forward: []string{"udp://" + sink.LocalAddr().String()}, HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s.Mux().HandleFunc("/api/v1/ping", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "pong") })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	resp, err := http.Get("http://" + s.HTTPAddr().String() + "/api/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "pong" {
		t.Errorf("GET /api/v1/ping = %q", b)
	}
	if m := metricsText(t, s); !strings.Contains(m, "xhep_collector_udp_rcvbuf_bytes") {
		t.Error("/metrics lacks the listener metrics")
	}
}

// TestHTTPOverTLS serves /metrics (and so the API) over TLS with
// --http-cert/--http-key: a TLS client that trusts the certificate reads
// it, a plain-HTTP client is refused.
func TestHTTPOverTLS(t *testing.T) {
	cert, key, pool := writeCert(t, t.TempDir())
	s, _ := startService(t, Config{Listen: []string{"udp://127.0.0.1:0"}, HTTPCert: cert, HTTPKey: key})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ { // Run starts serving in a goroutine
		if resp, err = c.Get("https://" + s.HTTPAddr().String() + "/metrics"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "xhep_collector_") {
		t.Fatalf("GET /metrics over TLS: %d, %d bytes", resp.StatusCode, len(b))
	}
	if resp, err := http.Get("http://" + s.HTTPAddr().String() + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served on a TLS address")
		}
	}
}

func TestHTTPTLSConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Listen: []string{"udp://127.0.0.1:0"}, Forward: []string{"udp://127.0.0.1:9"}, HTTP: "127.0.0.1:0", HTTPCert: "c.pem"},
		{Listen: []string{"udp://127.0.0.1:0"}, Forward: []string{"udp://127.0.0.1:9"}, HTTPCert: "c.pem", HTTPKey: "k.pem"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
