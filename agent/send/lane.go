package send

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/spool"
)

// lane is one queue with its spool and the collector(s) that empty it.
//
// The ring slots [head, tail) hold queued messages, oldest at head. The
// producer side (put, under mu) writes at tail; the lane's goroutine reads
// [head, head+n) without the lock (the producer never writes there) and
// advances head under mu once they are sent.
//
// Memory: a slot holds a buffer only while it holds a message. Sent
// slots give their buffers back to a free list that put takes from, so
// the queue's memory follows the deepest the queue has been (times the
// message size), not Config.QueueLen: a queue that never backs up holds a
// few batches of buffers however long it is.
//
// Wakeups: when the goroutine finds the ring empty it parks; the next put
// wakes it. When it then finds fewer than wakeAt messages it lingers (at
// most Config.Linger, woken early by the put that reaches wakeAt) so that
// a moderate rate still fills batches: one wakeup and one syscall per
// batch, not per message. Under load it never parks.
//
// Order: while spooling is set, put appends to the spool instead of the
// ring, and the goroutine sends the ring first and then replays the spool
// oldest segment first; spooling is cleared, under mu, only when both are
// empty. Going down moves the ring into the spool when spooling was not
// already set, so the spool always holds messages in order.
type lane struct {
	name  string
	cfg   *Config
	eps   []*endpoint // one, or several in failover order
	cur   int         // index in eps of the open connection
	t     transport   // open connection; lane goroutine only
	batch [][]byte    // views of the slots being sent; lane goroutine only
	sp    *spool.Spool

	mu              sync.Mutex
	room            *sync.Cond // producers waiting for a free slot (Config.Block)
	slots           [][]byte
	seqs            []uint64 // acking: the sequence stamped into each slot (0: none)
	free            [][]byte // buffers of sent slots, reused by put
	head, tail      uint64
	spooling        bool
	up              bool // believed reachable: not yet tried, or connected
	closing         bool
	deadline        time.Time // drain deadline once closing
	consumerWaiting bool
	lingering       bool   // consumerWaiting, to be woken at wakeAt messages
	wakeAt          uint64 // queued messages that end a linger
	producersWait   int
	linger          *time.Timer // lane goroutine only

	// Acknowledged delivery (tcp/tls lanes with Config.Ack): every
	// message is stamped with (stream, seq) when queued or spooled. Slots
	// [ackHead, head) are sent and wait for the collector's ack; spool
	// segments sent whole wait in inflight. A broken connection sends
	// both again. Under mu.
	acking   bool
	stream   uint64
	lastSeq  uint64
	stampBuf []byte
	ackHead  uint64
	inflight []segAck
	connAck  ackState          // of the open connection
	probeAt  time.Time         // first write on a probing connection
	ackedTo  map[uint64]uint64 // highest ack seen per stream

	// replay state: lane goroutine only
	replay      spool.Segment
	replayOn    bool
	replayPos   int
	replayAfter uint64 // acking: last segment sent whole (still in flight)

	notify chan struct{} // wakes the lane goroutine (cap 1)
	done   chan struct{}

	parks, lingers                                 atomic.Uint64
	enqueued, spooled, replayed                    atomic.Uint64
	dropQueueFull, dropSpoolFull, dropSpoolErr     atomic.Uint64
	dropClosed, undelivered, reordered, spoolErrsN atomic.Uint64
	acked, resent, unconfirmed, fallbacks          atomic.Uint64
	spoolErr                                       atomic.Pointer[string]
}

// ackState is what a connection has shown about acknowledgements.
type ackState uint8

const (
	ackOff     ackState = iota // lane without acks (udp, Config.Ack off)
	ackProbing                 // waiting for the first ack
	ackOn                      // the collector acknowledges
	ackPlain                   // no ack within Config.AckTimeout: plain HEP
)

func (a ackState) String() string {
	return [...]string{"off", "probing", "acknowledged", "plain"}[a]
}

// segAck is a spool segment sent whole, kept until its last message is
// acknowledged.
type segAck struct {
	id      uint64
	stream  uint64
	last    uint64
	records int
}

