package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// setup connects, creates the database, the batch log and every known
// table, and adds partitions ahead; on success the store is up.
func (s *Store) setup(ctx context.Context) error {
	if err := s.createDatabase(ctx); err != nil {
		s.setUp(false)
		return err
	}
	if _, err := s.db.ExecContext(ctx, batchLogSQL); err != nil {
		s.setUp(false)
		return fmt.Errorf("create batch log: %w", err)
	}
	for _, t := range s.allTables() {
		if err := s.ensureTable(ctx, t); err != nil {
			s.setUp(false)
			return err
		}
	}
	if s.cfg.Method == MethodLoad {
		// MySQL 8 ships with local_infile off; fall back to INSERT then.
		var on bool
		if err := s.db.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&on); err != nil {
			s.setUp(false)
			return fmt.Errorf("read local_infile: %w", err)
		}
		if !on && s.useLoad.Load() != on {
			s.cfg.Logger.Warn("server has local_infile off: writing with multi-row INSERT instead of LOAD DATA LOCAL")
		}
		s.useLoad.Store(on)
	}
	s.setUp(true)
	return nil
}

// createDatabase creates the database through a connection without a
// default database (the pool's connections name it and would fail).
func (s *Store) createDatabase(ctx context.Context) error {
	dc, err := mysql.ParseDSN(s.cfg.DSN)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	dc.DBName = ""
	dc.Logger = driverLog{s.cfg.Logger}
	if dc.Timeout == 0 {
		dc.Timeout = 5 * time.Second
	}
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	q, _ := quoteDatabase(s.dbName)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+q+" CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("create database %s: %w", s.dbName, err)
	}
	return nil
}

// ensureTable creates t if missing, with partitions from today to
// PartitionsAhead days after, and adds missing days ahead.
func (s *Store) ensureTable(ctx context.Context, t *table) error {
	today := utcDay(s.cfg.Now())
	last := today.AddDate(0, 0, s.cfg.PartitionsAhead)
	res, err := s.db.ExecContext(ctx, createTableSQL(t.name, today, last))
	if err != nil {
		return fmt.Errorf("create table %s: %w", t.name, err)
	}
	_ = res
	parts, err := s.partitions(ctx, t.name)
	if err != nil {
		return err
	}
	return s.addAhead(ctx, t.name, parts)
}

// part is one partition of a table.
type part struct {
	table string
	name  string
	day   time.Time // pYYYYMMDD's day; for p_old the day its bound starts
	size  int64     // data + index bytes (InnoDB statistics)
}

// partitions lists a table's partitions in order.
func (s *Store) partitions(ctx context.Context, table string) ([]part, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT PARTITION_NAME, PARTITION_DESCRIPTION, DATA_LENGTH + INDEX_LENGTH
		FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY PARTITION_ORDINAL_POSITION`, s.dbName, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []part
	for rows.Next() {
		var name, desc sql.NullString
		var size sql.NullInt64
		if err := rows.Scan(&name, &desc, &size); err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", table, err)
		}
		p := part{table: table, name: name.String, size: size.Int64}
		switch {
		case p.name == "p_old":
			// PARTITION_DESCRIPTION is the bound: '2025-01-01 00:00:00'.
			d, err := time.Parse("2006-01-02 15:04:05", strings.Trim(desc.String, "'"))
			if err == nil {
				p.day = d.AddDate(0, 0, -1)
			}
		case p.name == "pmax":
		default:
			d, err := time.Parse("p20060102", p.name)
			if err != nil {
				continue // not ours
			}
			p.day = d
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
func (s *Store) addAhead(ctx context.Context, table string, parts []part) error {
	today := utcDay(s.cfg.Now())
	want := today.AddDate(0, 0, s.cfg.PartitionsAhead)
	// The first new day is after the last bounded partition.
	next := today
	for _, p := range parts {
		if p.name == "pmax" || p.day.IsZero() {
			continue
		}
		if d := p.day.AddDate(0, 0, 1); d.After(next) {
			next = d
		}
	}
	if next.After(want) {
		return nil
	}
	var b strings.Builder
	var names []string
	fmt.Fprintf(&b, "ALTER TABLE `%s` REORGANIZE PARTITION pmax INTO (", table)
	for d := next; !d.After(want); d = d.AddDate(0, 0, 1) {
		fmt.Fprintf(&b, "PARTITION %s VALUES LESS THAN (%s), ", dayName(d), dayBound(d))
		names = append(names, dayName(d))
	}
	b.WriteString("PARTITION pmax VALUES LESS THAN (MAXVALUE))")
	if _, err := s.db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("add partitions to %s: %w", table, err)
	}
	for _, n := range names {
		s.cfg.Logger.Info("partition created", "table", table, "partition", n)
		s.m.partitions.WithLabelValues("create").Inc()
	}
	return nil
}

// maintain runs the partition manager once: partitions ahead, retention by
// class, then the database size limit.
func (s *Store) maintain(ctx context.Context) error {
	tables, err := s.dbTables(ctx)
	if err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	var errs []error
	for _, t := range tables {
		parts, err := s.partitions(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.addAhead(ctx, t, parts); err != nil {
			errs = append(errs, err)
		}
		if err := s.retention(ctx, t, parts, now.Add(-s.cfg.Retention[classOf(t)])); err != nil {
			errs = append(errs, err)
		}
	}
	if s.cfg.MaxDBSize > 0 {
		if err := s.limitSize(ctx, tables); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM xhep_batch_log WHERE created < UTC_TIMESTAMP() - INTERVAL 7 DAY"); err != nil {
		errs = append(errs, fmt.Errorf("prune batch log: %w", err))
	}
	return errors.Join(errs...)
}

// dbTables lists the store's tables in the database.
func (s *Store) dbTables(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'hep\_proto\_%' ORDER BY TABLE_NAME`, s.dbName)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if validTable(n) {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}

