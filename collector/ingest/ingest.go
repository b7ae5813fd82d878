package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handler receives one HEP message. b is valid only during the call (the
// listener reuses the buffer); a Handler that keeps bytes copies them. A
// Handler is called concurrently from many goroutines.
type Handler func(b []byte, from netip.AddrPort, transport string)

// Framer splits a byte stream into HEP messages. Next returns the next
// message (valid until the following call) or an error: io.EOF at the end
// of the stream, io.ErrUnexpectedEOF when it ended inside a message, a read
// error from the underlying reader, or a framing error after which the
// framer has skipped ahead and Next may be called again. hep.Framer
// satisfies it (it skips garbage itself and never returns framing errors).
type Framer interface {
	Next() ([]byte, error)
}

// ResyncCounter is implemented by framers that skip garbage silently
// (hep.Framer): the listener exports what they skipped.
type ResyncCounter interface {
	Skipped() uint64 // bytes skipped as not part of a message
	Resyncs() uint64 // times bytes were skipped to find a message start
}

// Transport names as handed to the [Handler] and used in metric labels.
const (
	UDP = "udp"
	TCP = "tcp"
	TLS = "tls"
)

// Defaults for zero [Config] fields.
const (
	DefaultRcvBuf         = 32 << 20
	DefaultBatch          = 32
	DefaultMaxMessage     = 65535
	DefaultTCPIdle        = 5 * time.Minute
	DefaultMaxFrameErrors = 64
	DefaultDrainGrace     = 200 * time.Millisecond

	DefaultMaxConns          = 10_000
	DefaultMaxConnsPerSource = 512
	DefaultEvictIdle         = 30 * time.Second
)

// ErrClosed is returned by Start on a Server that was closed.
var ErrClosed = errors.New("ingest: server closed")

// Config configures a [Server].
type Config struct {
	// Listen holds the addresses: udp://HOST:PORT, tcp://HOST:PORT or
	// tls://HOST:PORT. Port 0 picks a free port (see [Server.Status]).
	Listen []string
	// Readers is the number of SO_REUSEPORT sockets and reader goroutines
	// per UDP address; 0 means GOMAXPROCS.
	Readers int
	// SharePort allows binding a UDP address another process already
	// holds with SO_REUSEPORT. Without it New refuses such an address:
	// the kernel would split the stream between the two processes. The
	// Readers of one Server always share their address.
	SharePort bool
	// RcvBuf is the wanted UDP receive buffer in bytes; 0 means 32 MiB.
	RcvBuf int
	// Batch is the number of datagrams taken per recvmmsg call; 0 means 32.
	Batch int
	// MaxMessage is the largest message accepted on a stream and the UDP
	// read buffer size; 0 means 65535.
	MaxMessage int
	// TCPIdle closes TCP and TLS connections silent for this long; 0 means
	// 5 minutes, a negative value disables the timeout.
	TCPIdle time.Duration
	// MaxConns bounds the open TCP and TLS connections (all listeners);
	// MaxConnsPerSource bounds those from one source address. 0 means
	// DefaultMaxConns / DefaultMaxConnsPerSource, a negative value no
	// limit. At MaxConns a new connection closes the one silent longest,
	// if it has been silent for EvictIdle (0 means DefaultEvictIdle);
	// otherwise it is refused. Refusals and evictions are counted
	// ("conn_limit_source", "conn_limit_total", "idle_evicted").
	MaxConns          int
	MaxConnsPerSource int
	EvictIdle         time.Duration
	// MaxFrameErrors closes a stream after this many consecutive framing
	// errors; 0 means 64.
	MaxFrameErrors int
	// DrainGrace is how long Close keeps reading what is already queued in
	// the UDP socket buffers and open streams before closing them; 0 means
	// 200ms, a negative value closes at once.
	DrainGrace time.Duration
	// TLS is the server configuration for tls:// listeners (certificates
	// set); required when a tls:// address is given.
	TLS *tls.Config
	// NewFramer returns a framer reading HEP messages of at most maxMsg
	// bytes from r; required when a tcp:// or tls:// address is given.
	NewFramer func(r io.Reader, maxMsg int) Framer
	// ErrorReason turns a framing error into a short metric label; nil
	// labels every framing error "frame".
	ErrorReason func(error) string
	// Acker, when set, makes TCP and TLS connections acknowledged: see
	// [Acker] and ack.go.
	Acker Acker
	// AckInterval is the longest an ack waits after Acker's durability
	// advanced (acks go out at once on Acker.Changed); 0 means 50ms.
	AckInterval time.Duration
	// DrainQuiet: at Close a stream is read until it has been silent this
	// long (it is read to its end), within DrainGrace; 0 means 100ms.
	DrainQuiet time.Duration
}

// Status describes one bound listener.
type Status struct {
	Transport string         // "udp", "tcp" or "tls"
	Addr      netip.AddrPort // the bound address (the real port when 0 was asked)
	Readers   int            // UDP: sockets and reader goroutines
	// RcvBufWanted is the receive buffer asked for; RcvBuf what the kernel
	// reports for the first socket (Linux reports twice the usable size it
	// granted). Capped is true when the kernel granted less than wanted
	// (raise net.core.rmem_max or run as root).
	RcvBufWanted int
	RcvBuf       int
	Capped       bool
}

// Stats are the running totals of a Server.
type Stats struct {
	Messages   map[string]uint64 // by transport
	Bytes      map[string]uint64 // by transport
	Errors     map[string]uint64 // by "transport/reason"
	UDPDrops   uint64            // datagrams the kernel dropped on our sockets (SO_MEMINFO)
	Accepted   uint64            // TCP and TLS connections accepted
	OpenConns  int64             // TCP and TLS connections open now
	IdleClosed uint64            // connections closed by the idle timeout
	Skipped    uint64            // stream bytes skipped as garbage by the framers
	AckMsgs    uint64            // ack messages written to agents
	AckedConns uint64            // connections that carried sequenced messages
}

// counters are per transport; the hot path touches only atomics.
type counters struct {
	messages atomic.Uint64
	bytes    atomic.Uint64
}

// Server runs the listeners of one [Config]. Start, Close, Status, Stats
// and Collector may be called from any goroutine; Close is idempotent and
// waits until no Handler call is running.
type Server struct {
	cfg     Config
	handler Handler

	udp  []*udpGroup
	tcps []*streamListener

	byTransport map[string]*counters // fixed keys, read-only after New

	errMu  sync.Mutex
	errors map[string]*atomic.Uint64 // "transport/reason"

	accepted   atomic.Uint64
	openConns  atomic.Int64
	idleClosed atomic.Uint64
	skipped    atomic.Uint64
	ackMsgs    atomic.Uint64
	ackedConns atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Close sets drainBy, then draining: readers take what is queued until
	// drainBy and return.
	draining atomic.Bool
	drainBy  time.Time

	mu       sync.Mutex
	started  bool
	closed   bool
	released bool
	conns    map[net.Conn]*connAcks // connAcks nil without an Acker
	acking   sync.WaitGroup         // ack goroutines
	// states holds what the connection limits know of each open
	// connection; perSource counts them by source address.
	states    map[net.Conn]*connState
	perSource map[netip.Addr]int
}

// New validates cfg and binds every address. Nothing is read until Start.
func New(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, errors.New("ingest: nil handler")
	}
	if len(cfg.Listen) == 0 {
		return nil, errors.New("ingest: no listen address")
	}
	if cfg.Readers <= 0 {
		cfg.Readers = runtime.GOMAXPROCS(0)
	}
	if cfg.RcvBuf <= 0 {
		cfg.RcvBuf = DefaultRcvBuf
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.TCPIdle == 0 {
		cfg.TCPIdle = DefaultTCPIdle
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerSource == 0 {
		cfg.MaxConnsPerSource = DefaultMaxConnsPerSource
	}
	if cfg.EvictIdle <= 0 {
		cfg.EvictIdle = DefaultEvictIdle
	}
	if cfg.MaxFrameErrors <= 0 {
		cfg.MaxFrameErrors = DefaultMaxFrameErrors
	}
	if cfg.DrainGrace == 0 {
		cfg.DrainGrace = DefaultDrainGrace
	}
	if cfg.AckInterval <= 0 {
		cfg.AckInterval = 50 * time.Millisecond
	}
	if cfg.DrainQuiet <= 0 {
		cfg.DrainQuiet = 100 * time.Millisecond
	}
	s := &Server{
		cfg:     cfg,
		handler: h,
		byTransport: map[string]*counters{
			UDP: new(counters), TCP: new(counters), TLS: new(counters),
		},
		errors: make(map[string]*atomic.Uint64),
		conns:  make(map[net.Conn]*connAcks),

		states:    make(map[net.Conn]*connState),
		perSource: make(map[netip.Addr]int),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, l := range cfg.Listen {
		scheme, addr, err := ParseListen(l)
		if err != nil {
			s.Close()
			return nil, err
		}
		switch scheme {
		case UDP:
			g, err := listenUDP(addr, cfg)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("listen %s: %w", l, err)
			}
			s.udp = append(s.udp, g)
		case TCP, TLS:
			if cfg.NewFramer == nil {
				s.Close()
				return nil, fmt.Errorf("listen %s: no framer configured", l)
			}
			if scheme == TLS && cfg.TLS == nil {
				s.Close()
				return nil, fmt.Errorf("listen %s: no TLS certificate configured", l)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("listen %s: %w", l, err)
			}
			if scheme == TLS {
				ln = tls.NewListener(ln, cfg.TLS)
			}
			s.tcps = append(s.tcps, &streamListener{transport: scheme, ln: ln})
		}
	}
	return s, nil
}

// ParseListen splits "udp://HOST:PORT" into its scheme and address. The
// scheme is one of udp, tcp and tls; HOST may be empty (all addresses).
func ParseListen(s string) (scheme, addr string, err error) {
	scheme, addr, ok := strings.Cut(s, "://")
	if !ok {
		return "", "", fmt.Errorf("listen address %q: want udp://, tcp:// or tls://HOST:PORT", s)
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case UDP, TCP, TLS:
	default:
		return "", "", fmt.Errorf("listen address %q: unknown scheme %q", s, scheme)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("listen address %q: %w", s, err)
	}
	return scheme, addr, nil
}

// Start starts the reader and accept goroutines and returns at once.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return nil
	}
	s.started = true
	for _, g := range s.udp {
		for _, r := range g.readers {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.readUDP(r)
			}()
		}
	}
	for _, l := range s.tcps {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.accept(l)
		}()
	}
	return nil
}

