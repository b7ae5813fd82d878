package send

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

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

	// replay state: lane goroutine only
	replay    spool.Segment
	replayOn  bool
	replayPos int

	notify chan struct{} // wakes the lane goroutine (cap 1)
	done   chan struct{}

	parks, lingers                                 atomic.Uint64
	enqueued, spooled, replayed                    atomic.Uint64
	dropQueueFull, dropSpoolFull, dropSpoolErr     atomic.Uint64
	dropClosed, undelivered, reordered, spoolErrsN atomic.Uint64
	spoolErr                                       atomic.Pointer[string]
}

func newLane(name string, cfg *Config, eps []*endpoint, sp *spool.Spool) *lane {
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
	for _, e := range eps {
		e.wake = l.wake
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
		case l.tail-l.head < size:
			var b []byte
			if k := len(l.free); k > 0 {
				b, l.free = l.free[k-1], l.free[:k-1]
			}
			l.slots[l.tail%size] = append(b[:0], msg...)
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

// spoolLocked appends msg to the spool; l.mu is held.
func (l *lane) spoolLocked(msg []byte) {
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
			closing := l.closing
			l.mu.Unlock()
			if closing && closeDial {
				l.finish()
				return
			}
			if closing {
				closeDial = true
			}
			if !l.connect() {
				l.setDown()
				if closing {
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

// sleep waits for the retry timer, or for close.
func (l *lane) sleep(t *time.Timer) {
	for {
		select {
		case <-t.C:
			return
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
		l.mu.Unlock()
		return true
	}
	return false
}

// tryPrimary (failover, while a later collector is in use) dials the
// first collector again and moves to it when it answers. The lane is
// sequential, so order holds across the switch.
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
}

// fail closes the broken connection and marks the lane down.
func (l *lane) fail(err error) {
	e := l.eps[l.cur]
	e.errs.Add(1)
	e.setErr(err)
	e.up.Store(false)
	l.t.close()
	l.t = nil
	l.setDown()
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

// ringToSpoolLocked moves every queued message into the spool.
func (l *lane) ringToSpoolLocked() {
	size := uint64(len(l.slots))
	for ; l.head != l.tail; l.head++ {
		s := &l.slots[l.head%size]
		l.spoolLocked(*s)
		l.free = append(l.free, *s)
		*s = nil
	}
	if l.producersWait > 0 {
		l.room.Broadcast()
	}
}

// next waits for work: a batch from the ring (n > 0, in l.batch), the
// spool to replay, or the end.
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
		if l.closing {
			l.mu.Unlock()
			return 0, false, true
		}
		l.consumerWaiting = true
		l.mu.Unlock()
		l.parks.Add(1)
		<-l.notify
		if l.t.broken() {
			return 0, false, false
		}
		l.mu.Lock()
	}
}

// advance releases n sent slots.
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
	for i := range uint64(n) {
		s := &l.slots[(l.head+i)%size]
		l.free = append(l.free, *s)
		*s = nil
	}
	l.head += uint64(n)
	if l.producersWait > 0 {
		l.room.Broadcast()
	}
	l.mu.Unlock()
}

// replayOne sends (the rest of) the oldest spool segment and removes it,
// or clears spooling when the spool is empty.
func (l *lane) replayOne() {
	if !l.replayOn {
		l.mu.Lock()
		seg, err := l.sp.Oldest()
		if errors.Is(err, io.EOF) {
			// Readers see sealed segments only: seal what was appended.
			if err = l.sp.Seal(); err == nil {
				seg, err = l.sp.Oldest()
			}
			if errors.Is(err, io.EOF) {
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
		stop := l.closing && time.Now().After(l.deadline)
		l.mu.Unlock()
		if stop {
			return
		}
	}
	l.mu.Lock()
	if err := l.sp.Remove(l.replay.ID); err != nil {
		l.noteSpoolErr(err)
	}
	l.mu.Unlock()
	l.replay, l.replayOn, l.replayPos = spool.Segment{}, false, 0
}

// finish runs once, at the end of the lane goroutine: what is still queued
// goes to the spool (or is counted as undelivered without one), the spool
// is sealed, the connection closed.
func (l *lane) finish() {
	l.mu.Lock()
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
