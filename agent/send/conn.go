package send

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/xhep/xhep/hep"
)

// transport is one open connection to a collector. It is used by its
// lane's goroutine only, but broken may be called from anywhere.
type transport interface {
	// send hands msgs to the kernel in order and returns how many were
	// taken whole. A non-nil error means the connection is unusable; the
	// messages from index n on must be sent again elsewhere.
	send(msgs [][]byte) (n int, err error)
	// broken reports that the collector went away (stream peer closed).
	broken() bool
	close() error
}

// ErrPeerClosed is returned by a stream transport whose collector closed the
// connection.
var ErrPeerClosed = errors.New("collector closed the connection")

// endpoint is one collector: its address and its counters.
type endpoint struct {
	target  Target
	cfg     *Config
	tlsConf *tls.Config
	wake    func()          // tells the lane that a connection broke
	onAck   func([]hep.Ack) // the lane's ack handler; nil: acks are not read

	sent, bytes, errs, connects atomic.Uint64
	hist                        batchHist
	up                          atomic.Bool
	ackSeen                     atomic.Bool // acknowledged on some connection
	lastErr                     atomic.Pointer[string]
}

func (e *endpoint) setErr(err error) {
	s := err.Error()
	e.lastErr.Store(&s)
}

// dial opens a connection. For UDP it checks that something listens: an
// empty datagram, then Config.ProbeWait for an ICMP port unreachable, so
// that no message is sent into a closed port.
func (e *endpoint) dial() (transport, error) {
	addr := net.JoinHostPort(e.target.Host, strconv.Itoa(int(e.target.Port)))
	switch e.target.Scheme {
	case "udp":
		return dialUDP(addr, true, e.cfg.ProbeWait, &e.hist)
	case "tcp":
		d := net.Dialer{Timeout: e.cfg.DialTimeout}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("connect to collector %s: %w", e.target, err)
		}
		return newStream(c, e.cfg.WriteTimeout, e.wake, e.onAck, &e.hist), nil
	case "tls":
		d := net.Dialer{Timeout: e.cfg.DialTimeout}
		conf := e.tlsConf.Clone()
		if conf.ServerName == "" {
			conf.ServerName = e.target.Host
		}
		c, err := tls.DialWithDialer(&d, "tcp", addr, conf)
		if err != nil {
			return nil, fmt.Errorf("connect to collector %s: %w", e.target, err)
		}
		return newStream(c, e.cfg.WriteTimeout, e.wake, e.onAck, &e.hist), nil
	}
	return nil, fmt.Errorf("%w: scheme %q", ErrConfig, e.target.Scheme)
}

// NumBatchBuckets is the number of buckets of CollectorStats.Batches:
// bucket i counts the syscalls (sendmmsg calls, stream writes) that carried
// 2^i .. 2^(i+1)-1 messages; the last bucket holds 1024 and more.
const NumBatchBuckets = 11

// batchHist counts messages per syscall.
type batchHist struct {
	b [NumBatchBuckets]atomic.Uint64
}

func (h *batchHist) add(n int) {
	if h == nil || n <= 0 {
		return
	}
	h.b[min(bits.Len(uint(n))-1, NumBatchBuckets-1)].Add(1)
}

func (h *batchHist) snapshot() (out [NumBatchBuckets]uint64) {
	for i := range out {
		out[i] = h.b[i].Load()
	}
	return out
}

// streamChunk bounds one stream write: a batch is written in pieces of at
// most this many bytes (a message larger than that goes alone).
const streamChunk = 256 << 10

// stream is a TCP or TLS connection. HEP over a stream is the messages
// back to back; each carries its own length (bytes 4..5 of "HEP3" + len).
type stream struct {
	conn net.Conn
	buf  []byte
	wt   time.Duration
	hist *batchHist
	dead atomic.Bool
}

func newStream(c net.Conn, wt time.Duration, wake func(), onAck func([]hep.Ack), hist *batchHist) *stream {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true) // we write whole batches
		tc.SetWriteBuffer(4 << 20)
	}
	s := &stream{conn: c, wt: wt, hist: hist, buf: make([]byte, 0, streamChunk)}
	// The reader notices when the peer closes or resets the connection
	// (before the next write, so nothing is written into a dead socket)
	// and, with onAck, hands the acks of an xhep-collector to the lane.
	// Foreign collectors send nothing back.
	go func() {
		defer func() {
			s.dead.Store(true)
			if wake != nil {
				wake()
			}
		}()
		if onAck == nil {
			var b [512]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					return
				}
			}
		}
		f := hep.NewFramer(c, 0)
		var acks []hep.Ack
		for {
			msg, err := f.Next()
			if err != nil {
				return
			}
			if acks = hep.ParseAcks(acks[:0], msg); len(acks) > 0 {
				onAck(acks)
			}
		}
	}()
	return s
}

func (s *stream) send(msgs [][]byte) (int, error) {
	if s.dead.Load() {
		return 0, ErrPeerClosed
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.wt))
	done := 0 // messages written whole
	for done < len(msgs) {
		s.buf = s.buf[:0]
		k := done
		for k < len(msgs) && (k == done || len(s.buf)+len(msgs[k]) <= streamChunk) {
			s.buf = append(s.buf, msgs[k]...)
			k++
		}
		w, err := s.conn.Write(s.buf)
		if err == nil {
			s.hist.add(k - done)
			done = k
			continue
		}
		// Count the messages the kernel took whole; a message cut in the
		// middle is sent again whole on the next connection (the
		// collector's framer skips the broken piece).
		end := 0
		for _, m := range msgs[done:k] {
			end += len(m)
			if end > w {
				break
			}
			done++
		}
		return done, fmt.Errorf("write to collector: %w", err)
	}
	return done, nil
}

func (s *stream) broken() bool { return s.dead.Load() }

func (s *stream) close() error {
	s.dead.Store(true)
	return s.conn.Close()
}