// retention drops the day partitions whose rows are all older than cutoff
// and empties p_old once its bound is older than cutoff. pmax is never
// touched.
func (s *Store) retention(ctx context.Context, table string, parts []part, cutoff time.Time) error {
	var drop []string
	for _, p := range parts {
		if p.name == "pmax" || p.day.IsZero() {
			continue
		}
		end := p.day.AddDate(0, 0, 1) // exclusive bound of its rows
		if end.After(cutoff) {
			continue
		}
		if p.name == "p_old" {
			if err := s.truncateOld(ctx, table, "retention"); err != nil {
				return err
			}
			continue
		}
		drop = append(drop, p.name)
	}
	return s.dropParts(ctx, table, drop, "retention")
}

func (s *Store) dropParts(ctx context.Context, table string, names []string, reason string) error {
	if len(names) == 0 {
		return nil
	}
	q := fmt.Sprintf("ALTER TABLE `%s` DROP PARTITION %s", table, strings.Join(names, ", "))
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("drop partitions of %s: %w", table, err)
	}
	for _, n := range names {
		s.cfg.Logger.Info("partition dropped", "table", table, "partition", n, "reason", reason)
		s.m.partitions.WithLabelValues("drop_" + reason).Inc()
	}
	return nil
}

// truncateOld empties p_old if it holds rows.
func (s *Store) truncateOld(ctx context.Context, table, reason string) error {
	var one int
	err := s.db.QueryRowContext(ctx, fmt.Sprintf("SELECT 1 FROM `%s` PARTITION (p_old) LIMIT 1", table)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look into %s p_old: %w", table, err)
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf("ALTER TABLE `%s` TRUNCATE PARTITION p_old", table)); err != nil {
		return fmt.Errorf("truncate %s p_old: %w", table, err)
	}
	s.cfg.Logger.Info("partition truncated", "table", table, "partition", "p_old", "reason", reason)
	s.m.partitions.WithLabelValues("truncate_old").Inc()
	return nil
}

// limitSize drops the oldest day partitions, all tables' partitions of a
// day at a time (p_old first), until the database's data+index size is
// under MaxDBSize. Today's and later partitions and pmax are never dropped.
func (s *Store) limitSize(ctx context.Context, tables []string) error {
	for _, t := range tables {
		// Refresh InnoDB's size statistics.
		rows, err := s.db.QueryContext(ctx, fmt.Sprintf("ANALYZE TABLE `%s`", t))
		if err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
		rows.Close()
	}
	var total int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?`, s.dbName).Scan(&total)
	if err != nil {
		return fmt.Errorf("database size: %w", err)
	}
	if total <= s.cfg.MaxDBSize {
		return nil
	}
	today := utcDay(s.cfg.Now())
	var cands []part
	for _, t := range tables {
		parts, err := s.partitions(ctx, t)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if p.name != "pmax" && !p.day.IsZero() && p.day.Before(today) {
				cands = append(cands, p)
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b part) int {
		if c := a.day.Compare(b.day); c != 0 {
			return c
		}
		return strings.Compare(a.table, b.table)
	})
	s.cfg.Logger.Info("database over size limit", "bytes", total, "limit", s.cfg.MaxDBSize)
	for i := 0; i < len(cands) && total > s.cfg.MaxDBSize; {
		day := cands[i].day
		for ; i < len(cands) && cands[i].day.Equal(day); i++ {
			p := cands[i]
			var err error
			if p.name == "p_old" {
				err = s.truncateOld(ctx, p.table, "size")
			} else {
				err = s.dropParts(ctx, p.table, []string{p.name}, "size")
			}
			if err != nil {
				return err
			}
			total -= p.size
		}
	}
	if total > s.cfg.MaxDBSize {
		s.cfg.Logger.Warn("database still over size limit; only today's and later partitions are left", "bytes", total, "limit", s.cfg.MaxDBSize)
	}
	return nil
}

// partitionLoop runs the partition manager when the database comes up
// and every hour.
func (s *Store) partitionLoop() {
	defer s.bg.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	ran := false
	for {
		up := s.waitUp()
		if s.dbUp.Load() && !ran {
			s.runMaintain()
			ran = true
		}
		select {
		case <-s.stop:
			return
		case <-up:
			ran = false
		case <-t.C:
			ran = false
		}
	}
}

func (s *Store) runMaintain() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := s.maintain(ctx); err != nil {
		s.cfg.Logger.Error("partition maintenance", "err", err)
	}
}

// Maintain runs the partition manager now (it also runs at start and
// hourly): partitions ahead, retention, size limit.
func (s *Store) Maintain(ctx context.Context) error { return s.maintain(ctx) }