// Close stops reading ([Server.Stop]), sends the last acks
// ([Server.FinalAcks]) and closes every socket ([Server.Release]).
func (s *Server) Close() error {
	s.Stop()
	s.FinalAcks()
	s.Release()
	return nil
}

// Stop stops accepting and reading: the readers take what is already
// queued in the UDP socket buffers and read every open stream until it has
// been silent for [Config.DrainQuiet] or closes (within
// [Config.DrainGrace]), then Stop waits until the reader goroutines have
// returned (so the Handler is no longer called). Stream connections stay
// open for [Server.FinalAcks] until [Server.Release]. Idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	s.drainBy = time.Now().Add(max(s.cfg.DrainGrace, 0))
	s.draining.Store(true)
	for _, l := range s.tcps {
		l.ln.Close()
	}
	for _, g := range s.udp {
		g.wake()
	}
	quiet := time.Now().Add(s.cfg.DrainQuiet)
	if quiet.After(s.drainBy) {
		quiet = s.drainBy
	}
	for c := range s.conns {
		c.SetReadDeadline(quiet)
	}
	s.mu.Unlock()
	if !s.started {
		s.cancel()
	}
	s.wg.Wait()
	s.cancel()
}

// FinalAcks writes, on every stream connection still open, acks for what
// the Acker holds durable now. Call it after Stop and after making what
// was received durable; without an Acker it does nothing.
func (s *Server) FinalAcks() {
	s.mu.Lock()
	var cas []*connAcks
	for _, ca := range s.conns {
		if ca != nil {
			cas = append(cas, ca)
		}
	}
	s.mu.Unlock()
	for _, ca := range cas {
		ca.flush()
	}
}

