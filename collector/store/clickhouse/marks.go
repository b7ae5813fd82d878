package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
)

// Marks (backend.Marker) without transactions: every row of a marked
// batch carries the mark and the batch's row count (mark_stream, mark_lo,
// mark_hi, mark_rows). A mark is stored when all mark_rows rows of its
// batch are: then, and only then, is the journal's range [lo, hi] of that
// table stored. A batch with some of its rows (an INSERT cut between
// blocks, days or shards by a crash) is not stored: Marks deletes its
// rows (ALTER DELETE, waited for), so that the journal replay writes them
// once, whole. Marks must run before this process writes marked batches
// of the same stream (the collector reads them before it listens): a
// batch being written would look partial.

var _ backend.Marker = (*Backend)(nil)

// markCols are the mark columns, added to tables made before them.
var markCols = []col{
	{"mark_stream", "UInt64"},
	{"mark_lo", "UInt64"},
	{"mark_hi", "UInt64"},
	{"mark_rows", "UInt32"},
}

// Marks returns the complete marks of stream with hi above above, by
// table, and deletes the rows of its incomplete ones.
func (b *Backend) Marks(ctx context.Context, stream, above uint64) ([]backend.TableMark, error) {
	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	tables, err := b.tables(ctx)
	if err != nil {
		return nil, err
	}
	var out []backend.TableMark
	for _, t := range tables {
		// Through the Distributed table in a cluster: a batch's rows are
		// spread over the shards, its count is their sum.
		q := fmt.Sprintf("SELECT batch, any(mark_lo), any(mark_hi), any(mark_rows), count() FROM %s"+
			" WHERE mark_stream = ? AND mark_hi > ? AND bpart = 0 GROUP BY batch ORDER BY batch", b.q(t))
		rows, err := b.seed.Query(ctx, q, stream, above)
		if err != nil {
			return nil, fmt.Errorf("read marks of %s: %w", t, err)
		}
		var partial []uint64
		for rows.Next() {
			var id, lo, hi, n uint64
			var want uint32
			if err := rows.Scan(&id, &lo, &hi, &want, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read marks of %s: %w", t, err)
			}
			if n == uint64(want) {
				out = append(out, backend.TableMark{Table: t, Lo: lo, Hi: hi})
			} else {
				partial = append(partial, id)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read marks of %s: %w", t, err)
		}
		for _, id := range partial {
			b.env.Logger.Warn("partial marked batch found; deleting it so the journal replay writes it whole", "table", t, "batch", id)
			if err := b.deleteMarked(ctx, t, id); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(x, y backend.TableMark) int {
		if x.Table != y.Table {
			if x.Table < y.Table {
				return -1
			}
			return 1
		}
		return int(min(max(int64(x.Lo)-int64(y.Lo), -1), 1))
	})
	return out, nil
}

// tables lists the store's data tables (as the API reads them: the
// Distributed ones in a cluster).
func (b *Backend) tables(ctx context.Context) ([]string, error) {
	rows, err := b.seed.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", b.db)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return backend.ScanTables(rows)
}

// deleteMarked deletes batch id's part-0 rows from table on every shard
// (one replica of each: a replicated table's mutation reaches the others)
// and waits until they are gone.
func (b *Backend) deleteMarked(ctx context.Context, table string, id uint64) error {
	data := b.dataTable(table)
	targets := []string{data}
	if b.replicated.Load() && backend.IsSIP(table) {
		targets = append(targets, b.dataTable(usersTable(table))) // its index rows carry the batch key
	}
	for _, s := range b.currentShards() {
		for _, t := range targets {
			q := fmt.Sprintf("ALTER TABLE %s DELETE WHERE batch = %d AND bpart = 0", b.q(t), id)
			err := onShard(s, func(r *replica) error { return r.conn.Exec(ctx, q) })
			if err != nil {
				return fmt.Errorf("delete partial batch from %s on shard %d %s: %w", t, s.num, s.addr, err)
			}
		}
	}
	for _, s := range b.currentShards() {
		err := onShard(s, func(r *replica) error {
			for {
				var n uint64
				q := fmt.Sprintf("SELECT count() FROM %s WHERE batch = ? AND bpart = 0", b.q(data))
				if err := r.conn.QueryRow(ctx, q, id).Scan(&n); err != nil {
					return fmt.Errorf("count partial batch in %s on shard %d %s: %w", data, r.num, r.addr, err)
				}
				if n == 0 {
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("delete partial batch from %s: %w", data, ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// addMarkCols adds the mark columns to a table made before them (18.16
// has no ADD COLUMN IF NOT EXISTS: system.columns says what is there).
func (b *Backend) addMarkCols(ctx context.Context, s *replica, table string) error {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = 'mark_stream'", b.db, table).Scan(&n); err != nil {
		return fmt.Errorf("columns of %s on shard %d %s: %w", table, s.num, s.addr, err)
	}
	if n > 0 {
		return nil
	}
	after := "bpart"
	for _, c := range markCols {
		q := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s AFTER %s", b.q(table), c.name, c.typ, after)
		if err := s.conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("add column %s to %s on shard %d %s: %w", c.name, table, s.num, s.addr, err)
		}
		after = c.name
	}
	b.env.Logger.Info("added the journal mark columns", "table", table, "shard", s.addr)
	return nil
}
