package collector

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/collector/journal"
	"github.com/xhep/xhep/collector/store"
)

// Acknowledged delivery, collector side (the agent side is in
// agent/send, the wire format in hep/ack.go).
//
// With --journal-dir every accepted message is appended to the journal
// before it is dissected; an agent's stream is acknowledged up to what is
// fsynced there (journal.Durable), resends at or below the stream's
// high-water mark are dropped before the journal, and the journal replays
// at start what was not yet known committed (see package journal).
//
// Without a journal, an agent's message is acknowledged once the store
// has committed it (or spilled it, sealed) — a store Flush that started
// after its row was written returned — and resends are dropped by the
// stream's high-water mark kept in memory.
//
// Backpressure: when the store cannot take a row (memory queue full and
// no room in the spill), a TCP/TLS handler waits, so its connection is
// not read; UDP rows are dropped and counted as before.

// flushAcker acknowledges without a journal: per stream, the highest
// sequence received (dedup), the highest written to the store without a
// failure before it, and the highest known committed.
type flushAcker struct {
	st   *store.Store // nil: nothing to wait for (forward only)
	mu   sync.Mutex
	strs map[uint64]*streamMarks
	ch   chan struct{}
}

type streamMarks struct {
	recv, written, durable, failed uint64
}

func newFlushAcker(st *store.Store) *flushAcker {
	return &flushAcker{st: st, strs: map[uint64]*streamMarks{}, ch: make(chan struct{})}
}

// accept reports whether (stream, seq) is new, and records it.
func (a *flushAcker) accept(stream, seq uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.strs[stream]
	if m == nil {
		m = &streamMarks{}
		a.strs[stream] = m
	}
	if seq <= m.recv {
		return false
	}
	m.recv = seq
	return true
}

// written records the outcome of storing (stream, seq). After a failure
// the stream is not acknowledged past it in this process.
func (a *flushAcker) written(stream, seq uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.strs[stream]
	switch {
	case m == nil:
	case !ok && m.failed == 0:
		m.failed = seq
	case ok && m.failed == 0:
		m.written = max(m.written, seq)
	}
}

// Durable implements ingest.Acker.
func (a *flushAcker) Durable(stream uint64) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := a.strs[stream]; m != nil {
		return m.durable
	}
	return 0
}

// Changed implements ingest.Acker.
func (a *flushAcker) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ch
}

// commit waits for a store flush of everything written so far and then
// makes it durable for the acks. false when the flush did not finish.
func (a *flushAcker) commit(ctx context.Context) bool {
	a.mu.Lock()
	snap := make(map[uint64]uint64, len(a.strs))
	for s, m := range a.strs {
		if m.written > m.durable {
			snap[s] = m.written
		}
	}
	a.mu.Unlock()
	if len(snap) == 0 {
		return true
	}
	if a.st != nil {
		if err := a.st.Flush(ctx); err != nil {
			return false
		}
	}
	a.mu.Lock()
	for s, w := range snap {
		if m := a.strs[s]; m != nil {
			m.durable = max(m.durable, w)
		}
	}
	close(a.ch)
	a.ch = make(chan struct{})
	a.mu.Unlock()
	return true
}

// loop commits every interval until ctx ends.
func (a *flushAcker) loop(ctx context.Context, every time.Duration) {
	tick(ctx, every, func() {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		a.commit(fctx)
		cancel()
	})
}

