// Package clickhouse is the ClickHouse backend of package collector/store:
// the scale-out store. One MergeTree table per HEP type and class, like
// the MySQL backend's, with typed columns for everything the API
// searches, the JSON documents and raw payload as strings (compressed by
// the server, zstd in scripts/clickhouse.sh), daily partitions,
// ORDER BY (callid, ts) for Call-ID lookups and flows, and a user index
// (<table>_users, ordered by user and time, filled by a materialized
// view) for user and number search. Retention drops partitions;
// MaxDBSize reads system.parts.
//
// Writes are native-protocol blocks (github.com/ClickHouse/clickhouse-go/v2),
// one INSERT per batch and shard, several connections. Exactly once:
// every row carries its batch key (batch, bpart); a batch that may have
// been tried before (backend.Batch.Retry) is first counted on its shard
// — all its rows there: already stored; none: insert; some (a block cut
// by a crash): delete them (ALTER DELETE, waited for) and insert. A block
// is written as one part per day, so only a crash between the days of one
// batch leaves a partial batch. ClickHouse 18.16 has neither an insert
// deduplication token nor deduplication for non-replicated tables, so the
// batch key is the one way that works on both old and current servers.
//
// Cluster (Config.Cluster): the cluster is read from system.clusters of
// the first address (remote_servers in the server config; tables are
// created on every server by this backend, not ON CLUSTER). Every shard
// has <table>_local (and <table>_users_local, with its view unless
// replicated); <table> and
// <table>_users are Distributed tables over them, which the API reads.
// Rows are sharded by the A-leg Call-ID (callid_aleg, else callid;
// correlation_id for RTCP and logs) with FNV-1a, so a call's legs land on
// one shard, and written to the shards' local tables directly: a shard
// that is down fails its part of the batch, the store retries (the other
// shards' parts are found stored) and spills while it stays down.
//
// Replicas (a shard of the cluster with more than one replica, or
// Config.Replicated): the local tables are ReplicatedMergeTree
// ('/clickhouse/tables/{shard}/<db>/<table>_local', '{replica}': the
// servers' macros and a ZooKeeper in their config), created on every
// replica. A shard's rows go to one replica at a time (replica_num 1
// first); when it fails with a connection or server error the same
// WriteBatch call writes them to the next replica as a retry (counted
// there first), and writes stay there: a replica down spills nothing.
// Replication is asynchronous: rows acknowledged by a replica that dies
// before the others fetched them are on its disk and reach the others
// when it is back. The retry on another replica is exactly once because
// replicated tables deduplicate an inserted block whose checksum
// ZooKeeper already holds, and a retried batch is cut into the same
// blocks (18.16 squashes an INSERT's blocks into one and writes a part
// per day): a replica that has not fetched the first attempt yet counts
// fewer rows, inserts them again, and ZooKeeper drops the blocks stored
// before (within replicated_deduplication_window, 100 blocks a table by
// default). A partial batch is deleted (a replicated mutation: it reaches
// the parts not fetched yet too) and written again with
// insert_deduplicate = 0, since its blocks' checksums are still known.
// The user index of replicated tables is written by the writer with the
// batch key, the same way, not by a materialized view (see writeIndex).
//
// SQL is kept to what ClickHouse 18.16 (Debian's, run here) and current
// releases both accept: MergeTree with PARTITION BY/ORDER BY, no
// DateTime64, no LowCardinality, no codecs or skip indexes, no
// insert_deduplication_token, no ON CLUSTER.
//
// Journal marks (backend.Marker): every row of a marked batch carries
// the mark and the batch's row count; a mark is stored when all its rows
// are (see marks.go).
package clickhouse

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/xhep/xhep/collector/store/backend"
)

