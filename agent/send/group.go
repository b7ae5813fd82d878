package send

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xhep/xhep/hep/spool"
)

// Group delivers messages to the configured collectors. Send, Stats and
// Close are safe for concurrent use; Send after Close drops (counted).
type Group struct {
	cfg   Config
	eps   []*endpoint
	lanes []*lane
	rr    atomic.Uint64 // hash mode: spreads messages without a key

	closeOnce sync.Once
	closeErr  error
	empty     atomic.Uint64
}

// New parses the collectors, opens the spools and starts one goroutine per
// lane. Connections are made by those goroutines: New does not fail when
// a collector is down.
func New(cfg Config) (*Group, error) {
	cfg.fill()
	if len(cfg.Collectors) == 0 {
		return nil, fmt.Errorf("%w: no collector", ErrConfig)
	}
	switch cfg.Mode {
	case ModeAll, ModeFailover, ModeHash:
	default:
		return nil, fmt.Errorf("%w: send mode %d", ErrConfig, cfg.Mode)
	}
	g := &Group{cfg: cfg}
	needTLS := false
	for _, c := range cfg.Collectors {
		t, err := ParseTarget(c)
		if err != nil {
			return nil, err
		}
		needTLS = needTLS || t.Scheme == "tls"
		g.eps = append(g.eps, &endpoint{target: t, cfg: &g.cfg})
	}
	if needTLS {
		tc, err := g.cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		for _, e := range g.eps {
			e.tlsConf = tc
		}
	}
	var groups [][]*endpoint
	if cfg.Mode == ModeFailover {
		groups = [][]*endpoint{g.eps}
	} else {
		for _, e := range g.eps {
			groups = append(groups, []*endpoint{e})
		}
	}
	for _, eps := range groups {
		name := eps[0].target.String()
		if len(eps) > 1 {
			name = "failover " + name
		}
		var sp *spool.Spool
		if cfg.SpoolDir != "" {
			var err error
			sp, err = spool.Open(spool.Config{
				Dir:      filepath.Join(cfg.SpoolDir, dirName(eps)),
				MaxBytes: max(cfg.SpoolMax/int64(len(groups)), 1<<20),
				MaxAge:   cfg.SpoolSync,
			})
			if err != nil {
				g.closeSpools()
				return nil, fmt.Errorf("open spool for %s: %w", name, err)
			}
		}
		g.lanes = append(g.lanes, newLane(name, &g.cfg, eps, sp, newStreamID()))
	}
	for _, l := range g.lanes {
		go l.run()
	}
	return g, nil
}

// newStreamID is a lane's sequence stream id for this run: random, never
// 0. Messages keep the id they were stamped with across spooling and
// restarts; a new run numbers new messages under a new id, so no sequence
// state needs to survive a crash.
func newStreamID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// dirName makes a lane's spool directory name from its collectors, e.g.
// "udp_127.0.0.1_9060": stable across runs, so a restart replays what the
// last run spooled.
func dirName(eps []*endpoint) string {
	var b strings.Builder
	for i, e := range eps {
		if i > 0 {
			b.WriteString("+")
		}
		b.WriteString(e.target.Scheme + "_" + e.target.Host + "_" + strconv.Itoa(int(e.target.Port)))
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '+':
			return r
		}
		return '_'
	}, b.String())
}

// Send queues a copy of msg (one encoded HEP message) for delivery. key
// chooses the collector in ModeHash (the Call-ID; messages without a key
// are spread round robin). Send does not allocate once the queue slots
// have grown to the message sizes seen; it blocks only with Config.Block
// (queue full, collector up) or while spooling to disk.
func (g *Group) Send(msg, key []byte) {
	if len(msg) == 0 {
		g.empty.Add(1)
		return
	}
	switch g.cfg.Mode {
	case ModeHash:
		var i uint64
		if len(key) > 0 {
			i = hashKey(key) % uint64(len(g.lanes))
		} else {
			i = g.rr.Add(1) % uint64(len(g.lanes))
		}
		g.lanes[i].put(msg)
	default: // all (one lane per collector) and failover (one lane)
		for _, l := range g.lanes {
			l.put(msg)
		}
	}
}

// hashKey is 64-bit FNV-1a: stable across runs and agents, so every agent
// sends a given Call-ID to the same collector.
func hashKey(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// Close drains every lane (sends what is queued and spooled while its
// collector answers, for at most Config.DrainTimeout; spools the rest),
// then closes the spools. It is idempotent.
func (g *Group) Close() error {
	g.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, l := range g.lanes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.close()
			}()
		}
		wg.Wait()
		g.closeErr = g.closeSpools()
	})
	return g.closeErr
}