func newLane(name string, cfg *Config, eps []*endpoint, sp *spool.Spool, stream uint64) *lane {
	l := &lane{
		name:   name,
		cfg:    cfg,
		eps:    eps,
		sp:     sp,
		slots:  make([][]byte, cfg.QueueLen),
		batch:  make([][]byte, cfg.BatchLen),
		wakeAt: uint64(max(1, cfg.BatchLen/2)),
		up:     true,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	l.room = sync.NewCond(&l.mu)
	l.acking = !cfg.NoAck && stream != 0
	for _, e := range eps {
		e.wake = l.wake
		l.acking = l.acking && e.target.Scheme != "udp"
	}
	if l.acking {
		l.stream = stream
		l.seqs = make([]uint64, cfg.QueueLen)
		for _, e := range eps {
			e.onAck = func(a []hep.Ack) { l.onAck(e, a) }
		}
	}
	if sp != nil && sp.Stats().Records > 0 {
		l.spooling = true // a previous run left messages: they go first
	}
	return l
}

func (l *lane) wake() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// put queues a copy of msg. Safe for concurrent use.
func (l *lane) put(msg []byte) {
	size := uint64(len(l.slots))
	l.mu.Lock()
	for {
		switch {
		case l.closing:
			l.mu.Unlock()
			l.dropClosed.Add(1)
			return
		case l.spooling:
			l.spoolLocked(msg)
			l.mu.Unlock()
			return
		case l.tail-l.ackHead < size:
			var b []byte
			if k := len(l.free); k > 0 {
				b, l.free = l.free[k-1], l.free[:k-1]
			}
			if l.acking {
				l.seqs[l.tail%size] = l.nextSeq()
				var ok bool
				if b, ok = hep.AppendSeq(b[:0], msg, l.stream, l.lastSeq); !ok {
					l.lastSeq--
					l.seqs[l.tail%size] = 0
					b = append(b[:0], msg...)
				}
				l.slots[l.tail%size] = b
			} else {
				l.slots[l.tail%size] = append(b[:0], msg...)
			}
			l.tail++
			wake := l.consumerWaiting && (!l.lingering || l.tail-l.head >= l.wakeAt)
			if wake {
				l.consumerWaiting, l.lingering = false, false
			}
			l.mu.Unlock()
			l.enqueued.Add(1)
			if wake {
				l.wake()
			}
			return
		case l.cfg.Block && l.up:
			l.producersWait++
			l.room.Wait()
			l.producersWait--
		case l.sp != nil:
			l.spooling = true
			l.spoolLocked(msg)
			l.mu.Unlock()
			return
		default:
			l.mu.Unlock()
			l.dropQueueFull.Add(1)
			return
		}
	}
}

// nextSeq numbers the next message; l.mu is held.
func (l *lane) nextSeq() uint64 {
	l.lastSeq++
	return l.lastSeq
}

// spoolLocked stamps (acking) and appends msg to the spool; l.mu is held.
func (l *lane) spoolLocked(msg []byte) {
	if l.acking {
		if b, ok := hep.AppendSeq(l.stampBuf[:0], msg, l.stream, l.lastSeq+1); ok {
			l.lastSeq++
			l.stampBuf = b
			msg = b
		}
	}
	l.spoolRaw(msg)
}

// spoolRaw appends msg (already stamped, or a lane without acks) to the
// spool; l.mu is held.
func (l *lane) spoolRaw(msg []byte) {
	err := l.sp.Append(msg)
	switch {
	case err == nil:
		l.spooled.Add(1)
	case errors.Is(err, spool.ErrFull):
		l.dropSpoolFull.Add(1)
	default:
		l.dropSpoolErr.Add(1)
		l.noteSpoolErr(err)
	}
}

func (l *lane) noteSpoolErr(err error) {
	s := err.Error()
	l.spoolErr.Store(&s)
	l.spoolErrsN.Add(1)
}

// close asks the goroutine to drain and stop, and waits for it.
func (l *lane) close() {
	l.mu.Lock()
	if !l.closing {
		l.closing = true
		l.deadline = time.Now().Add(l.cfg.DrainTimeout)
	}
	l.room.Broadcast()
	l.mu.Unlock()
	l.wake()
	<-l.done
}

// run is the lane goroutine.
func (l *lane) run() {
	defer close(l.done)
	backoff := l.cfg.BackoffMin
	closeDial := false // one dial attempt is made after close
	var retry *time.Timer
	var lastPrimary time.Time // failover: when the first collector was last tried
	for {
		if l.t == nil {
			l.mu.Lock()
			closing, deadline := l.closing, l.deadline
			pending := l.tail != l.ackHead || (l.sp != nil && l.sp.Stats().Records > 0)
			l.mu.Unlock()
			// Closing without a connection: keep trying until the drain
			// deadline while anything waits for delivery.
			if closing && closeDial && (!pending || time.Now().After(deadline)) {
				l.finish()
				return
			}
			if closing {
				closeDial = true
			}
			if !l.connect() {
				l.setDown()
				if closing {
					if pending && time.Now().Before(deadline) {
						if l.sp != nil {
							l.sealSpool() // nothing is appended after close
						}
						t := time.NewTimer(min(backoff, time.Until(deadline)))
						<-t.C
						backoff = min(2*backoff, l.cfg.BackoffMax)
					}
					continue // finishes above
				}
				if retry == nil {
					retry = time.NewTimer(backoff)
				} else {
					retry.Reset(backoff)
				}
				backoff = min(2*backoff, l.cfg.BackoffMax)
				l.sleep(retry)
				continue
			}
			backoff = l.cfg.BackoffMin
			lastPrimary = time.Now()
		}
		if l.t.broken() {
			l.fail(ErrPeerClosed)
			continue
		}
		l.checkProbe()
		if l.cur != 0 && time.Since(lastPrimary) >= l.cfg.BackoffMax {
			lastPrimary = time.Now()
			l.tryPrimary()
		}
		n, replay, stop := l.next()
		switch {
		case stop:
			l.finish()
			return
		case n > 0:
			sent, err := l.t.send(l.batch[:n])
			l.advance(sent)
			if err != nil {
				l.fail(err)
			}
		case replay:
			l.replayOne()
		}
	}
}

// sleep waits for the retry timer, or for close. While it waits, the
// spool's open segment is sealed every Config.SpoolSync, so that a crash
// of the agent loses at most that much of what it spooled.
func (l *lane) sleep(t *time.Timer) {
	var sync <-chan time.Time
	if l.sp != nil {
		tk := time.NewTicker(l.cfg.SpoolSync)
		defer tk.Stop()
		sync = tk.C
	}
	for {
		select {
		case <-t.C:
			return
		case <-sync:
			l.sealSpool()
		case <-l.notify:
			l.mu.Lock()
			closing := l.closing
			l.mu.Unlock()
			if closing {
				if !t.Stop() {
					<-t.C
				}
				return
			}
		}
	}
}

// sealSpool seals the spool's open segment when it holds anything.
func (l *lane) sealSpool() {
	if l.sp.OpenRecords() == 0 {
		return
	}
	if err := l.sp.Seal(); err != nil {
		l.noteSpoolErr(err)
	}
}

// connect dials the lane's collectors in order and keeps the first that
// answers.
func (l *lane) connect() bool {
	for i, e := range l.eps {
		t, err := e.dial()
		if err != nil {
			e.errs.Add(1)
			e.setErr(err)
			e.up.Store(false)
			continue
		}
		e.connects.Add(1)
		e.up.Store(true)
		l.t, l.cur = t, i
		l.mu.Lock()
		l.up = true
		l.newConnLocked()
		l.mu.Unlock()
		return true
	}
	return false
}

// newConnLocked resets the ack state for a fresh connection; l.mu is held.
func (l *lane) newConnLocked() {
	if l.acking {
		l.connAck, l.probeAt = ackProbing, time.Time{}
	}
}

// tryPrimary (failover, while a later collector is in use) dials the
// first collector again and moves to it when it answers. The lane is
// sequential, so order holds across the switch; what the old connection
// had not acknowledged is sent again on the new one.
func (l *lane) tryPrimary() {
	e := l.eps[0]
	t, err := e.dial()
	if err != nil {
		e.errs.Add(1)
		e.setErr(err)
		return
	}
	e.connects.Add(1)
	e.up.Store(true)
	l.t.close()
	l.eps[l.cur].up.Store(false)
	l.t, l.cur = t, 0
	l.mu.Lock()
	l.resendLocked()
	l.newConnLocked()
	l.mu.Unlock()
}

// fail closes the broken connection and marks the lane down.
func (l *lane) fail(err error) {
	e := l.eps[l.cur]
	e.errs.Add(1)
	e.setErr(err)
	e.up.Store(false)
	l.t.close()
	l.t = nil
	l.mu.Lock()
	l.resendLocked()
	l.mu.Unlock()
	l.setDown()
}

// resendLocked (acking) makes everything sent and not acknowledged go out
// again: the ring from ackHead, the spool from its oldest segment. l.mu is
// held.
func (l *lane) resendLocked() {
	if !l.acking {
		return
	}
	n := l.head - l.ackHead
	for _, f := range l.inflight {
		n += uint64(f.records)
	}
	if l.replayOn {
		n += uint64(l.replayPos)
	}
	l.resent.Add(n)
	l.head = l.ackHead
	l.inflight = l.inflight[:0]
	l.replayAfter = 0
	l.replay, l.replayOn, l.replayPos = spool.Segment{}, false, 0
}

// onAck applies a collector's acks; called by a connection's reader.
func (l *lane) onAck(e *endpoint, acks []hep.Ack) {
	e.ackSeen.Store(true)
	l.mu.Lock()
	if l.connAck == ackProbing {
		l.connAck = ackOn
	}
	if l.ackedTo == nil {
		l.ackedTo = make(map[uint64]uint64)
	}
	for _, a := range acks {
		if a.Seq > l.ackedTo[a.Stream] {
			l.ackedTo[a.Stream] = a.Seq
		}
	}
	l.applyAckedLocked()
	l.mu.Unlock()
	l.wake()
}

// applyAckedLocked releases the ring slots and spool segments covered by
// the acks seen so far; l.mu is held.
func (l *lane) applyAckedLocked() {
	size := uint64(len(l.slots))
	freed := false
	if a, ok := l.ackedTo[l.stream]; ok {
		for l.ackHead < l.head && l.seqs[l.ackHead%size] <= a {
			s := &l.slots[l.ackHead%size]
			l.free = append(l.free, *s)
			*s = nil
			l.ackHead++
			l.acked.Add(1)
			freed = true
		}
	}
	for i := 0; i < len(l.inflight); {
		f := l.inflight[i]
		if a, ok := l.ackedTo[f.stream]; !ok || a < f.last {
			i++
			continue
		}
		if err := l.sp.Remove(f.id); err != nil {
			l.noteSpoolErr(err)
		}
		l.acked.Add(uint64(f.records))
		l.inflight = append(l.inflight[:i], l.inflight[i+1:]...)
	}
	if freed && l.producersWait > 0 {
		l.room.Broadcast()
	}
}

// checkProbe falls back to plain HEP when a connection's collector has not
// acknowledged anything Config.AckTimeout after the first write, and never
// did on an earlier connection (heplify-server, Kamailio, an older xhep).
// What was sent to it counts as delivered, unconfirmed.
func (l *lane) checkProbe() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.connAck != ackProbing || l.probeAt.IsZero() || time.Since(l.probeAt) < l.cfg.AckTimeout || l.eps[l.cur].ackSeen.Load() {
		return
	}
	l.connAck = ackPlain
	l.fallbacks.Add(1)
	size := uint64(len(l.slots))
	n := l.head - l.ackHead
	for ; l.ackHead < l.head; l.ackHead++ {
		s := &l.slots[l.ackHead%size]
		l.free = append(l.free, *s)
		*s = nil
	}
	for _, f := range l.inflight {
		if err := l.sp.Remove(f.id); err != nil {
			l.noteSpoolErr(err)
		}
		n += uint64(f.records)
	}
	l.inflight, l.replayAfter = l.inflight[:0], 0
	l.unconfirmed.Add(n)
	if l.producersWait > 0 {
		l.room.Broadcast()
	}
	if l.cfg.Logger != nil {
		l.cfg.Logger.Warn("collector does not acknowledge (not an xhep-collector): sending plain HEP, delivery unconfirmed",
			"collector", l.eps[l.cur].target.String(), "waited", l.cfg.AckTimeout)
	}
}