// Config configures a [Backend].
type Config struct {
	// Addrs are native-protocol addresses host:port (default port 9000).
	// Single node: one server (more are tried in turn). Cluster: any
	// server of the cluster; the shards come from its system.clusters.
	Addrs []string
	// Database is created if missing (default "xhep").
	Database string
	// Username and Password (default user "default", no password).
	Username, Password string
	// TLS, when set, is used for every connection (the servers' secure
	// native port).
	TLS *tls.Config
	// Cluster names a cluster of the servers' remote_servers: local
	// tables on every shard and Distributed tables over them.
	Cluster string
	// Replicated makes the local tables ReplicatedMergeTree even when no
	// shard of the cluster has a second replica yet (replicas can then be
	// added later: a MergeTree table cannot become replicated in place).
	// A cluster with replicas is always replicated. Needs Cluster.
	Replicated bool
	// Conns is the number of writer connections per shard (default 4).
	Conns int
	// SearchHeaders are the --search-header names: each is a String
	// column of the SIP tables (backend.SearchHeaders names it),
	// MATERIALIZED from protocol_header by the server at insert, so the
	// writer sends nothing more; added to existing tables at EnsureTable.
	SearchHeaders []string
}

// shard is one shard of the cluster (single node: the only server).
type shard struct {
	num      int
	addr     string // its replicas' host:port, comma-separated
	replicas []*replica
	cur      atomic.Int32 // index of the replica writes and queries go to
}

// replica is one server of a shard.
type replica struct {
	num  int
	addr string // host:port
	conn driver.Conn
}

// rep is the replica the shard's writes and queries go to now.
func (s *shard) rep() *replica {
	return s.replicas[int(s.cur.Load())%len(s.replicas)]
}

// order is the shard's replicas, the current one first.
func (s *shard) order() []*replica {
	c := int(s.cur.Load()) % len(s.replicas)
	return append(append([]*replica(nil), s.replicas[c:]...), s.replicas[:c]...)
}

// failover moves the shard's writes from replica from to the next one
// (unless another writer moved them already).
func (s *shard) failover(from *replica) {
	for i, r := range s.replicas {
		if r == from {
			s.cur.CompareAndSwap(int32(i), int32((i+1)%len(s.replicas)))
			return
		}
	}
}

// unreachable: err is the server not answering (refused, reset, closed,
// timed out), not an answer such as an exception.
func unreachable(err error) bool {
	var ex *ch.Exception
	if err == nil || errors.As(err, &ex) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, ch.ErrAcquireConnTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// onShard runs fn on the shard's current replica, then, while they do not
// answer, on its other replicas.
func onShard(s *shard, fn func(r *replica) error) error {
	var err error
	for _, r := range s.order() {
		if err = fn(r); !unreachable(err) {
			return err
		}
	}
	return err
}

// Backend is the ClickHouse [backend.Backend].
type Backend struct {
	cfg  Config
	db   string
	hdrs []backend.SearchHeader // Config.SearchHeaders
	env  backend.Env

	mu         sync.Mutex
	shards     []*shard    // set by Setup; single node: one
	replicated atomic.Bool // set with shards: ReplicatedMergeTree local tables
	seed       driver.Conn

	readOnce sync.Once
	read     *sql.DB

	closeOnce sync.Once
	closeErr  error
}

var _ backend.Backend = (*Backend)(nil)

// searchCols adds the search header columns table (a SIP table's data or
// Distributed table) lacks on shard s. A column no longer configured
// stays. ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: system.columns
// says what is there.
func (b *Backend) searchCols(ctx context.Context, s *replica, table string) error {
	if len(b.hdrs) == 0 {
		return nil
	}
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", b.db, table)
	if err != nil {
		return fmt.Errorf("columns of %s on shard %d %s: %w", table, s.num, s.addr, err)
	}
	have := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return fmt.Errorf("columns of %s on shard %d %s: %w", table, s.num, s.addr, err)
		}
		have[c] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("columns of %s on shard %d %s: %w", table, s.num, s.addr, err)
	}
	for _, h := range b.hdrs {
		if have[h.Column] {
			continue
		}
		if err := s.conn.Exec(ctx, searchColSQL(b.q(table), h.Column)); err != nil {
			return fmt.Errorf("add search header column %s to %s on shard %d %s: %w", h.Column, table, s.num, s.addr, err)
		}
		b.env.Logger.Info("added search header column", "table", table, "column", h.Column, "shard", s.num)
	}
	return nil
}

