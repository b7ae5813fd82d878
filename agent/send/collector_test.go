package send

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xhep/xhep/hep"
)

// testCollector is a real HEP listener on loopback: UDP, TCP or TLS. It
// records the sequence number each message carries in its payload
// ("seq=N"), in arrival order. It can be stopped and started again on the
// same port. Over TCP and TLS it acknowledges like xhep-collector (each
// message at once, as if it were durable on arrival) and drops resends
// by the stream's high-water mark, unless plain is set (a foreign peer
// such as heplify-server: no acks, no dedup).
type testCollector struct {
	t      testing.TB
	scheme string
	addr   string
	tlsCfg *tls.Config
	plain  bool
	hold   atomic.Bool // receive but send no acks (not durable yet)

	mu      sync.Mutex
	hwm     map[uint64]uint64
	dups    int
	seqs    []int
	bad     int
	stopped chan struct{}
	closers []func()
	wg      sync.WaitGroup
}

func newCollector(t testing.TB, scheme string, tlsCfg *tls.Config) *testCollector {
	c := &testCollector{t: t, scheme: scheme, tlsCfg: tlsCfg, hwm: map[uint64]uint64{}}
	c.start("127.0.0.1:0")
	t.Cleanup(c.stop)
	return c
}

// newPlainCollector is a TCP/TLS collector that never acknowledges.
func newPlainCollector(t testing.TB, scheme string, tlsCfg *tls.Config) *testCollector {
	c := &testCollector{t: t, scheme: scheme, tlsCfg: tlsCfg, plain: true, hwm: map[uint64]uint64{}}
	c.start("127.0.0.1:0")
	t.Cleanup(c.stop)
	return c
}

func (c *testCollector) url() string { return c.scheme + "://" + c.addr }

func (c *testCollector) start(addr string) {
	c.t.Helper()
	c.mu.Lock()
	c.stopped = make(chan struct{})
	c.closers = nil
	c.mu.Unlock()
	if c.scheme == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			c.t.Fatalf("listen: %v", err)
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			uc.SetReadBuffer(8 << 20)
		}
		c.addr = pc.LocalAddr().String()
		c.mu.Lock()
		c.closers = append(c.closers, func() { pc.Close() })
		c.mu.Unlock()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			buf := make([]byte, 65536)
			uc := pc.(*net.UDPConn)
			for {
				n, err := uc.Read(buf)
				if err != nil {
					return
				}
				if n == 0 {
					continue // a sender's probe
				}
				c.record(buf[:n])
			}
		}()
		return
	}
	var ln net.Listener
	var err error
	if c.scheme == "tls" {
		ln, err = tls.Listen("tcp", addr, c.tlsCfg)
	} else {
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		c.t.Fatalf("listen: %v", err)
	}
	c.addr = ln.Addr().String()
	c.mu.Lock()
	c.closers = append(c.closers, func() { ln.Close() })
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			select {
			case <-c.stopped:
				c.mu.Unlock()
				conn.Close()
				return
			default:
			}
			c.closers = append(c.closers, func() { conn.Close() })
			c.mu.Unlock()
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				f := hep.NewFramer(conn, 0)
				var ack []byte
				for {
					b, err := f.Next()
					if err != nil {
						return
					}
					stream, seq, ok := hep.SeqOf(b)
					if !ok || c.plain {
						c.record(b)
						continue
					}
					c.mu.Lock()
					dup := seq <= c.hwm[stream]
					if dup {
						c.dups++
					} else {
						c.hwm[stream] = seq
					}
					c.mu.Unlock()
					if !dup {
						c.record(b)
					}
					if c.hold.Load() {
						continue
					}
					ack = hep.AppendAcks(ack[:0], []hep.Ack{{Stream: stream, Seq: max(seq, c.hwmOf(stream))}})
					if _, err := conn.Write(ack); err != nil {
						return
					}
				}
			}()
		}
	}()
}

func (c *testCollector) record(b []byte) {
	var m hep.Message
	seq := -1
	if err := m.DecodeFromBytes(b); err == nil {
		if s, ok := strings.CutPrefix(string(m.Payload), "seq="); ok {
			if n, err := strconv.Atoi(s); err == nil {
				seq = n
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq < 0 {
		c.bad++
		return
	}
	c.seqs = append(c.seqs, seq)
}

func (c *testCollector) hwmOf(stream uint64) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hwm[stream]
}

// forget drops what was received and the high-water marks: a collector
// that crashed before any of it was durable.
func (c *testCollector) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seqs, c.hwm = nil, map[uint64]uint64{}
}

func (c *testCollector) dupCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dups
}

// stop closes the listener and every connection and waits for the readers.
func (c *testCollector) stop() {
	c.mu.Lock()
	select {
	case <-c.stopped:
		c.mu.Unlock()
		return
	default:
	}
	close(c.stopped)
	closers := c.closers
	c.mu.Unlock()
	for _, f := range closers {
		f()
	}
	c.wg.Wait()
}

// restart listens again on the same address.
func (c *testCollector) restart() { c.start(c.addr) }

func (c *testCollector) received() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seqs...)
}

// waitCount waits until n messages arrived (or the timeout) and returns
// what arrived.
func (c *testCollector) waitCount(n int, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		got := c.received()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hepMsg encodes a HEP3 SIP message whose payload is "seq=N".
func hepMsg(t testing.TB, seq int, pad int) []byte {
	t.Helper()
	m := hep.Message{
		IPFamily: 2, IPProto: 17, Proto: hep.ProtoSIP,
		SrcPort: 5060, DstPort: 5060, TsSec: 1767225600, NodeID: 7,
	}
	p := fmt.Sprintf("seq=%d", seq)
	if pad > len(p) {
		// Pad with spaces is not allowed (Atoi); the collector strips
		// nothing, so padding goes into the auth key instead.
		m.AuthKey = make([]byte, pad-len(p))
	}
	m.Payload = []byte(p)
	b, err := m.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seqRange(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePort returns a loopback port nothing listens on (for UDP or TCP).
func freePort(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().String()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
