package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

// writer is one writer goroutine's reusable state.
type writer struct {
	s       *Store
	handler string            // LOAD DATA reader handler name
	loadSQL map[string]string // by table
	tsv     []byte
	rd      bytes.Reader
	args    []any
	date    []byte
}

var handlerSeq atomic.Uint64

func registerReader(w *writer) {
	mysql.RegisterReaderHandler(w.handler, func() io.Reader { return &w.rd })
}

func deregisterReader(w *writer) { mysql.DeregisterReaderHandler(w.handler) }

// errKind classifies a failed batch write.
type errKind int

const (
	errConn    errKind = iota // connection or server trouble: retry the batch as it is
	errData                   // the server refused the data: repair, then split
	errNoTable                // table or database missing: create, then retry
)

// classify sorts a write error. Server errors about the data are errData;
// missing schema is errNoTable; everything else (network, timeouts,
// deadlocks, shutdown, too many connections) is errConn and retried.
func classify(err error) errKind {
	if errors.Is(err, errRefused) {
		return errData
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return errConn
	}
	switch me.Number {
	case 1146, 1049: // ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR
		return errNoTable
	case 1048, // ER_BAD_NULL_ERROR
		1261, 1262, 1263, // LOAD DATA row too short/long, NULL into NOT NULL
		1264, 1265, // out of range, data truncated
		1292,                               // truncated incorrect value
		1300,                               // invalid character string
		1366,                               // incorrect string value (bad UTF-8)
		1406,                               // data too long
		3140, 3141, 3143, 3144, 3146, 3156, // MySQL 8: invalid JSON text and friends
		4025,                                                                         // MariaDB: CHECK constraint (JSON_VALID) failed
		4036, 4037, 4038, 4039, 4040, 4041, 4042, 4043, 4044, 4045, 4046, 4047, 4048: // MariaDB JSON errors
		return errData
	}
	return errConn
}

