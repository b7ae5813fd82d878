package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/collector/store/backend"
)

// Writer is one writer goroutine's reusable state.
type Writer struct {
	b       *Backend
	handler string            // LOAD DATA reader handler name
	loadSQL map[string]string // by table
	tsv     []byte
	rd      bytes.Reader
	args    []any
	date    []byte
}

var handlerSeq atomic.Uint64

// NewWriter returns a writer with its own LOAD DATA reader handler.
func (b *Backend) NewWriter() (backend.Writer, error) { return b.newWriter(), nil }

func (b *Backend) newWriter() *Writer {
	w := &Writer{b: b, loadSQL: map[string]string{}}
	w.handler = "xhep-store-" + strconv.FormatUint(handlerSeq.Add(1), 10)
	gomysql.RegisterReaderHandler(w.handler, func() io.Reader { return &w.rd })
	return w
}

// Close deregisters the reader handler.
func (w *Writer) Close() error {
	gomysql.DeregisterReaderHandler(w.handler)
	return nil
}

// WriteBatch writes all rows of b in one transaction together with its id
// and part in xhep_batch_log. A duplicate key means an earlier attempt
// committed: the transaction is rolled back and ErrStored returned.
func (w *Writer) WriteBatch(ctx context.Context, b *backend.Batch) error {
	db := w.b.db
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO xhep_batch_log (id, part, created) VALUES (?, ?, UTC_TIMESTAMP())", b.ID, b.Part); err != nil {
		if isDup(err) {
			return backend.ErrStored
		}
		return fmt.Errorf("log batch: %w", err)
	}
	if m := b.Mark; m.Stream != 0 && b.Part == 0 {
		if _, err := tx.ExecContext(ctx, "INSERT INTO xhep_mark_log (stream, tbl, lo, hi, created) VALUES (?, ?, ?, ?, UTC_TIMESTAMP())",
			m.Stream, b.Table, m.Lo, m.Hi); err != nil {
			return fmt.Errorf("log batch mark: %w", err)
		}
	}
	if !w.b.useLoad.Load() {
		err = w.insertRows(ctx, tx, b)
	} else {
		err = w.loadRows(ctx, tx, b)
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
func (w *Writer) loadRows(ctx context.Context, tx *sql.Tx, b *backend.Batch) error {
	table := b.Table
	w.tsv = w.tsv[:0]
	body := b.Body
	var v backend.RowView
	var err error
	for range b.Rows {
		if body, err = backend.NextRow(body, &v); err != nil {
			return err
		}
		w.tsv = strconv.AppendUint(w.tsv, uint64(v.GID), 10)
		w.tsv = append(w.tsv, '\t')
		w.tsv = time.UnixMicro(v.Micros).UTC().AppendFormat(w.tsv, "2006-01-02 15:04:05.000000")
		for _, f := range [4][]byte{v.HepHeader, v.ProtoHeader, v.Payload, v.Raw} {
			w.tsv = append(w.tsv, '\t')
			w.tsv = AppendEscaped(w.tsv, f)
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
	if warnings > 0 || n != int64(b.Rows) {
		msg := ""
		var level, text string
		var code int
		if err := tx.QueryRowContext(ctx, "SHOW WARNINGS LIMIT 1").Scan(&level, &code, &text); err == nil {
			msg = fmt.Sprintf("%s %d: %s", level, code, text)
		}
		return fmt.Errorf("load data into %s: %d of %d rows, %d warnings (%s): %w", table, n, b.Rows, warnings, msg, errRefused)
	}
	return nil
}

// errRefused: the server skipped or altered rows of a LOAD DATA.
var errRefused = errors.New("rows refused")

// escTable marks the bytes LOAD DATA needs escaped.
var escTable = [256]byte{'\\': '\\', '\t': 't', '\n': 'n', 0: '0'}

// AppendEscaped appends src escaped for LOAD DATA's default ESCAPED BY
// '\\': backslash, tab, newline and NUL.
func AppendEscaped(dst, src []byte) []byte {
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

func (b *Backend) insertStmt(ctx context.Context, table string, rows int) (*sql.Stmt, error) {
	k := stmtKey{table, rows}
	b.stmtMu.Lock()
	defer b.stmtMu.Unlock()
	if st := b.stmts[k]; st != nil {
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
	st, err := b.db.PrepareContext(ctx, q.String())
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	b.stmts[k] = st
	return st, nil
}

// insertRows writes the rows with prepared multi-row INSERTs of
// power-of-two sizes (so few statements are cached per table).
func (w *Writer) insertRows(ctx context.Context, tx *sql.Tx, b *backend.Batch) error {
	body := b.Body
	var v backend.RowView
	var err error
	left := b.Rows
	for left > 0 {
		n := maxChunk
		for n > left {
			n >>= 1
		}
		st, err2 := w.b.insertStmt(ctx, b.Table, n)
		if err2 != nil {
			return err2
		}
		w.args = w.args[:0]
		w.date = w.date[:0]
		for range n {
			if body, err = backend.NextRow(body, &v); err != nil {
				return err
			}
			d0 := len(w.date)
			w.date = time.UnixMicro(v.Micros).UTC().AppendFormat(w.date, "2006-01-02 15:04:05.000000")
			// The date goes as text (the server parses it), from the
			// writer's buffer: a []byte argument needs no string copy.
			w.args = append(w.args, int64(v.GID), w.date[d0:len(w.date):len(w.date)], v.HepHeader, v.ProtoHeader, v.Payload, v.Raw)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, w.args...); err != nil {
			return fmt.Errorf("insert into %s: %w", b.Table, err)
		}
		left -= n
	}
	return nil
}
