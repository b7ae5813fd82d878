package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
)

// part is the active data of one day of one table on one shard.
type part struct {
	shard *shard
	table string // as in system.parts (_local in a cluster)
	base  string // hep_proto_<type>_<class>
	id    string // partition id, YYYYMMDD
	day   time.Time
	bytes int64
}

// parts lists the store's partitions on every shard (one replica of
// each: replicas hold the same parts, and dropping a replicated table's
// partition on one drops it on all).
func (b *Backend) parts(ctx context.Context) ([]part, error) {
	var out []part
	for _, s := range b.currentShards() {
		var got []part
		err := onShard(s, func(r *replica) error {
			got = got[:0]
			rows, err := r.conn.Query(ctx, "SELECT table, partition_id, toInt64(sum(bytes)) FROM system.parts WHERE database = ? AND active GROUP BY table, partition_id ORDER BY partition_id, table", b.db)
			if err != nil {
				return fmt.Errorf("list parts on shard %d %s: %w", s.num, r.addr, err)
			}
			defer rows.Close()
			for rows.Next() {
				var p part
				if err := rows.Scan(&p.table, &p.id, &p.bytes); err != nil {
					return fmt.Errorf("list parts: %w", err)
				}
				p.shard = s
				p.base = strings.TrimSuffix(strings.TrimSuffix(p.table, "_local"), "_users")
				if !backend.ValidTable(p.base) {
					continue
				}
				d, err := time.Parse("20060102", p.id)
				if err != nil {
					continue
				}
				p.day = d
				got = append(got, p)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("list parts: %w", err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// Size is the bytes of the store's active parts on every shard
// (system.parts; compressed, on disk).
func (b *Backend) Size(ctx context.Context) (int64, error) {
	if err := b.connect(ctx); err != nil {
		return 0, err
	}
	parts, err := b.parts(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range parts {
		n += p.bytes
	}
	return n, nil
}

func (b *Backend) drop(ctx context.Context, p part, reason string) error {
	q := fmt.Sprintf("ALTER TABLE %s DROP PARTITION %s", b.q(p.table), p.id)
	if err := onShard(p.shard, func(r *replica) error { return r.conn.Exec(ctx, q) }); err != nil {
		return fmt.Errorf("drop partition %s of %s on shard %d: %w", p.id, p.table, p.shard.num, err)
	}
	b.env.Logger.Info("partition dropped", "table", p.table, "partition", p.id, "shard", p.shard.addr, "reason", reason)
	b.env.PartitionAction("drop_" + reason)
	return nil
}

// Maintain drops the days past their class's retention, then, with
// MaxDBSize, the oldest days (all tables of a day at a time, never today
// or later) until the store is under it. ClickHouse creates a day's
// partition with its first row: nothing is made ahead.
func (b *Backend) Maintain(ctx context.Context, pol backend.Policy) error {
	parts, err := b.parts(ctx)
	if err != nil {
		return err
	}
	now := b.env.Now().UTC()
	var errs []error
	var kept []part
	for _, p := range parts {
		cutoff := now.Add(-pol.Retention[backend.ClassOf(p.base)])
		if !p.day.AddDate(0, 0, 1).After(cutoff) {
			if err := b.drop(ctx, p, "retention"); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		kept = append(kept, p)
	}
	if pol.MaxDBSize > 0 {
		var total int64
		for _, p := range kept {
			total += p.bytes
		}
		if total > pol.MaxDBSize {
			b.env.Logger.Info("database over size limit", "bytes", total, "limit", pol.MaxDBSize)
			today := backend.UTCDay(now)
			slices.SortStableFunc(kept, func(x, y part) int {
				if c := x.day.Compare(y.day); c != 0 {
					return c
				}
				return strings.Compare(x.table, y.table)
			})
			for i := 0; i < len(kept) && total > pol.MaxDBSize; {
				day := kept[i].day
				if !day.Before(today) {
					break
				}
				for ; i < len(kept) && kept[i].day.Equal(day); i++ {
					if err := b.drop(ctx, kept[i], "size"); err != nil {
						errs = append(errs, err)
						continue
					}
					total -= kept[i].bytes
				}
			}
			if total > pol.MaxDBSize {
				b.env.Logger.Warn("database still over size limit; only today's and later partitions are left", "bytes", total, "limit", pol.MaxDBSize)
			}
		}
	}
	return errors.Join(errs...)
}
