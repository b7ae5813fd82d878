package ingest

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// TestUDPLoad sends 100,000 HEP messages per second over loopback for three
// seconds and reports the loss counted by the listener (sent − received)
// and the kernel's socket drops. It reports, it does not assert on speed:
// the machine is shared. The messages must all be well formed, so any
// received count above what was sent is a failure.
func TestUDPLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	var got atomic.Uint64
	s := start(t, Config{Listen: []string{"udp://127.0.0.1:0"}}, func(b []byte, _ netip.AddrPort, _ string) {
		if len(b) > 0 {
			got.Add(1)
		}
	})
	dst := net.UDPAddrFromAddrPort(s.Status()[0].Addr)
	const rate, seconds, senders = 100_000, 3, 4
	msg := hep3(fmt.Sprintf("%0600d", 0)) // a 600-byte SIP-sized payload
	var conns []*net.UDPConn
	for range senders {
		c, err := net.DialUDP("udp", nil, dst)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Every millisecond, send what is due so far: rate/1000 per tick.
	var sent uint64
	begin := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		el := now.Sub(begin)
		if el >= seconds*time.Second {
			break
		}
		due := uint64(el.Seconds() * rate)
		for ; sent < due; sent++ {
			if _, err := conns[sent%senders].Write(msg); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
	}
	elapsed := time.Since(begin)
	// Let the readers drain the socket buffers.
	for prev := uint64(0); ; {
		time.Sleep(200 * time.Millisecond)
		n := got.Load()
		if n >= sent || n == prev {
			break
		}
		prev = n
	}
	st := s.Stats()
	recv := st.Messages[UDP]
	if recv > sent {
		t.Fatalf("listener counted %d messages, more than the %d sent", recv, sent)
	}
	t.Logf("sent %d in %v (%.0f msg/s), received %d, loss %d (%.4f%%), kernel socket drops %d, rcvbuf %d",
		sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), recv, sent-recv,
		100*float64(sent-recv)/float64(sent), st.UDPDrops, s.Status()[0].RcvBuf)
	if sent-recv != st.UDPDrops {
		t.Logf("note: loss %d differs from the kernel drop count %d", sent-recv, st.UDPDrops)
	}
}

// BenchmarkUDPReceive sends one 600-byte datagram per iteration to a
// listener over loopback and reports what it received, with recvmmsg
// batches of 1 (one syscall per datagram) and 32.
func BenchmarkUDPReceive(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			var got atomic.Uint64
			s, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, Readers: 1, Batch: batch},
				func([]byte, netip.AddrPort, string) { got.Add(1) })
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.Start()
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.Status()[0].Addr))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := hep3(fmt.Sprintf("%0600d", 0))
			b.ReportAllocs()
			begin := time.Now()
			var sent uint64
			for b.Loop() {
				c.Write(msg)
				sent++
			}
			deadline := time.Now().Add(2 * time.Second)
			for got.Load() < sent && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			el := time.Since(begin)
			b.ReportMetric(float64(got.Load())/el.Seconds(), "recv/s")
			b.ReportMetric(float64(sent-got.Load()), "lost")
		})
	}
}

// BenchmarkUDPDrain measures the receive side alone: 10,000 600-byte
// datagrams are queued in one socket's buffer before the reader starts,
// then the reader drains them with recvmmsg batches of 1 (one syscall per
// datagram, like recvmsg) and 32. ns/datagram is the drain time per
// datagram.
func BenchmarkUDPDrain(b *testing.B) {
	const n = 10_000
	msg := hep3(fmt.Sprintf("%0600d", 0))
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			var total time.Duration
			var runs int
			for b.Loop() {
				var got atomic.Uint64
				done := make(chan struct{})
				s, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, Readers: 1, Batch: batch, RcvBuf: 64 << 20},
					func([]byte, netip.AddrPort, string) {
						if got.Add(1) == n {
							close(done)
						}
					})
				if err != nil {
					b.Fatal(err)
				}
				c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(s.Status()[0].Addr))
				if err != nil {
					b.Fatal(err)
				}
				for range n {
					c.Write(msg)
				}
				c.Close()
				begin := time.Now()
				s.Start()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					b.Fatalf("drained %d of %d (kernel drops %d)", got.Load(), n, s.Stats().UDPDrops)
				}
				total += time.Since(begin)
				runs++
				s.Close()
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(runs*n), "ns/datagram")
		})
	}
}