// New checks cfg; it does not connect.
func New(cfg Config) (*Backend, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("clickhouse: no address")
	}
	for i, a := range cfg.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, "9000")
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("clickhouse address %q: %w", cfg.Addrs[i], err)
			}
			cfg.Addrs[i] = a
		}
	}
	if cfg.Database == "" {
		cfg.Database = "xhep"
	}
	if err := validDatabase(cfg.Database); err != nil {
		return nil, err
	}
	if err := validCluster(cfg.Cluster); err != nil {
		return nil, err
	}
	if cfg.Replicated && cfg.Cluster == "" {
		return nil, errors.New("clickhouse: replicated tables need a cluster (its shards and replicas come from remote_servers)")
	}
	if cfg.Username == "" {
		cfg.Username = "default"
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 4
	}
	hs, err := backend.SearchHeaders(cfg.SearchHeaders)
	if err != nil {
		return nil, err
	}
	b := &Backend{cfg: cfg, db: cfg.Database, hdrs: hs}
	b.env.Logger = slog.New(slog.DiscardHandler)
	return b, nil
}

func (b *Backend) options(addrs []string, database string) *ch.Options {
	return &ch.Options{
		Addr:             addrs,
		Auth:             ch.Auth{Database: database, Username: b.cfg.Username, Password: b.cfg.Password},
		TLS:              b.cfg.TLS,
		DialTimeout:      5 * time.Second,
		ReadTimeout:      2 * time.Minute,
		MaxOpenConns:     b.cfg.Conns + 4,
		MaxIdleConns:     b.cfg.Conns + 4,
		ConnMaxLifetime:  time.Hour,
		Compression:      &ch.Compression{Method: ch.CompressionLZ4},
		ConnOpenStrategy: ch.ConnOpenInOrder,
	}
}

// Name is "clickhouse".
func (b *Backend) Name() string { return "clickhouse" }

// Start keeps the store's environment.
func (b *Backend) Start(env backend.Env) error {
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.PartitionAction == nil {
		env.PartitionAction = func(string) {}
	}
	b.env = env
	return nil
}

// Database returns the database name.
func (b *Backend) Database() string { return b.db }

// Cluster returns the cluster name ("" single node).
func (b *Backend) Cluster() string { return b.cfg.Cluster }

// DB returns a database/sql handle on the database for the API's
// read-only queries (clickhouse-go's std interface, same servers).
func (b *Backend) DB() *sql.DB {
	b.readOnce.Do(func() {
		b.read = ch.OpenDB(b.options(b.cfg.Addrs, b.db))
	})
	return b.read
}

// Replicated says whether the local tables are ReplicatedMergeTree
// (after Setup).
func (b *Backend) Replicated() bool { return b.replicated.Load() }

// Shards returns the shard addresses, in shard order (after Setup); a
// shard's replicas are comma-separated.
func (b *Backend) Shards() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.shards))
	for i, s := range b.shards {
		out[i] = s.addr
	}
	return out
}

func (b *Backend) currentShards() []*shard {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shards
}

// connect opens the seed connection and, for a cluster, one per replica
// of every shard.
func (b *Backend) connect(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seed == nil {
		c, err := ch.Open(b.options(b.cfg.Addrs, "default"))
		if err != nil {
			return fmt.Errorf("clickhouse connect: %w", err)
		}
		b.seed = c
	}
	if err := b.seed.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse ping %s: %w", strings.Join(b.cfg.Addrs, ","), err)
	}
	if b.shards != nil {
		return nil
	}
	if b.cfg.Cluster == "" {
		addr := strings.Join(b.cfg.Addrs, ",")
		b.shards = []*shard{{num: 1, addr: addr, replicas: []*replica{{num: 1, addr: addr, conn: b.seed}}}}
		return nil
	}
	rows, err := b.seed.Query(ctx, "SELECT shard_num, replica_num, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", b.cfg.Cluster)
	if err != nil {
		return fmt.Errorf("read cluster %s: %w", b.cfg.Cluster, err)
	}
	defer rows.Close()
	var shards []*shard
	replicated := b.cfg.Replicated
	for rows.Next() {
		var num, rnum uint32
		var host string
		var port uint16
		if err := rows.Scan(&num, &rnum, &host, &port); err != nil {
			return fmt.Errorf("read cluster %s: %w", b.cfg.Cluster, err)
		}
		if len(shards) == 0 || shards[len(shards)-1].num != int(num) {
			shards = append(shards, &shard{num: int(num)})
		}
		s := shards[len(shards)-1]
		s.replicas = append(s.replicas, &replica{num: int(num), addr: net.JoinHostPort(host, strconv.Itoa(int(port)))})
		if len(s.replicas) > 1 {
			replicated = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read cluster %s: %w", b.cfg.Cluster, err)
	}
	if len(shards) == 0 {
		return fmt.Errorf("cluster %q is not in system.clusters of %s (remote_servers)", b.cfg.Cluster, strings.Join(b.cfg.Addrs, ","))
	}
	for _, s := range shards {
		var addrs []string
		for _, r := range s.replicas {
			c, err := ch.Open(b.options([]string{r.addr}, "default"))
			if err != nil {
				return fmt.Errorf("clickhouse connect shard %d %s: %w", s.num, r.addr, err)
			}
			r.conn = c
			addrs = append(addrs, r.addr)
		}
		s.addr = strings.Join(addrs, ",")
	}
	b.shards = shards
	b.replicated.Store(replicated)
	return nil
}

