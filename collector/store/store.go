package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/collector/store/mysql"
)

// Errors of Write.
var (
	// ErrDropped: the memory queue and the spill are both full; the row is
	// counted and not stored.
	ErrDropped = errors.New("store queue and spill full: row dropped")
	// ErrClosed: Write after Close.
	ErrClosed = errors.New("store closed")
	// ErrRowTooLarge: a field is over 16 MiB - 1 (MEDIUMBLOB).
	ErrRowTooLarge = errors.New("row field over 16 MiB")
)

// Store writes Rows into the database. Write, Flush and DB may be called
// from any goroutine; Close once everything is written.
type Store struct {
	cfg Config
	be  backend.Backend
	m   *metrics

	tables atomic.Pointer[map[string]*table] // copy on write
	tmu    sync.Mutex                        // serialises additions to tables

	closeMu sync.RWMutex // Write holds it shared; Close exclusively
	closed  bool

	memRows atomic.Int64 // rows in memory: partial batches, the queue, writers
	queue   chan *batch
	nextID  atomic.Uint64
	pool    sync.Pool

	spill     spiller // nil: no spill
	smu       sync.Mutex
	spillMode bool // the spill holds batches: new batches go after them
	spillFull atomic.Bool

	fmu      sync.Mutex
	fcond    *sync.Cond
	seq      uint64
	inflight map[uint64]struct{}

	dbUp      atomic.Bool
	upChanged chan struct{} // closed and replaced whenever dbUp turns true
	upMu      sync.Mutex

	stop chan struct{} // closed by Close once the queue is drained (or abandoned)
	// maintained is closed when the partition manager's first run (at the
	// database's first up) has finished; tests wait for it before writing
	// rows that retention would delete.
	maintained chan struct{}
	abandon    chan struct{} // closed by Close at the drain deadline
	bg         sync.WaitGroup
	writers    sync.WaitGroup

	// schemaMu serialises the backend's schema and partition changes
	// (Setup, EnsureTable, Maintain): the partition manager, the prober,
	// a writer that found a table missing and a caller's Maintain may
	// otherwise add the same partition at once.
	schemaMu sync.Mutex
}

// table is the write state of one table.
type table struct {
	name    string
	class   string
	mu      sync.Mutex
	cur     *batch
	written interface{ Add(float64) }
}