func (g *Group) closeSpools() error {
	var errs []error
	for _, l := range g.lanes {
		if l.sp != nil {
			if err := l.sp.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close spool for %s: %w", l.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Targets returns the parsed collectors in configuration order.
func (g *Group) Targets() []Target {
	out := make([]Target, len(g.eps))
	for i, e := range g.eps {
		out[i] = e.target
	}
	return out
}

// CollectorStats counts one collector's deliveries.
type CollectorStats struct {
	Collector string // udp://host:port
	Up        bool   // connected now
	Sent      uint64 // messages handed to the kernel, replayed ones included
	Bytes     uint64
	Errors    uint64 // failed connects and sends
	Connects  uint64
	LastError string
	// Batches counts the syscalls (sendmmsg calls, stream writes) by how
	// many messages each carried: bucket i holds 2^i .. 2^(i+1)-1
	// ([NumBatchBuckets]; the last bucket is 1024 and more).
	Batches [NumBatchBuckets]uint64
}

// Syscalls is the number of sendmmsg calls or stream writes.
func (c CollectorStats) Syscalls() uint64 {
	var n uint64
	for _, v := range c.Batches {
		n += v
	}
	return n
}

// QueueStats describes one lane: its queue and spool.
type QueueStats struct {
	Name     string
	Depth    int // messages in the memory queue
	Capacity int
	Spooling bool

	Enqueued uint64 // messages put in the memory queue
	Parks    uint64 // times the lane's goroutine found the queue empty and slept
	Lingers  uint64 // times it waited (at most Config.Linger) to fill a short batch
	Buffers  int    // message buffers the queue holds (queued and free): its memory follows this, not Capacity
	Spooled  uint64 // messages written to the spool (from Send or moved from the queue)
	Replayed uint64 // messages sent from the spool

	SpoolRecords int64 // messages in the spool now
	SpoolBytes   int64
	SpoolCorrupt uint64 // spool segments found corrupt and deleted

	// Drops, by reason.
	DropQueueFull  uint64 // queue full and no spool
	DropSpoolFull  uint64 // queue and spool both full
	DropSpoolError uint64 // the spool failed to write or read back
	DropClosed     uint64 // Send after Close
	Undelivered    uint64 // still queued at Close with no spool to keep them
	// Reordered counts messages that were queued when Close found their
	// collector down after the spool had newer ones: they are spooled
	// after those.
	Reordered  uint64
	SpoolError string

	// Acknowledged delivery (tcp/tls lanes).
	Stream      uint64 // this run's sequence stream id (0: no acks)
	AckState    string // off, probing, acknowledged or plain (the open connection)
	Acked       uint64 // messages the collector acknowledged as durable
	Unacked     int    // messages sent and waiting for an ack (ring and spool)
	Resent      uint64 // messages sent again because a connection broke before their ack
	Unconfirmed uint64 // messages sent to a collector that does not acknowledge (plain HEP)
	Fallbacks   uint64 // connections that fell back to plain HEP
	SpoolDir    string // where this lane spools ("" without a spool)
}

// Stats is a snapshot of all collectors and lanes.
type Stats struct {
	Collectors []CollectorStats
	Queues     []QueueStats
	Empty      uint64 // empty messages refused by Send
}

// Dropped is the total of all drop reasons over all lanes.
func (s Stats) Dropped() uint64 {
	var n uint64
	for _, q := range s.Queues {
		n += q.DropQueueFull + q.DropSpoolFull + q.DropSpoolError + q.DropClosed + q.Undelivered
	}
	return n + s.Empty
}

// Sent is the total of messages sent over all collectors.
func (s Stats) Sent() uint64 {
	var n uint64
	for _, c := range s.Collectors {
		n += c.Sent
	}
	return n
}

// Stats returns a snapshot. Safe for concurrent use.
func (g *Group) Stats() Stats {
	var st Stats
	st.Empty = g.empty.Load()
	for _, e := range g.eps {
		c := CollectorStats{
			Collector: e.target.String(),
			Up:        e.up.Load(),
			Sent:      e.sent.Load(),
			Bytes:     e.bytes.Load(),
			Errors:    e.errs.Load(),
			Connects:  e.connects.Load(),
			Batches:   e.hist.snapshot(),
		}
		if p := e.lastErr.Load(); p != nil {
			c.LastError = *p
		}
		st.Collectors = append(st.Collectors, c)
	}
	for _, l := range g.lanes {
		l.mu.Lock()
		q := QueueStats{
			Name:     l.name,
			Depth:    int(l.tail - l.head),
			Capacity: len(l.slots),
			Spooling: l.spooling,
			Buffers:  int(l.tail-l.ackHead) + len(l.free),
			Stream:   l.stream,
			AckState: l.connAck.String(),
			Unacked:  int(l.head - l.ackHead),
		}
		for _, f := range l.inflight {
			q.Unacked += f.records
		}
		l.mu.Unlock()
		q.Acked = l.acked.Load()
		q.Resent = l.resent.Load()
		q.Unconfirmed = l.unconfirmed.Load()
		q.Fallbacks = l.fallbacks.Load()
		if l.sp != nil {
			q.SpoolDir = l.sp.Dir()
		}
		q.Parks = l.parks.Load()
		q.Lingers = l.lingers.Load()
		q.Enqueued = l.enqueued.Load()
		q.Spooled = l.spooled.Load()
		q.Replayed = l.replayed.Load()
		q.DropQueueFull = l.dropQueueFull.Load()
		q.DropSpoolFull = l.dropSpoolFull.Load()
		q.DropSpoolError = l.dropSpoolErr.Load()
		q.DropClosed = l.dropClosed.Load()
		q.Undelivered = l.undelivered.Load()
		q.Reordered = l.reordered.Load()
		if p := l.spoolErr.Load(); p != nil {
			q.SpoolError = *p
		}
		if l.sp != nil {
			ss := l.sp.Stats()
			q.SpoolRecords, q.SpoolBytes, q.SpoolCorrupt = ss.Records, ss.Bytes, ss.Corrupt
		}
		st.Queues = append(st.Queues, q)
	}
	return st
}
