package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/xhep/xhep/collector/store/backend"
)

// writer is one writer goroutine's state: the backend's writer.
type writer struct {
	s  *Store
	bw backend.Writer
}

// errKind classifies a failed batch write.
type errKind = backend.ErrKind

const (
	errConn    = backend.KindConn    // connection or server trouble: retry the batch as it is
	errData    = backend.KindData    // the server refused the data: repair, then split
	errNoTable = backend.KindNoTable // table or database missing: create, then retry
)

func (s *Store) classify(err error) errKind { return s.be.Classify(err) }

// errStored: the batch was committed by an earlier attempt.
var errStored = backend.ErrStored

func (s *Store) newWriter() (*writer, error) {
	bw, err := s.be.NewWriter()
	if err != nil {
		return nil, fmt.Errorf("new %s writer: %w", s.be.Name(), err)
	}
	return &writer{s: s, bw: bw}, nil
}

func (s *Store) writer(i int) {
	defer s.writers.Done()
	var w *writer
	for {
		var err error
		if w, err = s.newWriter(); err == nil {
			break
		}
		s.cfg.Logger.Error("writer", "writer", i, "err", err)
		select {
		case <-s.stop:
			return
		case <-time.After(time.Second):
		}
	}
	defer w.bw.Close()
	for {
		select {
		case b := <-s.queue:
			s.writeRetry(w, b)
		case <-s.stop:
			return
		}
	}
}