// waitingAcks reports whether sent messages wait for an ack; l.mu is held.
func (l *lane) waitingAcksLocked() bool {
	return l.ackHead < l.head || len(l.inflight) > 0
}

// setDown marks the lane unreachable. Messages go to the spool from now on;
// if they were not already, the queued ones go first.
func (l *lane) setDown() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up = false
	if l.sp != nil && !l.spooling {
		l.spooling = true
		l.ringToSpoolLocked()
	}
	l.room.Broadcast()
}

// ringToSpoolLocked moves every queued message into the spool (they are
// stamped already).
func (l *lane) ringToSpoolLocked() {
	size := uint64(len(l.slots))
	for ; l.head != l.tail; l.head++ {
		s := &l.slots[l.head%size]
		l.spoolRaw(*s)
		l.free = append(l.free, *s)
		*s = nil
	}
	l.ackHead = l.head
	if l.producersWait > 0 {
		l.room.Broadcast()
	}
}

// park waits for a wakeup (a put, an ack, a broken connection, close), or
// until until when it is set.
func (l *lane) park(until time.Time) {
	l.parks.Add(1)
	if until.IsZero() {
		<-l.notify
		return
	}
	d := time.Until(until)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	select {
	case <-l.notify:
	case <-t.C:
	}
	t.Stop()
}