// tick calls fn every interval until ctx ends.
func tick(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// journalAcker adapts the journal to ingest.Acker.
type journalAcker struct{ j *journal.Journal }

func (a journalAcker) Durable(stream uint64) uint64 { return a.j.Durable(stream) }
func (a journalAcker) Changed() <-chan struct{}     { return a.j.Changed() }

var (
	_ ingest.Acker = (*flushAcker)(nil)
	_ ingest.Acker = journalAcker{}
)

// checkpointLoop tells the journal, every interval, what the store has
// committed: the records handed to the store before a Flush that
// returned.
func (s *Service) checkpointLoop(ctx context.Context, every time.Duration) {
	tick(ctx, every, func() { s.checkpoint(ctx, 30*time.Second) })
}

// checkpoint flushes the store and checkpoints the journal up to what was
// handed before the flush; false when the store did not finish in time.
func (s *Service) checkpoint(ctx context.Context, timeout time.Duration) bool {
	h := s.jr.Handed()
	if s.store != nil {
		fctx, cancel := context.WithTimeout(ctx, timeout)
		err := s.store.Flush(fctx)
		cancel()
		if err != nil {
			return false
		}
	}
	if err := s.jr.Checkpoint(h); err != nil {
		s.log.Error("journal checkpoint", "err", err)
		return false
	}
	return true
}

// waitRoom makes a stream's handler wait while the store is full
// (backpressure: its connection is not read meanwhile). It returns false
// when the service is shutting down first.
func (s *Service) waitRoom(transport string) bool {
	if s.store == nil || transport == ingest.UDP || !s.store.Full() {
		return true
	}
	s.dm.backpressure.Inc()
	for s.store.Full() {
		select {
		case <-s.quit:
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
	return true
}

// deliveryMetrics are the collector's side of the delivery counters.
type deliveryMetrics struct {
	duplicates    prometheus.Counter
	backpressure  prometheus.Counter
	replaySkipped prometheus.Counter
}

func newDeliveryMetrics(reg prometheus.Registerer, s *Service) deliveryMetrics {
	f := families{reg}
	m := deliveryMetrics{
		duplicates: f.counter("xhep_collector_duplicates_dropped_total",
			"Messages an agent sent again that were already stored or journaled (dropped by the stream's high-water mark)."),
		backpressure: f.counter("xhep_collector_backpressure_waits_total",
			"Times a TCP/TLS reader stopped reading because the store had no room (its agent queues or spools meanwhile)."),
		replaySkipped: f.counter("xhep_collector_journal_replay_stored_total",
			"Journal records skipped at replay because the database already held their rows (the batch's mark)."),
	}
	if s.jr != nil {
		reg.MustRegister(journalCollector{s.jr})
	}
	return m
}

type journalCollector struct{ j *journal.Journal }

var (
	descJAppended = prometheus.NewDesc("xhep_collector_journal_appended_total", "Messages appended to the journal.", nil, nil)
	descJSyncs    = prometheus.NewDesc("xhep_collector_journal_syncs_total", "Journal write+fsync calls.", nil, nil)
	descJSyncSecs = prometheus.NewDesc("xhep_collector_journal_sync_seconds_total", "Time spent in journal write+fsync.", nil, nil)
	descJPending  = prometheus.NewDesc("xhep_collector_journal_pending_records", "Journal records not yet known committed (replayed after a crash).", nil, nil)
	descJBytes    = prometheus.NewDesc("xhep_collector_journal_bytes", "Journal bytes on disk and waiting for their sync.", nil, nil)
	descJBlocked  = prometheus.NewDesc("xhep_collector_journal_blocked_total", "Appends that waited for room (journal full: backpressure).", nil, nil)
	descJReplayed = prometheus.NewDesc("xhep_collector_journal_replayed_total", "Journal records replayed at start.", nil, nil)
	descJErrors   = prometheus.NewDesc("xhep_collector_journal_sync_errors_total", "Failed journal writes or fsyncs (retried).", nil, nil)
)

func (c journalCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJAppended, descJSyncs, descJSyncSecs, descJPending, descJBytes, descJBlocked, descJReplayed, descJErrors} {
		ch <- d
	}
}

func (c journalCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.j.Stats()
	ch <- prometheus.MustNewConstMetric(descJAppended, prometheus.CounterValue, float64(st.Appended))
	ch <- prometheus.MustNewConstMetric(descJSyncs, prometheus.CounterValue, float64(st.Syncs))
	ch <- prometheus.MustNewConstMetric(descJSyncSecs, prometheus.CounterValue, st.SyncTime.Seconds())
	ch <- prometheus.MustNewConstMetric(descJPending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(descJBytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(descJBlocked, prometheus.CounterValue, float64(st.Blocked))
	ch <- prometheus.MustNewConstMetric(descJReplayed, prometheus.CounterValue, float64(st.Replayed))
	ch <- prometheus.MustNewConstMetric(descJErrors, prometheus.CounterValue, float64(st.SyncErrors))
}

// errNoRoom: a row not stored because the service stopped while waiting
// for room in the store.
var errNoRoom = errors.New("shutting down while the store is full")