// writeRetry writes b until it is stored. While the database is down a
// batch that came from Write is spilled rather than held (a batch read
// back from the spill is retried; the spill keeps it). At Close's
// deadline (abandon) the batch is spilled or counted.
func (s *Store) writeRetry(w *writer, b *batch) {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if !s.dbUp.Load() {
			if s.spill != nil && !b.fromSpill {
				s.giveUpLive(b)
				return
			}
			select {
			case <-s.waitUp():
			case <-s.abandon:
				s.giveUp(b)
				return
			}
		}
		start := time.Now()
		err := s.writeBatch(w, b, 0)
		if err == nil || errors.Is(err, errStored) {
			if err == nil {
				s.m.batchSecs.Observe(time.Since(start).Seconds())
				s.m.batchRows.Observe(float64(b.rows))
				b.t.written.Add(float64(b.rows))
			} else {
				s.m.dupBatches.Inc()
			}
			s.finish(b)
			return
		}
		switch s.classify(err) {
		case errData:
			s.m.writeErrs.WithLabelValues("data").Inc()
			s.cfg.Logger.Warn("database refused batch; repairing", "table", b.t.name, "rows", b.rows, "err", err)
			s.writeRepaired(w, b)
			return
		case errNoTable:
			s.m.writeErrs.WithLabelValues("schema").Inc()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			s.schemaMu.Lock()
			err := s.be.EnsureTable(ctx, b.t.name)
			s.schemaMu.Unlock()
			if err != nil {
				s.cfg.Logger.Error("create table", "table", b.t.name, "err", err)
			}
			cancel()
		default:
			s.m.writeErrs.WithLabelValues("conn").Inc()
			if attempt >= 2 {
				s.cfg.Logger.Warn("batch write failing", "table", b.t.name, "attempt", attempt+1, "err", err)
				// Let the prober decide when it is back.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := s.be.Ping(ctx)
				cancel()
				if err != nil {
					s.setUp(false)
				}
			}
		}
		select {
		case <-time.After(backoff):
		case <-s.abandon:
			s.giveUp(b)
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// giveUpLive spills a batch while the database is away (not at Close).
func (s *Store) giveUpLive(b *batch) {
	if s.spillBatch(b) == nil {
		return
	}
	s.spillFull.Store(true)
	s.m.writeErrs.WithLabelValues("spill").Inc()
	// No room on disk: keep it in memory until the database is back.
	select {
	case <-s.waitUp():
		s.writeRetryHeld(b)
	case <-s.abandon:
		s.giveUp(b)
	}
}

// writeRetryHeld puts a held batch back on the queue.
func (s *Store) writeRetryHeld(b *batch) {
	select {
	case s.queue <- b:
	default:
		s.m.dropped.WithLabelValues(dropFull).Add(float64(b.rows))
		s.finish(b)
	}
}

// writeBatch has the backend store all rows of b as the given part of
// its batch id, exactly once: errStored when an earlier attempt did.
func (s *Store) writeBatch(w *writer, b *batch, part uint32) error {
	h, err := decodeHeader(b.buf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bb := backend.Batch{ID: h.id, Part: part, Table: h.table, Rows: h.rows, Body: h.body,
		Retry: b.tried || b.fromSpill || part > 0}
	b.tried = true
	if part == 0 && b.hi != 0 && s.cfg.MarkStream != 0 {
		bb.Mark = backend.Mark{Stream: s.cfg.MarkStream, Lo: b.lo, Hi: b.hi}
	}
	if b.hi != 0 && s.cfg.MarkDurable != nil {
		if err := s.cfg.MarkDurable(ctx, b.hi); err != nil {
			return fmt.Errorf("wait for the journal: %w", err)
		}
	}
	return w.bw.WriteBatch(ctx, &bb)
}

// writeRepaired handles a batch the server refused for its data. Rows
// whose JSON is not valid UTF-8 JSON get an error document instead, and
// the batch is tried again whole; if it still fails, rows are written one
// by one (parts 1..n of the batch id), and a row refused alone is stored
// with every JSON column replaced by {"error": ...} (its raw bytes kept).
// Only a row refused even then is dropped and counted.
func (s *Store) writeRepaired(w *writer, b *batch) {
	h, err := checkRecord(b.buf)
	if err != nil {
		s.cfg.Logger.Error("corrupt batch", "table", b.t.name, "err", err)
		s.m.dropped.WithLabelValues(dropRejected).Add(float64(b.rows))
		s.finish(b)
		return
	}
	fixed := s.newBatch(b.t)
	fixed.id = h.id
	fixed.reset(b.t, h.id)
	fixed.tried = true // the same id was tried as b
	// The repaired whole batch carries the original's mark; rows written
	// one by one (parts) carry none, so a crash in the middle of that
	// rare path can store those rows again after a journal replay.
	fixed.lo, fixed.hi = b.lo, b.hi
	body := h.body
	var v rowView
	repaired := 0
	for range h.rows {
		body, _ = nextRow(body, &v)
		r := Row{Table: b.t.name, GID: v.GID, HepHeader: v.HepHeader, ProtocolHeader: v.ProtoHeader, Payload: v.Payload, Raw: v.Raw}
		n := 0
		for _, f := range []*[]byte{&r.HepHeader, &r.ProtocolHeader, &r.Payload} {
			if !utf8.Valid(*f) || !json.Valid(*f) {
				*f = []byte(`{"error":"invalid JSON document"}`)
				n++
			}
		}
		if n > 0 {
			repaired++
		}
		fixed.add(&r, v.Micros)
	}
	done := func(err error) bool { return err == nil || errors.Is(err, errStored) }
	// retryConn only gives up on a connection error at Close: spill the
	// original batch then, as writeRetry would.
	abandoned := func(err error) bool {
		if err != nil && s.classify(err) == errConn {
			s.recycle(fixed)
			s.giveUp(b)
			return true
		}
		return false
	}
	if repaired > 0 {
		err := s.retryConn(w, fixed, 0)
		if abandoned(err) {
			return
		}
		if done(err) {
			s.m.repaired.Add(float64(repaired))
			s.countWritten(b, err)
			s.recycle(fixed)
			s.finish(b)
			return
		}
	}
	// One by one.
	body = h.body
	one := s.newBatch(b.t)
	for i := range h.rows {
		body, _ = nextRow(body, &v)
		r := Row{Table: b.t.name, GID: v.GID, HepHeader: v.HepHeader, ProtocolHeader: v.ProtoHeader, Payload: v.Payload, Raw: v.Raw}
		one.reset(b.t, h.id)
		one.add(&r, v.Micros)
		err := s.retryConn(w, one, uint32(i+1))
		if done(err) {
			s.countRow(b, err)
			continue
		}
		if abandoned(err) {
			// Rows already stored as parts are skipped by the batch log
			// when the spilled batch is replayed and split again.
			s.recycle(one)
			return
		}
		s.cfg.Logger.Warn("database refused row; storing it with an error mark", "table", b.t.name, "err", err)
		mark, _ := json.Marshal(map[string]string{"error": "rejected by database: " + err.Error()})
		r.HepHeader, r.ProtocolHeader, r.Payload = mark, mark, mark
		one.reset(b.t, h.id)
		one.add(&r, v.Micros)
		err = s.retryConn(w, one, uint32(i+1))
		if done(err) {
			s.m.repaired.Inc()
			s.countRow(b, err)
			continue
		}
		s.cfg.Logger.Error("database refused row; dropped", "table", b.t.name, "err", err)
		s.m.dropped.WithLabelValues(dropRejected).Inc()
	}
	s.recycle(one)
	s.recycle(fixed)
	s.finish(b)
}

func (s *Store) countWritten(b *batch, err error) {
	if err == nil {
		b.t.written.Add(float64(b.rows))
	} else {
		s.m.dupBatches.Inc()
	}
}

func (s *Store) countRow(b *batch, err error) {
	if err == nil {
		b.t.written.Add(1)
	}
}

// retryConn writes b as the given part, retrying connection errors until
// it succeeds, the server refuses the data, or Close abandons.
func (s *Store) retryConn(w *writer, b *batch, part uint32) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.writeBatch(w, b, part)
		if err == nil || s.classify(err) != errConn || errors.Is(err, errStored) {
			return err
		}
		select {
		case <-time.After(backoff):
		case <-s.abandon:
			return err
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
