// Package mysql is the MySQL 8 / MariaDB 10.11 backend of package
// collector/store: the DSN, the schema (tables with VIRTUAL generated
// columns and RANGE partitions by day), batched writes (prepared
// multi-row INSERT or LOAD DATA LOCAL INFILE) made exactly once by the
// xhep_batch_log table, the server's error numbers, and the partition
// manager. The store package's doc describes the tables and the figures.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/collector/store/backend"
)

// Method selects how a batch is written.
type Method string

const (
	// MethodInsert writes a batch with cached multi-row prepared INSERTs
	// (binary protocol: no text to parse on the server). It costs the
	// server about half the CPU per byte of LOAD DATA (see the store
	// package doc) and is the default.
	MethodInsert Method = "insert"
	// MethodLoad streams a batch with LOAD DATA LOCAL INFILE (a reader
	// handler of go-sql-driver/mysql; the server needs local_infile=1).
	MethodLoad Method = "load"
)

// Config configures a [Backend].
type Config struct {
	// DSN is a go-sql-driver/mysql DSN, with or without a database name,
	// for example "xhep:xhep@tcp(127.0.0.1:3306)/".
	DSN string
	// Database is created if missing. Default: the DSN's database name,
	// else "xhep".
	Database string
	// Conns is the number of writer connections the pool is sized for
	// (default 4).
	Conns int
	// Method is MethodInsert (default) or MethodLoad.
	Method Method
	// PageCompression, 1..9, creates new tables with MariaDB's InnoDB
	// page compression at that zlib level (PAGE_COMPRESSED=1
	// PAGE_COMPRESSION_LEVEL=N; the file system must punch holes, as ext4
	// and XFS do); 0 (default) off. Measured on 92,000 generated SIP rows
	// (MariaDB 10.11, ext4): 2,472 → 625 bytes on disk per row at level 1,
	// for about 25 µs more server CPU per row (44 → 70, compression
	// included); level 6 is no smaller and costs far more. Size then
	// counts the files' allocated bytes (InnoDB's DATA_LENGTH does not
	// see the holes). MariaDB only: MySQL 8 refuses the table option.
	PageCompression int
	// PageCompressionAlgorithm is the page compression's algorithm:
	// "" or "zlib" (at level PageCompression), or one of MariaDB's
	// provider plugins "lz4", "snappy", "lzo", "lzma", "bzip2" (no level;
	// PageCompression 0 is taken as on). The algorithm is the server's
	// global innodb_compression_algorithm, which the backend checks at
	// Setup and never sets (it is server-wide and needs SUPER): Setup
	// fails, saying what to do, when the server is not MariaDB, lacks the
	// provider_<algorithm> plugin or has another algorithm set. Measured
	// (README "Storage figures", 200,000 generated SIP rows, the server's
	// whole CPU with every page written out): lz4 ~1,100 B per row at
	// 63-66 µs of server CPU (plain 2,490 B, 51-60 µs), zlib level 1
	// ~655 B at 108 µs.
	PageCompressionAlgorithm string
	// SearchHeaders are the --search-header names: each is a VIRTUAL
	// generated, indexed column of the SIP tables (backend.SearchHeaders
	// names it), added to existing tables at EnsureTable.
	SearchHeaders []string
}