// Open connects, creates the database and the standard tables with their
// partitions and starts the writers and the partition manager. If the
// database does not answer, Open still succeeds: rows spill (or queue)
// and the store keeps retrying, logging it.
//
// The database is cfg.Backend, or without one the MySQL/MariaDB backend
// of cfg.DSN. The store owns it from here on: Close closes it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.setDefaults()
	be := cfg.Backend
	if be == nil {
		mb, err := mysql.New(mysql.Config{DSN: cfg.DSN, Database: cfg.Database, Conns: cfg.Conns, Method: cfg.Method,
			PageCompression: cfg.MySQLPageCompression, PageCompressionAlgorithm: cfg.MySQLPageCompressionAlgorithm, SearchHeaders: cfg.SearchHeaders})
		if err != nil {
			return nil, err
		}
		be = mb
	}
	s := &Store{
		cfg:        cfg,
		be:         be,
		queue:      make(chan *batch, cfg.QueueRows+1024),
		inflight:   make(map[uint64]struct{}),
		upChanged:  make(chan struct{}),
		stop:       make(chan struct{}),
		maintained: make(chan struct{}),
		abandon:    make(chan struct{}),
	}
	s.fcond = sync.NewCond(&s.fmu)
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	s.nextID.Store(binary.LittleEndian.Uint64(seed[:]) &^ (1 << 63))
	empty := map[string]*table{}
	s.tables.Store(&empty)
	s.m = newMetrics(s)
	if err := be.Start(backend.Env{
		Logger:          cfg.Logger,
		Now:             cfg.Now,
		PartitionsAhead: cfg.PartitionsAhead,
		PartitionAction: func(a string) { s.m.partitions.WithLabelValues(a).Inc() },
	}); err != nil {
		be.Close()
		return nil, fmt.Errorf("start %s backend: %w", be.Name(), err)
	}
	if cfg.Registerer != nil {
		for _, c := range s.m.collectors() {
			if err := cfg.Registerer.Register(c); err != nil {
				be.Close()
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	for _, t := range standardTables {
		s.addTable(t)
	}
	if cfg.SpillDir != "" {
		sp, err := openSpill(cfg)
		if err != nil {
			be.Close()
			return nil, fmt.Errorf("open spill: %w", err)
		}
		s.spill = sp
		// Whatever a previous run left on disk is written first.
		s.spillMode = true
	}

	// First connection attempt in the caller's time, bounded.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := s.setup(sctx); err != nil {
		cfg.Logger.Warn("database not ready; spilling and retrying", "backend", be.Name(), "err", err)
	}
	cancel()

	s.bg.Add(4)
	go s.prober()
	go s.flusher()
	go s.partitionLoop()
	go s.drainer()
	for i := 0; i < cfg.Conns; i++ {
		s.writers.Add(1)
		go s.writer(i)
	}
	return s, nil
}

// DB returns the MySQL backend's connection pool, for read-only queries
// (nil for other backends). Its connections use the store's database,
// parseTime=true, loc=UTC and the session time_zone '+00:00', so
// DATETIME(6) columns scan into UTC time.Time values.
func (s *Store) DB() *sql.DB {
	if d, ok := s.be.(interface{ DB() *sql.DB }); ok {
		return d.DB()
	}
	return nil
}

// Database returns the database name the store writes.
func (s *Store) Database() string {
	if d, ok := s.be.(interface{ Database() string }); ok {
		return d.Database()
	}
	return ""
}

// Backend returns the store's backend.
func (s *Store) Backend() backend.Backend { return s.be }

// ErrNoMarks: the backend does not keep marks (backend.Marker).
var ErrNoMarks = errors.New("store backend keeps no marks")

// Marks returns the marks stored for Config.MarkStream with Hi above
// above: by table, the Row.Mark ranges whose rows are committed.
func (s *Store) Marks(ctx context.Context, above uint64) ([]backend.TableMark, error) {
	m, ok := s.be.(backend.Marker)
	if !ok {
		return nil, ErrNoMarks
	}
	return m.Marks(ctx, s.cfg.MarkStream, above)
}

func (s *Store) lookup(name string) *table { return (*s.tables.Load())[name] }

func (s *Store) addTable(name string) *table {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	old := *s.tables.Load()
	if t := old[name]; t != nil {
		return t
	}
	t := &table{name: name, class: classOf(name), written: s.m.written.WithLabelValues(name)}
	next := make(map[string]*table, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = t
	s.tables.Store(&next)
	return t
}

func (s *Store) allTables() []*table {
	m := *s.tables.Load()
	out := make([]*table, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	return out
}

// Write queues a copy of r for its table. It does not block in steady
// state: a full batch goes to a writer, or to the spill when the memory
// queue is full. It returns ErrInvalidTable, ErrRowTooLarge, ErrDropped
// (memory and spill both full) or ErrClosed; each is counted.
func (s *Store) Write(r *Row) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		s.m.dropClosedC.Inc()
		return ErrClosed
	}
	t := s.lookup(r.Table)
	if t == nil {
		if !validTable(r.Table) {
			s.m.dropInvalid.Inc()
			return fmt.Errorf("%w: %q", ErrInvalidTable, r.Table)
		}
		t = s.addTable(r.Table)
	}
	if len(r.HepHeader) > maxField || len(r.ProtocolHeader) > maxField || len(r.Payload) > maxField || len(r.Raw) > maxField {
		s.m.dropBig.Inc()
		return ErrRowTooLarge
	}
	if s.memRows.Load() >= int64(s.cfg.QueueRows) && (s.spill == nil || s.spillFull.Load()) {
		s.m.dropFullC.Inc()
		return ErrDropped
	}
	micros := clampMicros(r.CreateDate)
	t.mu.Lock()
	if t.cur == nil {
		t.cur = s.newBatch(t)
	}
	t.cur.add(r, micros)
	var full *batch
	if t.cur.rows >= s.cfg.BatchRows || len(t.cur.buf) >= s.cfg.BatchBytes {
		full, t.cur = t.cur, nil
	}
	t.mu.Unlock()
	s.memRows.Add(1)
	if full != nil {
		s.handoff(full)
	}
	return nil
}

// Full reports whether Write would drop a row now for lack of room (the
// memory queue is full and there is no spill, or it is full too). A
// caller that can wait — a TCP reader, whose sender then holds its data —
// waits while Full instead of losing the row.
func (s *Store) Full() bool {
	return s.memRows.Load() >= int64(s.cfg.QueueRows) && (s.spill == nil || s.spillFull.Load())
}

// DATETIME(6) holds years 1000 to 9999; anything outside (a zero
// time.Time) is clamped to the nearest end rather than failing its batch.
var (
	minMicros = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxMicros = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
)

func clampMicros(t time.Time) int64 {
	if t.Year() < 1000 {
		return minMicros
	}
	if t.Year() > 9999 {
		return maxMicros
	}
	return t.UnixMicro()
}

func (s *Store) newBatch(t *table) *batch {
	b, _ := s.pool.Get().(*batch)
	if b == nil {
		b = &batch{buf: make([]byte, 0, s.cfg.BatchBytes+64<<10)}
	}
	b.reset(t, s.nextID.Add(1))
	b.first = time.Now()
	return b
}

func (s *Store) recycle(b *batch) {
	if cap(b.buf) > 2*s.cfg.BatchBytes+1<<20 {
		return
	}
	b.t, b.onDone = nil, nil
	s.pool.Put(b)
}

// handoff passes a sealed batch to the writers, or to the spill when the
// spill already holds older batches or memory is full.
func (s *Store) handoff(b *batch) {
	s.fmu.Lock()
	s.seq++
	b.seq = s.seq
	s.inflight[b.seq] = struct{}{}
	s.fmu.Unlock()

	if s.spill != nil {
		s.smu.Lock()
		if s.spillMode || s.memRows.Load() > int64(s.cfg.QueueRows) {
			err := s.spill.Append(b.buf)
			if err == nil {
				s.spillMode = true
				s.smu.Unlock()
				s.spillFull.Store(false)
				s.m.spilled.Add(float64(b.rows))
				s.finish(b)
				return
			}
			s.spillFull.Store(true)
			s.m.writeErrs.WithLabelValues("spill").Inc()
		}
		s.smu.Unlock()
	}
	select {
	case s.queue <- b:
	default:
		s.m.dropped.WithLabelValues(dropFull).Add(float64(b.rows))
		s.finish(b)
	}
}

// finish retires a batch that is stored, spilled or dropped.
func (s *Store) finish(b *batch) {
	if !b.fromSpill {
		s.memRows.Add(-int64(b.rows))
	}
	if b.seq != 0 {
		s.fmu.Lock()
		delete(s.inflight, b.seq)
		s.fmu.Unlock()
		s.fcond.Broadcast()
	}
	if b.onDone != nil {
		b.onDone()
	}
	s.recycle(b)
}

// flushPartial hands off every table's partial batch; with older set,
// only those started at least FlushInterval ago.
func (s *Store) flushPartial(older bool) {
	now := time.Now()
	for _, t := range s.allTables() {
		t.mu.Lock()
		b := t.cur
		if b == nil || b.rows == 0 || (older && now.Sub(b.first) < s.cfg.FlushInterval) {
			t.mu.Unlock()
			continue
		}
		t.cur = nil
		t.mu.Unlock()
		s.handoff(b)
	}
}

// Flush returns once every row written before it is committed to the
// database, or spilled to disk while the database is away, or ctx ends.
func (s *Store) Flush(ctx context.Context) error {
	s.flushPartial(false)
	s.fmu.Lock()
	target := s.seq
	s.fmu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		s.fmu.Lock()
		s.fcond.Broadcast()
		s.fmu.Unlock()
	})
	defer stop()
	s.fmu.Lock()
	for s.pendingUpTo(target) && ctx.Err() == nil {
		s.fcond.Wait()
	}
	s.fmu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	// With the database up, spilled batches are written too.
	for s.spill != nil && s.dbUp.Load() && s.spillPending() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush spill: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (s *Store) pendingUpTo(target uint64) bool {
	for q := range s.inflight {
		if q <= target {
			return true
		}
	}
	return false
}

