package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
)

// Part is one partition of a table.
type Part struct {
	Table string
	Name  string    // p_old, pYYYYMMDD or pmax
	Day   time.Time // pYYYYMMDD's day; for p_old the day before its bound
	Size  int64     // data + index bytes (InnoDB statistics)
}

// Partitions lists a table's partitions in order.
func (b *Backend) Partitions(ctx context.Context, table string) ([]Part, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT PARTITION_NAME, PARTITION_DESCRIPTION, DATA_LENGTH + INDEX_LENGTH
		FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY PARTITION_ORDINAL_POSITION`, b.dbName, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []Part
	for rows.Next() {
		var name, desc sql.NullString
		var size sql.NullInt64
		if err := rows.Scan(&name, &desc, &size); err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", table, err)
		}
		p := Part{Table: table, Name: name.String, Size: size.Int64}
		switch {
		case p.Name == "p_old":
			// PARTITION_DESCRIPTION is the bound: '2025-01-01 00:00:00'.
			d, err := time.Parse("2006-01-02 15:04:05", strings.Trim(desc.String, "'"))
			if err == nil {
				p.Day = d.AddDate(0, 0, -1)
			}
		case p.Name == "pmax":
		default:
			d, err := time.Parse("p20060102", p.Name)
			if err != nil {
				continue // not ours
			}
			p.Day = d
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("table %s: %w", table, errNotPartitioned)
	}
	return out, nil
}

var errNotPartitioned = errors.New("no partitions (not a table of this store?)")

// addAhead splits pmax so that day partitions exist through today +
// PartitionsAhead. Rows already in pmax move to their day.
func (b *Backend) addAhead(ctx context.Context, table string, parts []Part) error {
	today := backend.UTCDay(b.env.Now())
	want := today.AddDate(0, 0, b.env.PartitionsAhead)
	// The first new day is after the last bounded partition.
	next := today
	for _, p := range parts {
		if p.Name == "pmax" || p.Day.IsZero() {
			continue
		}
		if d := p.Day.AddDate(0, 0, 1); d.After(next) {
			next = d
		}
	}
	if next.After(want) {
		return nil
	}
	var sb strings.Builder
	var names []string
	fmt.Fprintf(&sb, "ALTER TABLE `%s` REORGANIZE PARTITION pmax INTO (", table)
	for d := next; !d.After(want); d = d.AddDate(0, 0, 1) {
		fmt.Fprintf(&sb, "PARTITION %s VALUES LESS THAN (%s), ", dayName(d), dayBound(d))
		names = append(names, dayName(d))
	}
	sb.WriteString("PARTITION pmax VALUES LESS THAN (MAXVALUE))")
	if _, err := b.db.ExecContext(ctx, sb.String()); err != nil {
		return fmt.Errorf("add partitions to %s: %w", table, err)
	}
	for _, n := range names {
		b.env.Logger.Info("partition created", "table", table, "partition", n)
		b.env.PartitionAction("create")
	}
	return nil
}

// Maintain runs the partition manager once: partitions ahead, retention
// by class, then the database size limit; and prunes the batch log.
func (b *Backend) Maintain(ctx context.Context, pol backend.Policy) error {
	tables, err := b.dbTables(ctx)
	if err != nil {
		return err
	}
	now := b.env.Now().UTC()
	var errs []error
	for _, t := range tables {
		parts, err := b.Partitions(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pol.MaxFuture > 0 {
			if err := b.removeFuture(ctx, t, now.Add(pol.MaxFuture)); err != nil {
				errs = append(errs, err)
			}
		}
		if err := b.addAhead(ctx, t, parts); err != nil {
			errs = append(errs, err)
		}
		if err := b.retention(ctx, t, parts, now.Add(-pol.Retention[backend.ClassOf(t)])); err != nil {
			errs = append(errs, err)
		}
	}
	if pol.MaxDBSize > 0 {
		if err := b.limitSize(ctx, tables, pol.MaxDBSize); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := b.db.ExecContext(ctx, "DELETE FROM xhep_mark_log WHERE created < UTC_TIMESTAMP() - INTERVAL 7 DAY"); err != nil {
		b.env.Logger.Warn("prune mark log", "err", err)
	}
	if _, err := b.db.ExecContext(ctx, "DELETE FROM xhep_batch_log WHERE created < UTC_TIMESTAMP() - INTERVAL 7 DAY"); err != nil {
		errs = append(errs, fmt.Errorf("prune batch log: %w", err))
	}
	return errors.Join(errs...)
}

// dbTables lists the store's tables in the database.
func (b *Backend) dbTables(ctx context.Context) ([]string, error) {
	rows, err := b.db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'hep\_proto\_%' ORDER BY TABLE_NAME`, b.dbName)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return backend.ScanTables(rows)
}