// Backend is the MySQL/MariaDB [backend.Backend].
type Backend struct {
	cfg    Config
	dbName string
	db     *sql.DB
	env    backend.Env

	useLoad atomic.Bool // Method is load and the server allows LOAD DATA LOCAL

	hdrCols []genCol // Config.SearchHeaders

	stmtMu sync.Mutex
	stmts  map[stmtKey]*sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var _ backend.Backend = (*Backend)(nil)

// New checks cfg and builds the connection pool; it does not connect.
func New(cfg Config) (*Backend, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 4
	}
	if cfg.Method == "" {
		cfg.Method = MethodInsert
	}
	switch cfg.Method {
	case MethodInsert, MethodLoad:
	default:
		return nil, fmt.Errorf("mysql write method %q: want insert or load", cfg.Method)
	}
	if cfg.PageCompression < 0 || cfg.PageCompression > 9 {
		return nil, fmt.Errorf("mysql page compression level %d: want 0 (off) to 9", cfg.PageCompression)
	}
	switch {
	case cfg.PageCompressionAlgorithm == "" || cfg.PageCompressionAlgorithm == "zlib":
		cfg.PageCompressionAlgorithm = "zlib"
	case slices.Contains(providerAlgorithms, cfg.PageCompressionAlgorithm):
		if cfg.PageCompression == 0 {
			cfg.PageCompression = 1
		}
	default:
		return nil, fmt.Errorf("mysql page compression algorithm %q: want zlib, %s", cfg.PageCompressionAlgorithm, strings.Join(providerAlgorithms, ", "))
	}
	dc, err := gomysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	name := cfg.Database
	if name == "" {
		name = dc.DBName
	}
	if name == "" {
		name = "xhep"
	}
	if _, err := QuoteDatabase(name); err != nil {
		return nil, err
	}
	dc.DBName = name
	if dc.Timeout == 0 {
		dc.Timeout = 5 * time.Second
	}
	if dc.ReadTimeout == 0 {
		dc.ReadTimeout = 2 * time.Minute
	}
	if dc.WriteTimeout == 0 {
		dc.WriteTimeout = 2 * time.Minute
	}
	dc.Loc = time.UTC
	dc.ParseTime = true
	if dc.Params == nil {
		dc.Params = map[string]string{}
	}
	dc.Params["time_zone"] = "'+00:00'"
	// Readers (the HTTP API) send one round trip per query instead of a
	// prepare, execute and close; measured to halve a Call-ID lookup. The
	// writers' explicitly prepared statements are not affected.
	dc.InterpolateParams = true
	b := &Backend{cfg: cfg, dbName: name, stmts: make(map[stmtKey]*sql.Stmt)}
	if b.hdrCols, err = searchCols(cfg.SearchHeaders); err != nil {
		return nil, err
	}
	b.env.Logger = slog.New(slog.DiscardHandler)
	dc.Logger = driverLog{b}
	conn, err := gomysql.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	b.db = sql.OpenDB(conn)
	b.db.SetMaxOpenConns(cfg.Conns + 2)
	b.db.SetMaxIdleConns(cfg.Conns + 2)
	b.db.SetConnMaxLifetime(time.Hour)
	return b, nil
}

// driverLog sends go-sql-driver/mysql's messages (connection trouble the
// store already handles) to the store's logger at debug level.
type driverLog struct{ b *Backend }

func (d driverLog) Print(v ...any) { d.b.env.Logger.Debug("mysql driver", "msg", fmt.Sprint(v...)) }

// Name is "mysql".
func (b *Backend) Name() string { return "mysql" }

// Start keeps the store's environment.
func (b *Backend) Start(env backend.Env) error {
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.PartitionsAhead <= 0 {
		env.PartitionsAhead = 2
	}
	if env.PartitionAction == nil {
		env.PartitionAction = func(string) {}
	}
	b.env = env
	return nil
}

// DB returns the connection pool, for read-only queries. Its connections
// use the store's database, parseTime=true, loc=UTC and the session
// time_zone '+00:00', so DATETIME(6) columns scan into UTC time.Time
// values.
func (b *Backend) DB() *sql.DB { return b.db }

// Database returns the database name.
func (b *Backend) Database() string { return b.dbName }

// UsesLoad reports whether batches go by LOAD DATA (Method load and the
// server allows it).
func (b *Backend) UsesLoad() bool { return b.useLoad.Load() }

// Setup creates the database, the batch log and every table named, adds
// partitions ahead and, for MethodLoad, checks local_infile.
func (b *Backend) Setup(ctx context.Context, tables []string) error {
	if err := b.createDatabase(ctx); err != nil {
		return err
	}
	if _, err := b.db.ExecContext(ctx, batchLogSQL); err != nil {
		return fmt.Errorf("create batch log: %w", err)
	}
	if _, err := b.db.ExecContext(ctx, markLogSQL); err != nil {
		return fmt.Errorf("create mark log: %w", err)
	}
	if err := b.checkPageCompression(ctx); err != nil {
		return err
	}
	for _, t := range tables {
		if err := b.EnsureTable(ctx, t); err != nil {
			return err
		}
	}
	if b.cfg.Method == MethodLoad {
		// MySQL 8 ships with local_infile off; fall back to INSERT then.
		var on bool
		if err := b.db.QueryRowContext(ctx, "SELECT @@GLOBAL.local_infile").Scan(&on); err != nil {
			return fmt.Errorf("read local_infile: %w", err)
		}
		if !on && b.useLoad.Load() != on {
			b.env.Logger.Warn("server has local_infile off: writing with multi-row INSERT instead of LOAD DATA LOCAL")
		}
		b.useLoad.Store(on)
	}
	return nil
}