// Release closes every socket and waits for the ack goroutines. Idempotent.
func (s *Server) Release() {
	s.Stop()
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.released = true
	for _, g := range s.udp {
		g.close()
	}
	for c, ca := range s.conns {
		if ca != nil {
			ca.stop()
		}
		c.Close()
		s.openConns.Add(-1)
	}
	clear(s.conns)
	s.mu.Unlock()
	s.acking.Wait()
}

// Status describes every bound listener, in the order of [Config.Listen].
func (s *Server) Status() []Status {
	var out []Status
	for _, g := range s.udp {
		out = append(out, g.status)
	}
	for _, l := range s.tcps {
		ap, _ := netip.ParseAddrPort(l.ln.Addr().String())
		out = append(out, Status{Transport: l.transport, Addr: ap})
	}
	return out
}

// Stats returns the running totals.
func (s *Server) Stats() Stats {
	st := Stats{
		Messages:   make(map[string]uint64),
		Bytes:      make(map[string]uint64),
		Errors:     make(map[string]uint64),
		Accepted:   s.accepted.Load(),
		OpenConns:  s.openConns.Load(),
		IdleClosed: s.idleClosed.Load(),
		Skipped:    s.skipped.Load(),
		AckMsgs:    s.ackMsgs.Load(),
		AckedConns: s.ackedConns.Load(),
	}
	for t, c := range s.byTransport {
		st.Messages[t] = c.messages.Load()
		st.Bytes[t] = c.bytes.Load()
	}
	s.errMu.Lock()
	for k, v := range s.errors {
		st.Errors[k] = v.Load()
	}
	s.errMu.Unlock()
	for _, g := range s.udp {
		st.UDPDrops += g.drops()
	}
	return st
}