// retention drops the day partitions whose rows are all older than cutoff
// and empties p_old once its bound is older than cutoff; before that, the
// whole days of p_old past cutoff (rows captured before the table was
// made: an old capture read, a backlog) are deleted in chunks, so that
// retention keeps the same days whatever partition holds them (as the
// ClickHouse backend's day partitions do). pmax is never touched.
func (b *Backend) retention(ctx context.Context, table string, parts []Part, cutoff time.Time) error {
	var drop []string
	for _, p := range parts {
		if p.Name == "pmax" || p.Day.IsZero() {
			continue
		}
		end := p.Day.AddDate(0, 0, 1) // exclusive bound of its rows
		if end.After(cutoff) {
			if p.Name == "p_old" {
				if err := b.deleteOld(ctx, table, backend.UTCDay(cutoff)); err != nil {
					return err
				}
			}
			continue
		}
		if p.Name == "p_old" {
			if err := b.truncateOld(ctx, table, "retention"); err != nil {
				return err
			}
			continue
		}
		drop = append(drop, p.Name)
	}
	return b.dropParts(ctx, table, drop, "retention")
}

func (b *Backend) dropParts(ctx context.Context, table string, names []string, reason string) error {
	if len(names) == 0 {
		return nil
	}
	q := fmt.Sprintf("ALTER TABLE `%s` DROP PARTITION %s", table, strings.Join(names, ", "))
	if _, err := b.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("drop partitions of %s: %w", table, err)
	}
	for _, n := range names {
		b.env.Logger.Info("partition dropped", "table", table, "partition", n, "reason", reason)
		b.env.PartitionAction("drop_" + reason)
	}
	return nil
}

// removeFuture removes the rows of pmax dated at or after bound (a
// sender's clock far ahead), so the next split of pmax does not copy them:
// the whole partition at once when it holds nothing else, else in chunks
// of futureChunk rows (the near-future rows stay and move to their day).
func (b *Backend) removeFuture(ctx context.Context, table string, bound time.Time) error {
	var first sql.NullTime
	err := b.db.QueryRowContext(ctx, fmt.Sprintf("SELECT MIN(create_date) FROM `%s` PARTITION (pmax)", table)).Scan(&first)
	if err != nil {
		return fmt.Errorf("look into %s pmax: %w", table, err)
	}
	if !first.Valid {
		return nil // empty
	}
	var removed int64
	if !first.Time.Before(bound) {
		var n int64
		if err := b.db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM `%s` PARTITION (pmax)", table)).Scan(&n); err != nil {
			return fmt.Errorf("count %s pmax: %w", table, err)
		}
		if _, err := b.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE `%s` TRUNCATE PARTITION pmax", table)); err != nil {
			return fmt.Errorf("truncate %s pmax: %w", table, err)
		}
		removed = n
	} else {
		n, err := b.deleteChunks(ctx, fmt.Sprintf("DELETE FROM `%s` PARTITION (pmax) WHERE create_date >= ? LIMIT %d", table, futureChunk), bound)
		if err != nil {
			return fmt.Errorf("remove future rows of %s: %w", table, err)
		}
		removed = n
	}
	if removed > 0 {
		b.env.Logger.Warn("rows dated in the far future removed (a sender's clock ahead; the collector stores such messages at their receive time)",
			"table", table, "rows", removed, "after", bound)
		b.env.PartitionAction("remove_future")
	}
	return nil
}

// deleteOld deletes p_old's rows dated before bound, in chunks.
func (b *Backend) deleteOld(ctx context.Context, table string, bound time.Time) error {
	var one int
	err := b.db.QueryRowContext(ctx, fmt.Sprintf("SELECT 1 FROM `%s` PARTITION (p_old) WHERE create_date < ? LIMIT 1", table), bound).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look into %s p_old: %w", table, err)
	}
	removed, err := b.deleteChunks(ctx, fmt.Sprintf("DELETE FROM `%s` PARTITION (p_old) WHERE create_date < ? LIMIT %d", table, futureChunk), bound)
	if err != nil {
		return fmt.Errorf("delete old rows of %s p_old: %w", table, err)
	}
	b.env.Logger.Info("rows past retention deleted from p_old", "table", table, "rows", removed, "before", bound)
	b.env.PartitionAction("delete_old")
	return nil
}