// waitUntilLocked is when a lane waiting for acks must look again: the
// probe's deadline, the drain deadline; zero for none. l.mu is held.
func (l *lane) waitUntilLocked() time.Time {
	var until time.Time
	if l.closing {
		until = l.deadline
	}
	if l.connAck == ackProbing && !l.probeAt.IsZero() {
		p := l.probeAt.Add(l.cfg.AckTimeout)
		if until.IsZero() || p.Before(until) {
			until = p
		}
	}
	return until
}

// next waits for work: a batch from the ring (n > 0, in l.batch), the
// spool to replay, or the end. It returns with nothing to do after a
// wakeup, so that the run loop checks the connection and the ack probe.
func (l *lane) next() (n int, replay, stop bool) {
	size := uint64(len(l.slots))
	lingered := false
	l.mu.Lock()
	for {
		l.consumerWaiting, l.lingering = false, false
		if l.closing && time.Now().After(l.deadline) {
			l.mu.Unlock()
			return 0, false, true
		}
		if q := l.tail - l.head; q > 0 {
			if q < l.wakeAt && !lingered && !l.closing && l.cfg.Linger > 0 {
				// A short batch: wait for more, at most Linger.
				lingered = true
				l.consumerWaiting, l.lingering = true, true
				l.mu.Unlock()
				l.lingers.Add(1)
				if l.linger == nil {
					l.linger = time.NewTimer(l.cfg.Linger)
				} else {
					l.linger.Reset(l.cfg.Linger)
				}
				select {
				case <-l.notify:
					l.linger.Stop()
				case <-l.linger.C:
				}
				l.mu.Lock()
				continue
			}
			n = int(min(q, uint64(len(l.batch))))
			for i := range n {
				l.batch[i] = l.slots[(l.head+uint64(i))%size]
			}
			l.mu.Unlock()
			return n, false, false
		}
		if l.spooling {
			l.mu.Unlock()
			return 0, true, false
		}
		waiting := l.waitingAcksLocked()
		if l.closing && !waiting {
			l.mu.Unlock()
			return 0, false, true
		}
		until := time.Time{}
		if waiting {
			until = l.waitUntilLocked()
		}
		l.parkLocked(until)
		return 0, false, false
	}
}

