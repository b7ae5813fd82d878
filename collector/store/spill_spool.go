package store

import (
	"fmt"

	"github.com/xhep/xhep/hep/spool"
)

// spoolSpill adapts *spool.Spool: one batch record per spool record.
type spoolSpill struct{ sp *spool.Spool }

func openSpill(cfg Config) (spiller, error) {
	sp, err := spool.Open(spool.Config{
		Dir:          cfg.SpillDir,
		MaxBytes:     cfg.SpillMax,
		SegmentBytes: 4 * cfg.BatchBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", cfg.SpillDir, err)
	}
	return spoolSpill{sp}, nil
}

func (s spoolSpill) Append(rec []byte) error {
	if err := s.sp.Append(rec); err != nil {
		return fmt.Errorf("spill append: %w", err)
	}
	return nil
}

func (s spoolSpill) Seal() error { return s.sp.Seal() }

func (s spoolSpill) Oldest() (spillSegment, error) {
	seg, err := s.sp.Oldest()
	if err != nil {
		return spillSegment{}, err
	}
	return spillSegment{id: seg.ID, records: seg.Records}, nil
}

func (s spoolSpill) Remove(id uint64) error { return s.sp.Remove(id) }

func (s spoolSpill) Depth() (int64, int64) {
	st := s.sp.Stats()
	return st.Records, st.Bytes
}

func (s spoolSpill) Close() error { return s.sp.Close() }
