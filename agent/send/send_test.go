package send

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fastCfg is a Config with short timers for tests.
func fastCfg(collectors ...string) Config {
	return Config{
		Collectors:   collectors,
		QueueLen:     1024,
		BackoffMin:   10 * time.Millisecond,
		BackoffMax:   50 * time.Millisecond,
		DialTimeout:  time.Second,
		ProbeWait:    20 * time.Millisecond,
		DrainTimeout: 10 * time.Second,
	}
}

func newGroup(t testing.TB, cfg Config) *Group {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		ok   bool
	}{
		{"udp://127.0.0.1:9060", Target{"udp", "127.0.0.1", 9060}, true},
		{"tcp://[::1]:9061", Target{"tcp", "::1", 9061}, true},
		{"tls://collector.example:9062", Target{"tls", "collector.example", 9062}, true},
		{"http://127.0.0.1:80", Target{}, false},
		{"127.0.0.1:9060", Target{}, false},
		{"udp://127.0.0.1", Target{}, false},
		{"udp://127.0.0.1:0", Target{}, false},
		{"udp://:9060", Target{}, false},
		{"udp://127.0.0.1:70000", Target{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseTarget(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("ParseTarget(%q) error %v does not wrap ErrConfig", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTarget(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	if got := (Target{"tcp", "::1", 9061}).String(); got != "tcp://[::1]:9061" {
		t.Errorf("String = %q", got)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"all": ModeAll, "": ModeAll, "failover": ModeFailover, "hash": ModeHash} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
		if in != "" && got.String() != in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
	if _, err := ParseMode("random"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseMode(random) = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Collectors: []string{"udp://127.0.0.1"}},
		{Collectors: []string{"udp://127.0.0.1:1"}, Mode: 9},
		{Collectors: []string{"tls://127.0.0.1:1"}, TLSCA: "/nonexistent/ca.pem"},
	} {
		if g, err := New(cfg); err == nil {
			g.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestResolveTargets(t *testing.T) {
	got, err := ResolveTargets([]string{"udp://127.0.0.1:9060", "tcp://[::ffff:10.0.0.1]:9061", "tls://localhost:9062"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 3 || got[0].String() != "127.0.0.1:9060" || got[1].String() != "10.0.0.1:9061" || got[2].Port() != 9062 {
		t.Errorf("ResolveTargets = %v", got)
	}
}

// sendSeq sends messages from..to-1 with pause between them.
func sendSeq(t testing.TB, g *Group, from, to int, key func(int) []byte) {
	t.Helper()
	for i := from; i < to; i++ {
		var k []byte
		if key != nil {
			k = key(i)
		}
		g.Send(hepMsg(t, i, 0), k)
	}
}

func TestDeliveryInOrder(t *testing.T) {
	for _, scheme := range []string{"udp", "tcp", "tls"} {
		t.Run(scheme, func(t *testing.T) {
			var srvCfg *tls.Config
			cfg := fastCfg()
			if scheme == "tls" {
				srvCfg, cfg.TLSCA = testCert(t)
			}
			c := newCollector(t, scheme, srvCfg)
			cfg.Collectors = []string{c.url()}
			cfg.Block = true
			g := newGroup(t, cfg)
			const n = 5000
			sendSeq(t, g, 0, n, nil)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			got := c.waitCount(n, 5*time.Second)
			if diff := cmp.Diff(seqRange(0, n), got); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			st := g.Stats()
			if st.Sent() != n || st.Dropped() != 0 || st.Queues[0].Enqueued != n {
				t.Errorf("stats: %+v", st)
			}
		})
	}
}

func TestTLSVerify(t *testing.T) {
	srvCfg, _ := testCert(t)
	c := newCollector(t, "tls", srvCfg)
	// Without the CA the certificate does not verify: nothing connects.
	cfg := fastCfg(c.url())
	cfg.DrainTimeout = 200 * time.Millisecond
	g := newGroup(t, cfg)
	g.Send(hepMsg(t, 1, 0), nil)
	waitFor(t, "a failed TLS handshake", 5*time.Second, func() bool { return g.Stats().Collectors[0].Errors > 0 })
	g.Close()
	if st := g.Stats(); st.Sent() != 0 || st.Queues[0].Undelivered != 1 {
		t.Errorf("stats: %+v", st)
	}
	// With --tls-insecure it does.
	cfg.TLSInsecure = true
	cfg.DrainTimeout = 5 * time.Second
	g2 := newGroup(t, cfg)
	g2.Send(hepMsg(t, 2, 0), nil)
	g2.Close()
	if got := c.waitCount(1, 5*time.Second); !cmp.Equal(got, []int{2}) {
		t.Errorf("received %v, want [2]", got)
	}
}

// TestTCPRestartSpool: the collector goes away in the middle of the run and
// comes back; every message arrives exactly once and in order.
func TestTCPRestartSpool(t *testing.T) {
	c := newCollector(t, "tcp", nil)
	cfg := fastCfg(c.url())
	cfg.SpoolDir = t.TempDir()
	g := newGroup(t, cfg)

	sendSeq(t, g, 0, 1000, nil)
	if got := c.waitCount(1000, 5*time.Second); len(got) != 1000 {
		t.Fatalf("phase 1: received %d of 1000", len(got))
	}
	c.stop()
	waitFor(t, "the sender to see the collector gone", 5*time.Second, func() bool { return !g.Stats().Collectors[0].Up })

	sendSeq(t, g, 1000, 3000, nil) // spooled: nobody listens
	waitFor(t, "the spool to hold phase 2", 5*time.Second, func() bool { return g.Stats().Queues[0].SpoolRecords == 2000 })
	if q := g.Stats().Queues[0]; !q.Spooling || q.Spooled != 2000 || q.Depth != 0 {
		t.Fatalf("while down: %+v", q)
	}

	c.restart()
	sendSeq(t, g, 3000, 4000, nil) // may go to the spool or the queue: order must hold
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	got := c.waitCount(4000, 5*time.Second)
	if diff := cmp.Diff(seqRange(0, 4000), got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	st := g.Stats()
	q := st.Queues[0]
	if st.Sent() != 4000 || st.Dropped() != 0 || q.Replayed != q.Spooled || q.Spooled < 2000 || q.SpoolRecords != 0 {
		t.Errorf("stats: %+v", st)
	}
}

// TestUDPRefused: nothing listens on the UDP port. The probe before the
// first message sees ICMP port unreachable, so every message is spooled and
// replayed once the collector listens. Then the collector goes away in the
// middle of the run: datagrams already sent when the ICMP comes back are
// lost (as any datagram to a closed port), the rest are spooled and
// replayed in order.
func TestUDPRefused(t *testing.T) {
	addr := freePort(t, "udp")
	cfg := fastCfg("udp://" + addr)
	cfg.SpoolDir = t.TempDir()
	g := newGroup(t, cfg)
	sendSeq(t, g, 0, 500, nil)
	waitFor(t, "the probe to fail", 5*time.Second, func() bool { return g.Stats().Queues[0].Spooled == 500 })
	if st := g.Stats(); st.Sent() != 0 {
		t.Fatalf("sent %d messages into a closed port", st.Sent())
	}
	c := &testCollector{t: t, scheme: "udp", hwm: map[uint64]uint64{}}
	c.start(addr)
	t.Cleanup(c.stop)
	if diff := cmp.Diff(seqRange(0, 500), c.waitCount(500, 5*time.Second)); diff != "" {
		t.Fatalf("received (-want +got):\n%s", diff)
	}

	// The collector stops; send one message at a time until the lane
	// notices.
	c.stop()
	sent0 := g.Stats().Sent()
	next := 500
	for ; !g.Stats().Queues[0].Spooling; next++ {
		if next > 600 {
			t.Fatal("never saw ECONNREFUSED")
		}
		g.Send(hepMsg(t, next, 0), nil)
		time.Sleep(5 * time.Millisecond)
	}
	lost := int(g.Stats().Sent() - sent0)
	if lost == 0 || 500+lost >= next {
		t.Fatalf("%d sent before the lane went down, %d queued", lost, next-500)
	}
	sendSeq(t, g, next, 1000, nil)
	c.restart()
	got := c.waitCount(1000-lost, 5*time.Second)
	if diff := cmp.Diff(append(seqRange(0, 500), seqRange(500+lost, 1000)...), got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	g.Close()
	if q := g.Stats().Queues[0]; int(q.Spooled) != 1000-lost || q.Replayed != q.Spooled || q.SpoolRecords != 0 {
		t.Errorf("queue stats: %+v", q)
	}
}

// TestSpoolAcrossRestart: messages spooled while the collector was down
// when the agent stopped are sent by the next agent run.
func TestSpoolAcrossRestart(t *testing.T) {
	addr := freePort(t, "tcp")
	dir := t.TempDir()
	cfg := fastCfg("tcp://" + addr)
	cfg.SpoolDir = dir
	cfg.DrainTimeout = 100 * time.Millisecond
	g := newGroup(t, cfg)
	sendSeq(t, g, 0, 300, nil)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	if st.Sent() != 0 || st.Dropped() != 0 || st.Queues[0].SpoolRecords != 300 {
		t.Fatalf("first run: %+v", st)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tcp_127.0.0.1_"+addr[len("127.0.0.1:"):])); len(ents) == 0 {
		t.Errorf("no spool segment on disk")
	}

	c := &testCollector{t: t, scheme: "tcp", hwm: map[uint64]uint64{}}
	c.start(addr)
	t.Cleanup(c.stop)
	cfg.DrainTimeout = 10 * time.Second
	g2 := newGroup(t, cfg)
	sendSeq(t, g2, 300, 400, nil)
	g2.Close()
	if diff := cmp.Diff(seqRange(0, 400), c.waitCount(400, 5*time.Second)); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

func TestDropsCounted(t *testing.T) {
	t.Run("queue full without spool", func(t *testing.T) {
		cfg := fastCfg("tcp://" + freePort(t, "tcp"))
		cfg.QueueLen = 100
		cfg.DrainTimeout = 50 * time.Millisecond
		g := newGroup(t, cfg)
		sendSeq(t, g, 0, 250, nil)
		g.Close()
		q := g.Stats().Queues[0]
		if q.DropQueueFull != 150 || q.Undelivered != 100 || q.Enqueued != 100 {
			t.Errorf("queue stats: %+v", q)
		}
	})
	t.Run("spool full", func(t *testing.T) {
		cfg := fastCfg("tcp://" + freePort(t, "tcp"))
		cfg.SpoolDir = t.TempDir()
		cfg.SpoolMax = 1 << 20 // the smallest a lane gets
		cfg.DrainTimeout = 50 * time.Millisecond
		g := newGroup(t, cfg)
		// Random bytes do not compress: 3000 × 1 KiB overflows 1 MiB.
		junk := make([]byte, 1000)
		for i := range 3000 {
			rand.Read(junk)
			m := append(hepMsg(t, i, 0), junk...)
			m[4], m[5] = byte(len(m)>>8), byte(len(m))
			g.Send(m, nil)
		}
		g.Close()
		q := g.Stats().Queues[0]
		if q.DropSpoolFull == 0 || q.Spooled+q.DropSpoolFull+uint64(q.Depth) != 3000 {
			t.Errorf("queue stats: %+v", q)
		}
	})
	t.Run("send after close", func(t *testing.T) {
		g := newGroup(t, fastCfg("udp://"+freePort(t, "udp")))
		g.Close()
		g.Send(hepMsg(t, 0, 0), nil)
		g.Send(nil, nil)
		if st := g.Stats(); st.Queues[0].DropClosed != 1 || st.Empty != 1 || st.Dropped() != 2 {
			t.Errorf("stats: %+v", st)
		}
	})
}

func TestSendModes(t *testing.T) {
	key := func(i int) []byte { return []byte(fmt.Sprintf("call-%d@example.com", i%20)) }
	const n = 400
	t.Run("all", func(t *testing.T) {
		a, b := newCollector(t, "tcp", nil), newCollector(t, "udp", nil)
		cfg := fastCfg(a.url(), b.url())
		cfg.Block = true
		g := newGroup(t, cfg)
		sendSeq(t, g, 0, n, key)
		g.Close()
		for _, c := range []*testCollector{a, b} {
			if diff := cmp.Diff(seqRange(0, n), c.waitCount(n, 5*time.Second)); diff != "" {
				t.Errorf("%s received (-want +got):\n%s", c.url(), diff)
			}
		}
	})
	t.Run("hash", func(t *testing.T) {
		cs := []*testCollector{newCollector(t, "tcp", nil), newCollector(t, "tcp", nil), newCollector(t, "tcp", nil)}
		cfg := fastCfg(cs[0].url(), cs[1].url(), cs[2].url())
		cfg.Mode = ModeHash
		cfg.Block = true
		g := newGroup(t, cfg)
		sendSeq(t, g, 0, n, key)
		g.Close()
		waitFor(t, "every message", 5*time.Second, func() bool {
			return len(cs[0].received())+len(cs[1].received())+len(cs[2].received()) >= n
		})
		where := map[int]int{} // call → collector
		total := 0
		for ci, c := range cs {
			got := c.received()
			total += len(got)
			if len(got) == 0 {
				t.Errorf("collector %d got nothing", ci)
			}
			for k := 1; k < len(got); k++ {
				if got[k] <= got[k-1] {
					t.Errorf("collector %d: out of order at %d", ci, k)
				}
			}
			for _, s := range got {
				if w, ok := where[s%20]; ok && w != ci {
					t.Errorf("call %d on collectors %d and %d", s%20, w, ci)
				}
				where[s%20] = ci
			}
		}
		if total != n {
			t.Errorf("received %d messages, want %d", total, n)
		}
	})
	t.Run("failover", func(t *testing.T) {
		down := "tcp://" + freePort(t, "tcp")
		b, c := newCollector(t, "tcp", nil), newCollector(t, "tcp", nil)
		cfg := fastCfg(down, b.url(), c.url())
		cfg.Mode = ModeFailover
		cfg.Block = true
		g := newGroup(t, cfg)
		sendSeq(t, g, 0, n, nil)
		// The second collector goes away: the third takes over.
		waitFor(t, "delivery to the second", 5*time.Second, func() bool { return len(b.received()) == n })
		b.stop()
		waitFor(t, "failover", 5*time.Second, func() bool { return !g.Stats().Collectors[1].Up })
		sendSeq(t, g, n, 2*n, nil)
		g.Close()
		if diff := cmp.Diff(seqRange(0, n), b.received()); diff != "" {
			t.Errorf("second collector (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(seqRange(n, 2*n), c.waitCount(n, 5*time.Second)); diff != "" {
			t.Errorf("third collector (-want +got):\n%s", diff)
		}
		st := g.Stats()
		if st.Collectors[0].Sent != 0 || st.Collectors[0].Errors == 0 || st.Dropped() != 0 {
			t.Errorf("stats: %+v", st)
		}
	})
}

// TestFailoverBack: with the first collector down the lane uses the
// second; once the first answers again the lane moves back to it, without
// losing or repeating a message.
func TestFailoverBack(t *testing.T) {
	primary := freePort(t, "tcp")
	second := newCollector(t, "tcp", nil)
	cfg := fastCfg("tcp://"+primary, second.url())
	cfg.Mode = ModeFailover
	cfg.Block = true
	g := newGroup(t, cfg)
	sendSeq(t, g, 0, 100, nil)
	waitFor(t, "delivery to the second collector", 5*time.Second, func() bool { return len(second.received()) == 100 })

	first := &testCollector{t: t, scheme: "tcp", hwm: map[uint64]uint64{}}
	first.start(primary)
	t.Cleanup(first.stop)
	next := 100
	waitFor(t, "the move back to the first collector", 10*time.Second, func() bool {
		sendSeq(t, g, next, next+10, nil)
		next += 10
		time.Sleep(5 * time.Millisecond)
		return len(first.received()) > 0
	})
	sendSeq(t, g, next, next+100, nil)
	next += 100
	g.Close()
	a, b := second.received(), first.waitCount(next-len(second.received()), 5*time.Second)
	// Messages the second collector had not acknowledged when the agent
	// moved back are sent again to the first: two independent collectors
	// cannot deduplicate each other's streams, so an overlap is allowed,
	// but only of resent messages, and nothing may be missing.
	k := 0
	if len(a) > 0 {
		for k < len(b) && b[k] <= a[len(a)-1] {
			k++
		}
	}
	if diff := cmp.Diff(seqRange(0, next), append(a, b[k:]...)); diff != "" {
		t.Errorf("second then first collector, overlap of %d removed (-want +got):\n%s", k, diff)
	}
	st := g.Stats()
	resent := int(st.Queues[0].Resent)
	if k > resent {
		t.Errorf("%d messages reached both collectors, but only %d were resent", k, resent)
	}
	if st.Collectors[0].Connects != 1 || int(st.Collectors[0].Sent) != len(b) || int(st.Sent()) != next+resent || st.Dropped() != 0 {
		t.Errorf("stats: %+v", st)
	}
}

// testCert makes a self-signed certificate for 127.0.0.1 and returns the
// server's TLS config and the path of the CA file.
func testCert(t testing.TB) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "xhep test collector"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, ca
}

// BenchmarkSendUDP and BenchmarkSendTCP: Send of a 600-byte message into a
// lane delivering to a test collector on loopback; cpu-ns/msg is this
// process's CPU (producer, sender goroutine, and the collector's receiving
// side) per message, msgs/syscall the batches achieved.
func BenchmarkSendUDP(b *testing.B) { benchSend(b, "udp") }

func BenchmarkSendTCP(b *testing.B) { benchSend(b, "tcp") }

func benchSend(b *testing.B, scheme string) {
	c := newCollector(b, scheme, nil)
	cfg := fastCfg(c.url())
	cfg.QueueLen = 1 << 16
	cfg.Block = true
	g := newGroup(b, cfg)
	msg := hepMsg(b, 1, 600)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	cpu0 := processCPU()
	for b.Loop() {
		g.Send(msg, nil)
	}
	g.Close()
	cpu := processCPU() - cpu0
	st := g.Stats().Collectors[0]
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(len(c.received())), "received")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
	}
	if n := st.Syscalls(); n > 0 {
		b.ReportMetric(float64(st.Sent)/float64(n), "msgs/syscall")
	}
}

// TestQueueMemoryAndBatches: a queue far longer than its backlog holds
// buffers for the backlog only, and the batch histogram accounts for every
// message sent.
func TestQueueMemoryAndBatches(t *testing.T) {
	for _, scheme := range []string{"udp", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			c := newCollector(t, scheme, nil)
			cfg := fastCfg(c.url())
			cfg.QueueLen = 1 << 16
			cfg.BatchLen = 64
			g := newGroup(t, cfg)
			const bursts, burst = 50, 100
			for i := range bursts {
				for j := range burst {
					g.Send(hepMsg(t, i*burst+j, 100), nil)
				}
				waitFor(t, "the queue to empty", 5*time.Second, func() bool { return g.Stats().Queues[0].Depth == 0 })
			}
			st := g.Stats()
			if q := st.Queues[0]; q.Buffers > 2*burst || q.Buffers == 0 {
				t.Errorf("queue holds %d buffers after bursts of %d (capacity %d): want at most about one burst", q.Buffers, burst, q.Capacity)
			}
			col := st.Collectors[0]
			if col.Sent != bursts*burst {
				t.Fatalf("sent %d, want %d", col.Sent, bursts*burst)
			}
			// Each bucket i holds syscalls of 2^i..2^(i+1)-1 messages.
			var lo, hi uint64
			for i, v := range col.Batches {
				lo += v << i
				hi += v * (2<<i - 1)
			}
			if calls := col.Syscalls(); calls == 0 || lo > col.Sent || hi < col.Sent || calls > col.Sent {
				t.Errorf("batches %v (%d syscalls) do not account for %d messages", col.Batches, calls, col.Sent)
			}
			if col.Syscalls() >= bursts*burst/4 {
				t.Errorf("%d syscalls for %d messages sent in bursts of %d: batching does not work", col.Syscalls(), col.Sent, burst)
			}
		})
	}
}
