package collector

import (
	"fmt"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// forwarder copies HEP messages, unchanged, to one UDP destination. Send
// never blocks: it takes a buffer from a fixed free list, copies the
// message into it and queues it; when the free list is empty (the sender
// is behind) the message is dropped and counted. The buffers are reused,
// so forwarding does not allocate in steady state.
type forwarder struct {
	dest  string
	conn  *net.UDPConn
	free  chan *[]byte
	queue chan *[]byte
	sent  prometheus.Counter
	drops prometheus.Counter
	done  chan struct{}
	once  sync.Once
}

func newForwarder(uri string, queue int, m *metrics) (*forwarder, error) {
	addr, err := parseForward(uri)
	if err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("forward to %s: %w", uri, err)
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, fmt.Errorf("forward to %s: %w", uri, err)
	}
	f := &forwarder{
		dest:  uri,
		conn:  conn,
		free:  make(chan *[]byte, queue),
		queue: make(chan *[]byte, queue),
		sent:  m.forwarded.WithLabelValues(uri),
		drops: m.forwardDrops.WithLabelValues(uri),
		done:  make(chan struct{}),
	}
	for range queue {
		f.free <- new([]byte) // grown on first use, then reused
	}
	go f.run()
	return f, nil
}

// send queues a copy of b, or counts a drop.
func (f *forwarder) send(b []byte) {
	select {
	case buf := <-f.free:
		*buf = append((*buf)[:0], b...)
		f.queue <- buf // cannot block: there are as many slots as buffers
	default:
		f.drops.Inc()
	}
}

func (f *forwarder) run() {
	defer close(f.done)
	for buf := range f.queue {
		if _, err := f.conn.Write(*buf); err != nil {
			// ECONNREFUSED from a previous datagram's ICMP, or the like:
			// this copy is lost; count it and go on.
			f.drops.Inc()
		} else {
			f.sent.Inc()
		}
		f.free <- buf
	}
}

// close sends what is queued and stops. Call after the last send.
func (f *forwarder) close() {
	f.once.Do(func() {
		close(f.queue)
		<-f.done
		f.conn.Close()
	})
}