// countError adds one to the error counter of transport and reason.
func (s *Server) countError(transport, reason string) { s.countErrorN(transport, reason, 1) }

// countErrorN adds n to the error counter of transport and reason.
func (s *Server) countErrorN(transport, reason string, n uint64) {
	key := transport + "/" + reason
	s.errMu.Lock()
	c := s.errors[key]
	if c == nil {
		c = new(atomic.Uint64)
		s.errors[key] = c
	}
	s.errMu.Unlock()
	c.Add(n)
}

func (s *Server) deliver(c *counters, b []byte, from netip.AddrPort, transport string) {
	c.messages.Add(1)
	c.bytes.Add(uint64(len(b)))
	s.handler(b, from, transport)
}

// streamListener is one tcp:// or tls:// listener.
type streamListener struct {
	transport string
	ln        net.Listener
}

func (s *Server) accept(l *streamListener) {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary trouble (EMFILE and the like): count, back off, retry.
			s.countError(l.transport, "accept")
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		st := &connState{src: remoteAddr(c).Addr()}
		st.lastRead.Store(time.Now().UnixNano())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		if reason := s.admit(st); reason != "" {
			s.mu.Unlock()
			c.Close()
			s.accepted.Add(1)
			s.countError(l.transport, reason)
			continue
		}
		s.states[c] = st
		s.perSource[st.src]++
		var ca *connAcks
		if s.cfg.Acker != nil {
			ca = newConnAcks(s, c)
		}
		s.conns[c] = ca
		s.wg.Add(1)
		s.mu.Unlock()
		s.accepted.Add(1)
		s.openConns.Add(1)
		go func() {
			defer s.wg.Done()
			open := s.serveConn(c, l.transport, ca, st)
			// A connection read to its quiet end while stopping stays
			// open for the last acks (Release closes it); one the peer
			// closed or that failed is closed now.
			if open && ca != nil && s.draining.Load() {
				return
			}
			s.mu.Lock()
			if _, ok := s.conns[c]; ok {
				delete(s.conns, c)
				s.openConns.Add(-1)
			}
			s.forget(c)
			s.mu.Unlock()
			if ca != nil {
				ca.stop()
			}
			c.Close()
		}()
	}
}

// connState is what the limits know of an open connection.
type connState struct {
	src      netip.Addr
	lastRead atomic.Int64 // unix ns when the current read began: the connection is silent since
	evicted  atomic.Bool  // closed to make room (not an error of its own)
}