// eachReplica runs fn on every replica of every shard. A replica that
// does not answer is skipped while another replica of its shard does
// (it gets what it missed when it is back: replication, or EnsureTable
// when a write finds a table missing there); a shard none of whose
// replicas answers, or any exception, is an error.
func (b *Backend) eachReplica(ctx context.Context, fn func(s *shard, r *replica) error) error {
	for _, s := range b.currentShards() {
		var down []error
		for _, r := range s.replicas {
			err := fn(s, r)
			if unreachable(err) && len(s.replicas) > 1 {
				down = append(down, err)
				continue
			}
			if err != nil {
				return err
			}
		}
		if len(down) == len(s.replicas) {
			return errors.Join(down...)
		}
		for _, err := range down {
			b.env.Logger.Warn("replica not answering; skipped (it catches up when back)", "shard", s.num, "err", err)
		}
	}
	return nil
}

// Setup connects, creates the database and the tables on every shard
// (and the Distributed tables in a cluster).
func (b *Backend) Setup(ctx context.Context, tables []string) error {
	if err := b.connect(ctx); err != nil {
		return err
	}
	err := b.eachReplica(ctx, func(s *shard, r *replica) error {
		if err := r.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+b.db+"`"); err != nil {
			return fmt.Errorf("create database %s on shard %d %s: %w", b.db, s.num, r.addr, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range tables {
		if err := b.EnsureTable(ctx, t); err != nil {
			return err
		}
	}
	return b.Ping(ctx)
}

// EnsureTable creates table (its local tables, user index and view on
// every replica of every shard; the Distributed tables in a cluster) if
// missing.
func (b *Backend) EnsureTable(ctx context.Context, table string) error {
	if !backend.ValidTable(table) {
		return fmt.Errorf("create table %q: invalid name", table)
	}
	stmts := []string{b.createSQL(table)}
	if backend.IsSIP(table) {
		stmts = append(stmts, b.usersSQL(table)...)
	}
	err := b.eachReplica(ctx, func(s *shard, r *replica) error {
		for _, q := range stmts {
			if err := r.conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("create table %s on shard %d %s: %w", table, s.num, r.addr, err)
			}
		}
		return b.checkEngine(ctx, r, b.dataTable(table))
	})
	if err != nil {
		return err
	}
	// Columns added to existing tables: a replicated table's ALTER
	// reaches its other replicas through ZooKeeper, so it runs on one.
	alter := func(s *shard, r *replica) error {
		if err := b.addMarkCols(ctx, r, b.dataTable(table)); err != nil {
			return err
		}
		if backend.IsSIP(table) {
			return b.searchCols(ctx, r, b.dataTable(table))
		}
		return nil
	}
	if b.replicated.Load() {
		for _, s := range b.currentShards() {
			if err := onShard(s, func(r *replica) error { return alter(s, r) }); err != nil {
				return err
			}
		}
	} else if err := b.eachReplica(ctx, alter); err != nil {
		return err
	}
	if b.cfg.Cluster != "" {
		dist := []string{b.distributedSQL(table+"_local", table)}
		if backend.IsSIP(table) {
			dist = append(dist, b.distributedSQL(usersTable(table)+"_local", usersTable(table)))
		}
		err := b.eachReplica(ctx, func(s *shard, r *replica) error {
			for _, q := range dist {
				if err := r.conn.Exec(ctx, q); err != nil {
					return fmt.Errorf("create distributed table %s on shard %d %s: %w", table, s.num, r.addr, err)
				}
			}
			if err := b.addMarkCols(ctx, r, table); err != nil {
				return err
			}
			if backend.IsSIP(table) {
				return b.searchCols(ctx, r, table)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkEngine refuses a plain MergeTree data table where the tables must
// be replicated (a table made before the cluster had replicas): its
// replicas would each hold different rows.
func (b *Backend) checkEngine(ctx context.Context, r *replica, table string) error {
	if !b.replicated.Load() {
		return nil
	}
	var engine string
	if err := r.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", b.db, table).Scan(&engine); err != nil {
		return fmt.Errorf("engine of %s on %s: %w", table, r.addr, err)
	}
	if !strings.HasPrefix(engine, "Replicated") {
		return fmt.Errorf("table %s.%s on %s is %s but the cluster's tables must be replicated: convert it to ReplicatedMergeTree (README, ClickHouse cluster) or use another database", b.db, table, r.addr, engine)
	}
	return nil
}

// Ping checks that every shard can be written (one of its replicas
// answers and, when replicated, reaches ZooKeeper: without it replicated
// tables are read-only, so the store spills); the error names the
// shards that cannot.
func (b *Backend) Ping(ctx context.Context) error {
	shards := b.currentShards()
	if shards == nil {
		return b.connect(ctx)
	}
	var errs []error
	for _, s := range shards {
		if err := b.pingShard(ctx, s, b.replicated.Load()); err != nil {
			errs = append(errs, fmt.Errorf("shard %d %s: %w", s.num, s.addr, err))
		}
	}
	return errors.Join(errs...)
}

// pingShard: nil when one of the shard's replicas answers (and with zk
// reaches ZooKeeper and has no table of the database read-only: a
// replica takes some seconds to leave read-only mode once ZooKeeper is
// back).
func (b *Backend) pingShard(ctx context.Context, s *shard, zk bool) error {
	var errs []error
	for _, r := range s.order() {
		err := r.conn.Ping(ctx)
		if err == nil && zk {
			var n uint64
			if err = r.conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n); err != nil {
				err = fmt.Errorf("%s: no ZooKeeper (replicated tables are read-only): %w", r.addr, err)
			} else if err = r.conn.QueryRow(ctx, "SELECT count() FROM system.replicas WHERE database = ? AND is_readonly", b.db).Scan(&n); err == nil && n > 0 {
				err = fmt.Errorf("%s: %d replicated tables read-only", r.addr, n)
			}
		}
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DownShards lists the shards none of whose replicas answers a ping, as
// "shard N (host:port[,host:port...])".
func (b *Backend) DownShards(ctx context.Context) []string {
	var out []string
	for _, s := range b.currentShards() {
		if err := b.pingShard(ctx, s, false); err != nil { // reads need no ZooKeeper
			out = append(out, fmt.Sprintf("shard %d (%s)", s.num, s.addr))
		}
	}
	return out
}

// Classify: missing table or database is KindNoTable; a value the client
// could not convert is KindData; everything else is retried.
func (b *Backend) Classify(err error) backend.ErrKind {
	var ex *ch.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case 60, 81: // UNKNOWN_TABLE, UNKNOWN_DATABASE
			return backend.KindNoTable
		case 6, 27, 38, 41, 53, 69, 70, 117, 131: // CANNOT_PARSE_*, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE, INCORRECT_DATA, TOO_LARGE_STRING_SIZE
			return backend.KindData
		}
		return backend.KindConn
	}
	var ce *column.ColumnConverterError
	if errors.As(err, &ce) {
		return backend.KindData
	}
	return backend.KindConn
}

// Close closes every connection. Idempotent.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		var errs []error
		for _, s := range b.shards {
			for _, r := range s.replicas {
				if r.conn != b.seed {
					if err := r.conn.Close(); err != nil {
						errs = append(errs, err)
					}
				}
			}
		}
		if b.seed != nil {
			if err := b.seed.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if b.read != nil {
			if err := b.read.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}