func (s *Store) spillPending() bool {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.spillMode
}

func (s *Store) spillDepth() (records, bytes int64) {
	if s.spill == nil {
		return 0, 0
	}
	return s.spill.Depth()
}

// Close stops accepting rows and drains: everything queued is written to
// the database, or, if it does not answer within DrainTimeout, to the
// spill (counted as dropped when there is none). Close is idempotent.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	err := s.Flush(ctx)
	cancel()
	if err != nil {
		s.cfg.Logger.Warn("close: database did not take everything in time; spilling the rest", "err", err)
	}
	close(s.abandon)
	close(s.stop)
	s.writers.Wait()
	// Writers are gone: spill or count what is still queued.
	for {
		select {
		case b := <-s.queue:
			s.giveUp(b)
			continue
		default:
		}
		break
	}
	s.bg.Wait()
	var errs []error
	if s.spill != nil {
		if err := s.spill.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close spill: %w", err))
		}
	}
	if err := s.be.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// giveUp moves a batch the database did not take to the spill, at Close.
// A batch read from the spill is still there and is only released.
func (s *Store) giveUp(b *batch) {
	if b.fromSpill {
		s.finish(b)
		return
	}
	if s.spill != nil {
		err := s.spillBatch(b)
		if err == nil {
			return
		}
		s.cfg.Logger.Error("spill batch at close", "table", b.t.name, "rows", b.rows, "err", err)
	}
	s.m.dropped.WithLabelValues(dropShutdown).Add(float64(b.rows))
	s.finish(b)
}