func isDup(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// errStored: the batch was committed by an earlier attempt.
var errStored = errors.New("batch already stored")

func (s *Store) writer(i int) {
	defer s.writers.Done()
	w := &writer{s: s, loadSQL: map[string]string{}}
	{
		w.handler = "xhep-store-" + strconv.FormatUint(handlerSeq.Add(1), 10)
		registerReader(w)
		defer deregisterReader(w)
	}
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
		switch classify(err) {
		case errData:
			s.m.writeErrs.WithLabelValues("data").Inc()
			s.cfg.Logger.Warn("database refused batch; repairing", "table", b.t.name, "rows", b.rows, "err", err)
			s.writeRepaired(w, b)
			return
		case errNoTable:
			s.m.writeErrs.WithLabelValues("schema").Inc()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.ensureTable(ctx, b.t); err != nil {
				s.cfg.Logger.Error("create table", "table", b.t.name, "err", err)
			}
			cancel()
		default:
			s.m.writeErrs.WithLabelValues("conn").Inc()
			if attempt >= 2 {
				s.cfg.Logger.Warn("batch write failing", "table", b.t.name, "attempt", attempt+1, "err", err)
				// Let the prober decide when it is back.
				if err := s.db.PingContext(context.Background()); err != nil {
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

// writeBatch writes all rows of b in one transaction together with its id
// (part 0) in xhep_batch_log. A duplicate id means an earlier attempt
// committed: the transaction is rolled back and errStored returned.
func (s *Store) writeBatch(w *writer, b *batch, part uint32) error {
	h, err := decodeHeader(b.buf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO xhep_batch_log (id, part, created) VALUES (?, ?, UTC_TIMESTAMP())", h.id, part); err != nil {
		if isDup(err) {
			return errStored
		}
		return fmt.Errorf("log batch: %w", err)
	}
	if !s.useLoad.Load() {
		err = s.insertRows(ctx, tx, w, b.t.name, h)
	} else {
		err = s.loadRows(ctx, tx, w, b.t.name, h)
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// loadRows streams the rows as LOAD DATA LOCAL INFILE text:
//
//	gid \t create_date \t hep_header \t protocol_header \t payload \t raw \n
//
// create_date as "2006-01-02 15:04:05.000000"; in every field \ is written
// \\, tab \t, newline \n and NUL \0 (the server's default ESCAPED BY '\\').
func (s *Store) loadRows(ctx context.Context, tx *sql.Tx, w *writer, table string, h recordHeader) error {
	w.tsv = w.tsv[:0]
	body := h.body
	var v rowView
	var err error
	for range h.rows {
		if body, err = nextRow(body, &v); err != nil {
			return err
		}
		w.tsv = strconv.AppendUint(w.tsv, uint64(v.gid), 10)
		w.tsv = append(w.tsv, '\t')
		w.tsv = time.UnixMicro(v.micros).UTC().AppendFormat(w.tsv, "2006-01-02 15:04:05.000000")
		for _, f := range [4][]byte{v.hepHeader, v.protoHeader, v.payload, v.raw} {
			w.tsv = append(w.tsv, '\t')
			w.tsv = appendEscaped(w.tsv, f)
		}
		w.tsv = append(w.tsv, '\n')
	}
	q, ok := w.loadSQL[table]
	if !ok {
		q = "LOAD DATA LOCAL INFILE 'Reader::" + w.handler + "' INTO TABLE `" + table + "` CHARACTER SET utf8mb4" +
			" FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'" +
			" (gid, create_date, hep_header, protocol_header, payload, raw)"
		w.loadSQL[table] = q
	}
	w.rd.Reset(w.tsv)
	res, err := tx.ExecContext(ctx, q)
	if err != nil {
		return fmt.Errorf("load data into %s: %w", table, err)
	}
	// LOAD DATA LOCAL acts as IGNORE: a row the server refuses is skipped
	// or altered with only a warning. Any warning fails the batch (the
	// transaction rolls back) and sends it to the repair path.
	n, _ := res.RowsAffected()
	var warnings int
	if err := tx.QueryRowContext(ctx, "SELECT @@warning_count").Scan(&warnings); err != nil {
		return fmt.Errorf("load data into %s: warning count: %w", table, err)
	}
	if warnings > 0 || n != int64(h.rows) {
		msg := ""
		var level, text string
		var code int
		if err := tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &text); err == nil {
			msg = fmt.Sprintf("%s %d: %s", level, code, text)
		}
		return fmt.Errorf("load data into %s: %d of %d rows, %d warnings (%s): %w", table, n, h.rows, warnings, msg, errRefused)
	}
	return nil
}

// errRefused: the server skipped or altered rows of a LOAD DATA.
var errRefused = errors.New("rows refused")

// escTable marks the bytes LOAD DATA needs escaped.
var escTable = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', 0: '0'}

func appendEscaped(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if e := escTable[c]; e != 0 || c == 0 {
			dst = append(dst, src[start:i]...)
			if c == 0 {
				e = '0'
			}
			dst = append(dst, '\\', e)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}

// stmtKey names a cached multi-row INSERT.
type stmtKey struct {
	table string
	rows  int
}

// maxChunk is the most rows of one prepared INSERT (6 placeholders a row,
// well under the 65535 placeholder limit).
const maxChunk = 1024

func (s *Store) insertStmt(ctx context.Context, table string, rows int) (*sql.Stmt, error) {
	k := stmtKey{table, rows}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st := s.stmts[k]; st != nil {
		return st, nil
	}
	var q bytes.Buffer
	q.WriteString("INSERT INTO `" + table + "` (gid, create_date, hep_header, protocol_header, payload, raw) VALUES ")
	for i := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?,?,?)")
	}
	st, err := s.db.PrepareContext(ctx, q.String())
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	s.stmts[k] = st
	return st, nil
}

// insertRows writes the rows with prepared multi-row INSERTs of
// power-of-two sizes (so few statements are cached per table).
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, w *writer, table string, h recordHeader) error {
	body := h.body
	var v rowView
	var err error
	left := h.rows
	for left > 0 {
		n := maxChunk
		for n > left {
			n >>= 1
		}
		st, err2 := s.insertStmt(ctx, table, n)
		if err2 != nil {
			return err2
		}
		w.args = w.args[:0]
		w.date = w.date[:0]
		for range n {
			if body, err = nextRow(body, &v); err != nil {
				return err
			}
			d0 := len(w.date)
			w.date = time.UnixMicro(v.micros).UTC().AppendFormat(w.date, "2006-01-02 15:04:05.000000")
			// The date goes as text (the server parses it), from the
			// writer's buffer: a []byte argument needs no string copy.
			w.args = append(w.args, int64(v.gid), w.date[d0:len(w.date):len(w.date)], v.hepHeader, v.protoHeader, v.payload, v.raw)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, w.args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		left -= n
	}
	return nil
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
	body := h.body
	var v rowView
	repaired := 0
	for range h.rows {
		body, _ = nextRow(body, &v)
		r := Row{Table: b.t.name, GID: v.gid, HepHeader: v.hepHeader, ProtocolHeader: v.protoHeader, Payload: v.payload, Raw: v.raw}
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
		fixed.add(&r, v.micros)
	}
	done := func(err error) bool { return err == nil || errors.Is(err, errStored) }
	// retryConn only gives up on a connection error at Close: spill the
	// original batch then, as writeRetry would.
	abandoned := func(err error) bool {
		if err != nil && classify(err) == errConn {
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
		r := Row{Table: b.t.name, GID: v.gid, HepHeader: v.hepHeader, ProtocolHeader: v.protoHeader, Payload: v.payload, Raw: v.raw}
		one.reset(b.t, h.id)
		one.add(&r, v.micros)
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
		one.add(&r, v.micros)
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
		if err == nil || classify(err) != errConn || errors.Is(err, errStored) {
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