// deleteChunks runs the DELETE ... LIMIT futureChunk q until it deletes
// fewer rows, and returns how many it deleted.
func (b *Backend) deleteChunks(ctx context.Context, q string, args ...any) (int64, error) {
	var removed int64
	for {
		res, err := b.db.ExecContext(ctx, q, args...)
		if err != nil {
			return removed, err
		}
		n, _ := res.RowsAffected()
		removed += n
		if n < futureChunk {
			return removed, nil
		}
	}
}

// futureChunk bounds one DELETE of removeFuture and deleteOld.
const futureChunk = 10_000

// truncateOld empties p_old if it holds rows.
func (b *Backend) truncateOld(ctx context.Context, table, reason string) error {
	var one int
	err := b.db.QueryRowContext(ctx, fmt.Sprintf("SELECT 1 FROM `%s` PARTITION (p_old) LIMIT 1", table)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look into %s p_old: %w", table, err)
	}
	if _, err := b.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE `%s` TRUNCATE PARTITION p_old", table)); err != nil {
		return fmt.Errorf("truncate %s p_old: %w", table, err)
	}
	b.env.Logger.Info("partition truncated", "table", table, "partition", "p_old", "reason", reason)
	b.env.PartitionAction("truncate_old")
	return nil
}

// limitSize drops the oldest day partitions, all tables' partitions of a
// day at a time (p_old first), until the database's data+index size is
// under MaxDBSize. Today's and later partitions and pmax are never dropped.
func (b *Backend) limitSize(ctx context.Context, tables []string, limit int64) error {
	total, err := b.size(ctx, tables)
	if err != nil {
		return err
	}
	if total <= limit {
		return nil
	}
	today := backend.UTCDay(b.env.Now())
	var cands []Part
	for _, t := range tables {
		parts, err := b.Partitions(ctx, t)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if p.Name != "pmax" && !p.Day.IsZero() && p.Day.Before(today) {
				cands = append(cands, p)
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b Part) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Table, b.Table)
	})
	b.env.Logger.Info("database over size limit", "bytes", total, "limit", limit)
	for i := 0; i < len(cands) && total > limit; {
		day := cands[i].Day
		for ; i < len(cands) && cands[i].Day.Equal(day); i++ {
			p := cands[i]
			var err error
			if p.Name == "p_old" {
				err = b.truncateOld(ctx, p.Table, "size")
			} else {
				err = b.dropParts(ctx, p.Table, []string{p.Name}, "size")
			}
			if err != nil {
				return err
			}
			total -= p.Size
		}
	}
	if total > limit {
		b.env.Logger.Warn("database still over size limit; only today's and later partitions are left", "bytes", total, "limit", limit)
	}
	return nil
}

// Size is the data+index bytes of the database (InnoDB statistics,
// refreshed by ANALYZE TABLE on the store's tables first).
func (b *Backend) Size(ctx context.Context) (int64, error) {
	tables, err := b.dbTables(ctx)
	if err != nil {
		return 0, err
	}
	return b.size(ctx, tables)
}

func (b *Backend) size(ctx context.Context, tables []string) (int64, error) {
	for _, t := range tables {
		// Refresh InnoDB's size statistics.
		rows, err := b.db.QueryContext(ctx, fmt.Sprintf("ANALYZE TABLE `%s`", t))
		if err != nil {
			return 0, fmt.Errorf("analyze %s: %w", t, err)
		}
		rows.Close()
	}
	var total int64
	err := b.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, b.dbName).Scan(&total)
	if err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	if b.cfg.PageCompression > 0 {
		// Page-compressed files have holes DATA_LENGTH does not see: the
		// allocated bytes of the database's tablespaces are the size.
		var alloc sql.NullInt64
		err := b.db.QueryRowContext(ctx, `SELECT SUM(ALLOCATED_SIZE) FROM information_schema.INNODB_SYS_TABLESPACES
			WHERE NAME LIKE CONCAT(?, '/%')`, b.dbName).Scan(&alloc)
		if err != nil {
			return 0, fmt.Errorf("database allocated size: %w", err)
		}
		if alloc.Valid {
			total = alloc.Int64
		}
	}
	return total, nil
}