// spillBatch appends b to the spill and retires it.
func (s *Store) spillBatch(b *batch) error {
	s.smu.Lock()
	err := s.spill.Append(b.buf)
	if err == nil {
		s.spillMode = true
	}
	s.smu.Unlock()
	if err != nil {
		return err
	}
	s.m.spilled.Add(float64(b.rows))
	s.finish(b)
	return nil
}

// setUp records the database state and wakes those waiting for it.
func (s *Store) setUp(up bool) {
	if s.dbUp.Swap(up) == up {
		return
	}
	if up {
		s.m.dbUp.Set(1)
		s.cfg.Logger.Info("database up", "backend", s.be.Name(), "database", s.Database())
		s.upMu.Lock()
		close(s.upChanged)
		s.upChanged = make(chan struct{})
		s.upMu.Unlock()
	} else {
		s.m.dbUp.Set(0)
		s.cfg.Logger.Warn("database down", "backend", s.be.Name(), "database", s.Database())
	}
}

// waitUp returns a channel closed when the database comes up.
func (s *Store) waitUp() <-chan struct{} {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	return s.upChanged
}

// prober re-checks the database every second while it is down.
func (s *Store) prober() {
	defer s.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.dbUp.Load() {
			last = ""
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.setup(ctx)
		cancel()
		if err != nil {
			// Each new reason once at warning level, repeats at debug.
			if msg := err.Error(); msg != last {
				s.cfg.Logger.Warn("database not ready; retrying every second", "err", err)
				last = msg
			} else {
				s.cfg.Logger.Debug("database still not ready", "err", err)
			}
		}
	}
}

// flusher hands off partial batches older than FlushInterval.
func (s *Store) flusher() {
	defer s.bg.Done()
	t := time.NewTicker(max(s.cfg.FlushInterval/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.flushPartial(true)
		}
	}
}

// setup connects and creates the schema of every known table; on success
// the store is up.
func (s *Store) setup(ctx context.Context) error {
	tables := s.allTables()
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	s.schemaMu.Lock()
	err := s.be.Setup(ctx, names)
	s.schemaMu.Unlock()
	if err != nil {
		s.setUp(false)
		return err
	}
	s.setUp(true)
	return nil
}

// partitionLoop runs the partition manager when the database comes up
// and every hour.
func (s *Store) partitionLoop() {
	defer s.bg.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	ran, ranOnce := false, false
	for {
		up := s.waitUp()
		if s.dbUp.Load() && !ran {
			s.runMaintain()
			if !ranOnce {
				close(s.maintained)
				ranOnce = true
			}
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

func (s *Store) maintain(ctx context.Context) error {
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	return s.be.Maintain(ctx, backend.Policy{Retention: s.cfg.Retention, MaxDBSize: s.cfg.MaxDBSize, MaxFuture: s.cfg.MaxFuture})
}

// Maintain runs the partition manager now (it also runs at start and
// hourly): partitions ahead, retention, size limit.
func (s *Store) Maintain(ctx context.Context) error { return s.maintain(ctx) }

// Size is the bytes the store's tables take in the database.
func (s *Store) Size(ctx context.Context) (int64, error) { return s.be.Size(ctx) }