// createDatabase creates the database through a connection without a
// default database (the pool's connections name it and would fail).
func (b *Backend) createDatabase(ctx context.Context) error {
	dc, err := gomysql.ParseDSN(b.cfg.DSN)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	dc.DBName = ""
	dc.Logger = driverLog{b}
	if dc.Timeout == 0 {
		dc.Timeout = 5 * time.Second
	}
	conn, err := gomysql.NewConnector(dc)
	if err != nil {
		return fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	q, _ := QuoteDatabase(b.dbName)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+q+" CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("create database %s: %w", b.dbName, err)
	}
	return nil
}

// EnsureTable creates table if missing, with partitions from today to
// PartitionsAhead days after, and adds missing days ahead.
func (b *Backend) EnsureTable(ctx context.Context, table string) error {
	if !backend.ValidTable(table) {
		return fmt.Errorf("create table %q: invalid name", table)
	}
	today := backend.UTCDay(b.env.Now())
	last := today.AddDate(0, 0, b.env.PartitionsAhead)
	if _, err := b.db.ExecContext(ctx, createTableSQL(table, today, last, b.pageOption(), b.hdrCols)); err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	if err := b.addSearchCols(ctx, table); err != nil {
		return err
	}
	parts, err := b.Partitions(ctx, table)
	if err != nil {
		return err
	}
	return b.addAhead(ctx, table, parts)
}

// addSearchCols adds the search header columns a SIP table made before
// they were configured lacks. A column no longer configured stays.
func (b *Backend) addSearchCols(ctx context.Context, table string) error {
	if len(b.hdrCols) == 0 || !backend.IsSIP(table) {
		return nil
	}
	rows, err := b.db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", b.dbName, table)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", table, err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return fmt.Errorf("columns of %s: %w", table, err)
		}
		have[c] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("columns of %s: %w", table, err)
	}
	for _, c := range b.hdrCols {
		if have[c.name] {
			continue
		}
		start := time.Now()
		if _, err := b.db.ExecContext(ctx, addColumnSQL(table, c)); err != nil {
			return fmt.Errorf("add search header column %s to %s: %w", c.name, table, err)
		}
		b.env.Logger.Info("added search header column", "table", table, "column", c.name, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Ping checks the connection.
func (b *Backend) Ping(ctx context.Context) error { return b.db.PingContext(ctx) }

// Close closes the cached statements and the pool. Idempotent.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.stmtMu.Lock()
		for _, st := range b.stmts {
			st.Close()
		}
		b.stmts = map[stmtKey]*sql.Stmt{}
		b.stmtMu.Unlock()
		if err := b.db.Close(); err != nil {
			b.closeErr = fmt.Errorf("close database: %w", err)
		}
	})
	return b.closeErr
}

// Classify sorts a write error. Server errors about the data are
// KindData; missing schema is KindNoTable; everything else (network,
// timeouts, deadlocks, shutdown, too many connections) is KindConn and
// retried.
func (b *Backend) Classify(err error) backend.ErrKind { return classify(err) }

func classify(err error) backend.ErrKind {
	if errors.Is(err, errRefused) {
		return backend.KindData
	}
	var me *gomysql.MySQLError
	if !errors.As(err, &me) {
		return backend.KindConn
	}
	switch me.Number {
	case 1146, 1049: // ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR
		return backend.KindNoTable
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
		return backend.KindData
	}
	return backend.KindConn
}

func isDup(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// Marks implements backend.Marker: the marks stored in xhep_mark_log for
// stream with hi above above.
func (b *Backend) Marks(ctx context.Context, stream, above uint64) ([]backend.TableMark, error) {
	rows, err := b.db.QueryContext(ctx, "SELECT tbl, lo, hi FROM xhep_mark_log WHERE stream = ? AND hi > ? ORDER BY tbl, lo", stream, above)
	if err != nil {
		return nil, fmt.Errorf("read marks: %w", err)
	}
	defer rows.Close()
	var out []backend.TableMark
	for rows.Next() {
		var m backend.TableMark
		if err := rows.Scan(&m.Table, &m.Lo, &m.Hi); err != nil {
			return nil, fmt.Errorf("read marks: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

var _ backend.Marker = (*Backend)(nil)
