package store

import (
	"errors"
	"io"
	"sync"
	"time"
)

// spillSegment is one sealed segment of the spill, oldest first.
type spillSegment struct {
	id      uint64
	records [][]byte
}

// spiller is the on-disk FIFO of batch records (package hep/spool).
type spiller interface {
	Append(rec []byte) error
	Seal() error
	Oldest() (spillSegment, error) // io.EOF when no sealed segment
	Remove(id uint64) error
	Depth() (records, bytes int64)
	Close() error
}

// drainer writes the spill back, oldest segment first, while the database
// is up. A segment is removed only after all its batches are committed;
// if the process dies before, the segment is written again and the batch
// log turns its batches that did commit into no-ops.
func (s *Store) drainer() {
	defer s.bg.Done()
	if s.spill == nil {
		return
	}
	for {
		if !s.dbUp.Load() || !s.spillPending() {
			select {
			case <-s.stop:
				return
			case <-s.waitUp():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		seg, err := s.spill.Oldest()
		if errors.Is(err, io.EOF) {
			s.smu.Lock()
			if err := s.spill.Seal(); err != nil {
				s.smu.Unlock()
				s.cfg.Logger.Error("seal spill segment", "err", err)
				s.sleepOrStop(time.Second)
				continue
			}
			seg, err = s.spill.Oldest()
			if errors.Is(err, io.EOF) {
				s.spillMode = false // empty, and Append waits on smu
				s.smu.Unlock()
				s.cfg.Logger.Info("spill drained")
				continue
			}
			s.smu.Unlock()
		}
		if err != nil {
			s.cfg.Logger.Error("read spill", "err", err)
			s.sleepOrStop(time.Second)
			continue
		}
		if !s.replay(seg) {
			return // stopping; the segment stays for the next run
		}
		if err := s.spill.Remove(seg.id); err != nil {
			s.cfg.Logger.Error("remove spill segment", "segment", seg.id, "err", err)
			s.sleepOrStop(time.Second)
			continue
		}
		s.spillFull.Store(false)
	}
}

func (s *Store) sleepOrStop(d time.Duration) {
	select {
	case <-s.stop:
	case <-time.After(d):
	}
}

// replay queues every batch of seg and waits until all are done; false if
// the store is stopping first.
func (s *Store) replay(seg spillSegment) bool {
	var wg sync.WaitGroup
	for _, rec := range seg.records {
		h, err := checkRecord(rec)
		if err != nil {
			s.cfg.Logger.Error("corrupt spill record skipped", "segment", seg.id, "err", err)
			s.m.dropped.WithLabelValues("spill_corrupt").Add(float64(max(h.rows, 1)))
			continue
		}
		t := s.lookup(h.table)
		if t == nil {
			t = s.addTable(h.table)
		}
		b := s.newBatch(t)
		b.buf = append(b.buf[:0], rec...)
		b.id, b.rows, b.fromSpill = h.id, h.rows, true
		wg.Add(1)
		b.onDone = wg.Done
		// Do not crowd out live rows: wait for room in memory.
		for s.memRows.Load() > int64(s.cfg.QueueRows) {
			select {
			case <-s.stop:
				s.recycle(b)
				wg.Done()
				return false
			case <-time.After(10 * time.Millisecond):
			}
		}
		select {
		case s.queue <- b:
		case <-s.stop:
			s.recycle(b)
			wg.Done()
			return false
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-s.stop:
		return false
	}
}
