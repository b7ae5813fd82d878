package ingest

import (
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/xhep/xhep/hep"
)

// Acker is the collector's side of acknowledged delivery (the wire format
// is in package hep, ack.go). With [Config.Acker] set, a TCP or TLS
// connection that carries sequenced messages gets, on the same
// connection, cumulative acks for each stream it carried: at once when a
// stream first appears on the connection (with what is already durable,
// possibly 0: that answer tells the agent that this collector
// acknowledges), then whenever Durable moves, at most
// [Config.AckInterval] after Changed fired. The listener only reports and
// writes; deduplication and durability are the Acker's (the Handler sees
// every message, resends included).
type Acker interface {
	// Durable is the highest sequence of stream up to which every message
	// is durable (committed or journaled); 0 for none.
	Durable(stream uint64) uint64
	// Changed returns a channel that is closed when Durable may have
	// moved for some stream.
	Changed() <-chan struct{}
}

// connAcks is one connection's ack state: the streams it carried and what
// was last acknowledged for each. saw is called by the connection's
// reader; flush by the ack goroutine and by FinalAcks.
type connAcks struct {
	s    *Server
	c    net.Conn
	done chan struct{}
	once sync.Once

	mu      sync.Mutex // guards streams, buf and writes to c
	streams []streamAck
	buf     []byte
	acks    []hep.Ack
	last    uint64 // the last stream seen by saw (fast path)
}

type streamAck struct {
	stream, sent uint64
	hello        bool // first ack written
}

func newConnAcks(s *Server, c net.Conn) *connAcks {
	ca := &connAcks{s: s, c: c, done: make(chan struct{})}
	s.acking.Add(1)
	go ca.run()
	return ca
}

// saw notes the stream of one received message; a new stream gets its
// first ack at once.
func (ca *connAcks) saw(b []byte) {
	stream, _, ok := hep.SeqOf(b)
	if !ok || stream == ca.last {
		return
	}
	ca.mu.Lock()
	ca.last = stream
	for i := range ca.streams {
		if ca.streams[i].stream == stream {
			ca.mu.Unlock()
			return
		}
	}
	if len(ca.streams) == 0 {
		ca.s.ackedConns.Add(1)
	}
	ca.streams = append(ca.streams, streamAck{stream: stream})
	ca.mu.Unlock()
	ca.flush()
}

// flush writes one ack message for the streams whose durable sequence
// moved (and the first ack of new streams).
func (ca *connAcks) flush() {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.acks = ca.acks[:0]
	for i := range ca.streams {
		st := &ca.streams[i]
		d := ca.s.cfg.Acker.Durable(st.stream)
		if d > st.sent || !st.hello {
			st.sent, st.hello = max(d, st.sent), true
			ca.acks = append(ca.acks, hep.Ack{Stream: st.stream, Seq: st.sent})
		}
	}
	if len(ca.acks) == 0 {
		return
	}
	ca.buf = hep.AppendAcks(ca.buf[:0], ca.acks)
	ca.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := ca.c.Write(ca.buf); err != nil {
		ca.s.countError(transportOf(ca.c), "ack_write")
		return
	}
	ca.s.ackMsgs.Add(1)
}

func transportOf(c net.Conn) string {
	if _, ok := c.(*tls.Conn); ok {
		return TLS
	}
	return TCP
}

func (ca *connAcks) run() {
	defer ca.s.acking.Done()
	t := time.NewTicker(ca.s.cfg.AckInterval)
	defer t.Stop()
	for {
		ch := ca.s.cfg.Acker.Changed()
		select {
		case <-ca.done:
			return
		case <-ch:
		case <-t.C:
		}
		ca.mu.Lock()
		n := len(ca.streams)
		ca.mu.Unlock()
		if n > 0 {
			ca.flush()
		}
		// Durability moves in steps (fsync windows, commits): wait a
		// little so one ack covers a step, not each message of it.
		select {
		case <-ca.done:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

func (ca *connAcks) stop() { ca.once.Do(func() { close(ca.done) }) }