// admit applies the connection limits to a new connection from st.src
// (s.mu held): "" to take it, else the reason it is refused. At the total
// limit the connection silent longest, past EvictIdle, is closed to make
// room (counted as idle_evicted).
func (s *Server) admit(st *connState) string {
	if s.cfg.MaxConnsPerSource > 0 && s.perSource[st.src] >= s.cfg.MaxConnsPerSource {
		return "conn_limit_source"
	}
	if s.cfg.MaxConns <= 0 || len(s.states) < s.cfg.MaxConns {
		return ""
	}
	var victim net.Conn
	var vs *connState
	oldest := time.Now().Add(-s.cfg.EvictIdle).UnixNano()
	for c, cs := range s.states {
		if t := cs.lastRead.Load(); t <= oldest {
			victim, vs, oldest = c, cs, t
		}
	}
	if victim == nil {
		return "conn_limit_total"
	}
	vs.evicted.Store(true)
	victim.Close()
	s.forget(victim)
	s.countError(transportOf(victim), "idle_evicted")
	return ""
}

// forget removes c from the connection tables (s.mu held); a connection
// already forgotten (evicted) is left alone.
func (s *Server) forget(c net.Conn) {
	st, ok := s.states[c]
	if !ok {
		return
	}
	delete(s.states, c)
	if s.perSource[st.src]--; s.perSource[st.src] <= 0 {
		delete(s.perSource, st.src)
	}
}

// remoteAddr is c's peer as an address without IPv4-mapping.
func remoteAddr(c net.Conn) netip.AddrPort {
	from, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// idleReader sets a read deadline before every read, so a connection that
// stays silent longer than idle fails its read with a timeout.
type idleReader struct {
	c    net.Conn
	idle time.Duration
	s    *Server
	st   *connState
}

func (r *idleReader) Read(p []byte) (int, error) {
	if r.s.draining.Load() {
		// Stopping: read on while the peer keeps sending, until it is
		// quiet for DrainQuiet or the drain deadline.
		d := time.Now().Add(r.s.cfg.DrainQuiet)
		if d.After(r.s.drainBy) {
			d = r.s.drainBy
		}
		if err := r.c.SetReadDeadline(d); err != nil {
			return 0, err
		}
	} else {
		now := time.Now()
		r.st.lastRead.Store(now.UnixNano())
		if r.idle > 0 {
			if err := r.c.SetReadDeadline(now.Add(r.idle)); err != nil {
				return 0, err
			}
		}
	}
	return r.c.Read(p)
}

// serveConn reads c until it ends; it reports whether c is still usable
// (stopped by the drain, not closed by the peer or broken).
func (s *Server) serveConn(c net.Conn, transport string, ca *connAcks, st *connState) (open bool) {
	from := remoteAddr(c)
	cnt := s.byTransport[transport]
	if tc, ok := c.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.countError(transport, "handshake")
			return false
		}
	}
	f := s.cfg.NewFramer(&idleReader{c: c, idle: s.cfg.TCPIdle, s: s, st: st}, s.cfg.MaxMessage)
	rc, _ := f.(ResyncCounter)
	var resyncs, skipped uint64
	account := func() {
		if rc == nil {
			return
		}
		if n := rc.Resyncs(); n != resyncs {
			s.countErrorN(transport, "resync", n-resyncs)
			resyncs = n
		}
		if n := rc.Skipped(); n != skipped {
			s.skipped.Add(n - skipped)
			skipped = n
		}
	}
	defer account()
	bad := 0
	for {
		b, err := f.Next()
		if rc != nil && rc.Resyncs() != resyncs {
			account()
		}
		if err == nil {
			bad = 0
			if ca != nil {
				ca.saw(b)
			}
			s.deliver(cnt, b, from, transport)
			continue
		}
		if errors.Is(err, io.EOF) || s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) || st.evicted.Load() {
			return false
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if s.draining.Load() {
				return true // read to its quiet end: Stop is under way
			}
			s.idleClosed.Add(1)
			s.countError(transport, "idle_timeout")
			return false
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// The peer closed inside a message: its bytes count as skipped.
			s.countError(transport, "truncated")
			return false
		}
		var oe *net.OpError
		if errors.As(err, &oe) {
			s.countError(transport, "read")
			return false
		}
		reason := "frame"
		if s.cfg.ErrorReason != nil {
			reason = s.cfg.ErrorReason(err)
		}
		s.countError(transport, reason)
		bad++
		if bad >= s.cfg.MaxFrameErrors {
			s.countError(transport, "too_many_frame_errors")
			return false
		}
	}
}