// parkLocked parks (see park) as the waiting consumer; l.mu is held on
// entry and released on return.
func (l *lane) parkLocked(until time.Time) {
	l.consumerWaiting = true
	l.mu.Unlock()
	l.park(until)
	l.mu.Lock()
	l.consumerWaiting = false
	l.mu.Unlock()
}

// ackingConnLocked: the open connection takes acks (probing or acked).
func (l *lane) ackingConnLocked() bool {
	return l.connAck == ackProbing || l.connAck == ackOn
}

// advance moves head past n sent slots. Without acks (or to a plain peer)
// they are released at once; otherwise they wait for their ack.
func (l *lane) advance(n int) {
	if n == 0 {
		return
	}
	l.eps[l.cur].sent.Add(uint64(n))
	var b uint64
	for _, m := range l.batch[:n] {
		b += uint64(len(m))
	}
	l.eps[l.cur].bytes.Add(b)
	size := uint64(len(l.slots))
	l.mu.Lock()
	if l.acking && l.ackingConnLocked() {
		l.head += uint64(n)
		if l.connAck == ackProbing && l.probeAt.IsZero() {
			l.probeAt = time.Now()
		}
		l.applyAckedLocked()
		l.mu.Unlock()
		return
	}
	for i := range uint64(n) {
		s := &l.slots[(l.head+i)%size]
		l.free = append(l.free, *s)
		*s = nil
	}
	l.head += uint64(n)
	l.ackHead = l.head
	if l.connAck == ackPlain {
		l.unconfirmed.Add(uint64(n))
	}
	if l.producersWait > 0 {
		l.room.Broadcast()
	}
	l.mu.Unlock()
}

// replayOne sends (the rest of) the next spool segment. Without acks the
// segment is removed once sent; with acks it stays in flight until its
// last message is acknowledged, and the next one is sent meanwhile. When
// nothing is left to send it clears spooling (spool empty) or waits for
// the acks of what is in flight.
func (l *lane) replayOne() {
	if !l.replayOn {
		l.mu.Lock()
		acking := l.acking && l.ackingConnLocked()
		read := func() (spool.Segment, error) {
			if acking {
				return l.sp.Next(l.replayAfter)
			}
			return l.sp.Oldest()
		}
		seg, err := read()
		if errors.Is(err, io.EOF) {
			// Readers see sealed segments only: seal what was appended.
			if err = l.sp.Seal(); err == nil {
				seg, err = read()
			}
			if errors.Is(err, io.EOF) {
				if l.waitingAcksLocked() {
					l.parkLocked(l.waitUntilLocked())
					return
				}
				l.spooling = false
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		if err != nil {
			// The spool cannot be read back: its messages are lost.
			// Leave spooling so that order is kept for what follows.
			l.noteSpoolErr(err)
			l.mu.Lock()
			l.dropSpoolErr.Add(uint64(l.sp.Stats().Records))
			l.spooling = false
			l.mu.Unlock()
			return
		}
		l.replay, l.replayOn, l.replayPos = seg, true, 0
	}
	recs := l.replay.Records
	for l.replayPos < len(recs) {
		start := l.replayPos
		end := min(start+l.cfg.BatchLen, len(recs))
		n, err := l.t.send(recs[start:end])
		if n > 0 {
			l.replayPos += n
			l.replayed.Add(uint64(n))
			e := l.eps[l.cur]
			e.sent.Add(uint64(n))
			var b uint64
			for _, m := range recs[start : start+n] {
				b += uint64(len(m))
			}
			e.bytes.Add(b)
		}
		if err != nil {
			l.fail(err)
			return
		}
		l.mu.Lock()
		if l.connAck == ackProbing && l.probeAt.IsZero() {
			l.probeAt = time.Now()
		}
		stop := l.closing && time.Now().After(l.deadline)
		l.mu.Unlock()
		if stop {
			return
		}
	}
	l.mu.Lock()
	if l.acking && l.ackingConnLocked() {
		f := segAck{id: l.replay.ID, records: len(recs)}
		for i := len(recs) - 1; i >= 0; i-- {
			if st, q, ok := hep.SeqOf(recs[i]); ok {
				f.stream, f.last = st, q
				break
			}
		}
		l.replayAfter = f.id
		if f.last != 0 {
			l.inflight = append(l.inflight, f)
			l.applyAckedLocked()
			l.mu.Unlock()
			l.replay, l.replayOn, l.replayPos = spool.Segment{}, false, 0
			return
		}
	} else if l.connAck == ackPlain {
		l.unconfirmed.Add(uint64(len(recs)))
	}
	if err := l.sp.Remove(l.replay.ID); err != nil {
		l.noteSpoolErr(err)
	}
	l.mu.Unlock()
	l.replay, l.replayOn, l.replayPos = spool.Segment{}, false, 0
}

// finish runs once, at the end of the lane goroutine: what is still queued
// or sent without an ack goes to the spool (or is counted as undelivered
// without one), the spool is sealed, the connection closed. Segments in
// flight stay in the spool.
func (l *lane) finish() {
	l.mu.Lock()
	l.head = l.ackHead // unacknowledged messages are not delivered
	l.inflight = l.inflight[:0]
	if q := l.tail - l.head; q > 0 {
		if l.sp != nil {
			if l.spooling && l.sp.Stats().Records > 0 {
				// These are older than what is spooled already; nothing
				// better can be done at exit than to keep them.
				l.reordered.Add(q)
			}
			l.ringToSpoolLocked()
		} else {
			l.undelivered.Add(q)
			size := uint64(len(l.slots))
			for ; l.head != l.tail; l.head++ {
				l.slots[l.head%size] = nil
			}
			l.ackHead = l.head
		}
	}
	// A partly replayed segment (drain deadline hit) stays whole in the
	// spool: the next run sends its first replayPos messages again.
	if l.sp != nil {
		if err := l.sp.Seal(); err != nil {
			l.noteSpoolErr(err)
		}
	}
	l.mu.Unlock()
	if l.t != nil {
		l.t.close()
		l.t = nil
		l.eps[l.cur].up.Store(false)
	}
}
