package collector

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/xhep/xhep/collector/alias"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/collector/journal"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/hep"
)

// rowWriter is where dissected rows go: the store, or the printer of
// --print. Write copies what it keeps.
type rowWriter interface {
	Write(*store.Row) error
}

// Service is the running collector: listeners → auth → forward → decode →
// dissect → store, with metrics. New, Run and Close; Close is idempotent
// and may be called from any goroutine.
type Service struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	m       *metrics
	mux     *http.ServeMux
	authKey []byte

	ingest  *ingest.Server
	jr      *journal.Journal // nil without --journal-dir
	jmu     sync.Mutex       // journal mode: append + store write in record order
	facker  *flushAcker      // acks without a journal
	dm      deliveryMetrics
	quit    chan struct{} // closed when shutdown begins: stop waiting for room
	bgStop  context.CancelFunc
	bg      sync.WaitGroup
	fwd     []*forwarder
	out     rowWriter
	store   *store.Store                // nil without --mysql
	closer  func(context.Context) error // closes out (store drain), nil for the printer
	invites *kpiTable

	pool sync.Pool // *worker

	httpLn  net.Listener
	httpSrv *http.Server

	futureClamped prometheus.Counter // rows stored at the receive time (capture time too far ahead)

	metricsLn  net.Listener // Config.MetricsAddr
	metricsSrv *http.Server

	readStats ReadStats // offline mode: the result of the read

	lastWriteLog atomic.Int64 // unix ns of the last logged write error

	closeOnce sync.Once
	closeErr  error
}

// worker is the per-goroutine state of the message path, pooled so that
// handling a message does not allocate.
type worker struct {
	writeFailed bool // the last process call's row was not taken by the store
	// journal mode: the message's stream and sequence, the record it
	// became (0: not yet), and, replaying, the ranges already stored.
	stream, seq uint64
	jsn         uint64
	dup         bool
	replay      *storedMarks
	msg         hep.Message
	row         store.Row
	d           *dissect.Dissector
	key         []byte
}

// New builds the service from cfg: it validates the configuration, opens
// the store (or the printer), binds the listeners and the HTTP address
// and dials the forward destinations. Nothing is received until Run.
func New(cfg Config) (s *Service, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("collector configuration: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ForwardQueue <= 0 {
		cfg.ForwardQueue = 4096
	}
	if cfg.KPIWindow <= 0 {
		cfg.KPIWindow = 2 * time.Minute
	}
	if cfg.KPIMax <= 0 {
		cfg.KPIMax = 200_000
	}
	if cfg.KPIMaxPeers <= 0 {
		cfg.KPIMaxPeers = 64
	}
	if cfg.KPIMaxNodes <= 0 {
		cfg.KPIMaxNodes = 64
	}
	if cfg.KPICallTimeout <= 0 {
		cfg.KPICallTimeout = 4 * time.Hour
	}
	if cfg.AckFlush <= 0 {
		cfg.AckFlush = 200 * time.Millisecond
	}
	if cfg.DrainGrace <= 0 {
		cfg.DrainGrace = 5 * time.Second
	}
	// Fail early on a bad A-leg expression; workers clone this one.
	proto, err := dissect.New(dissect.Config{ALegHeaders: cfg.ALegHeaders, SearchHeaders: cfg.SearchHeaders, MaxFuture: cfg.MaxFuture})
	if err != nil {
		return nil, err
	}
	// built, not s: a "return nil, err" below sets s to nil before the
	// deferred clean-up runs, which must close what was built.
	built := &Service{cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry(), mux: http.NewServeMux(), quit: make(chan struct{})}
	s = built
	defer func() {
		if err != nil {
			built.Close()
			s = nil
		}
	}()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.m = newMetrics(s.reg)
	aliases, err := alias.Parse(cfg.Aliases)
	if err != nil {
		return nil, badSetting(err, "{Aliases}")
	}
	s.invites = newKPITable(kpiConfig{
		Aliases: aliases, MaxPeers: cfg.KPIMaxPeers, MaxNodes: cfg.KPIMaxNodes,
		Window: cfg.KPIWindow, CallTimeout: cfg.KPICallTimeout, Max: cfg.KPIMax,
	}, s.m)
	for i, n := range tableNames {
		s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "xhep_sip_kpi_entries",
			Help:        "Entries in the SIP KPI tables (open INVITEs, answered calls, retransmission keys), by table.",
			ConstLabels: prometheus.Labels{"table": n},
		}, func() float64 { return float64(s.invites.entries(i)) }))
	}
	if cfg.AuthKey != "" {
		s.authKey = []byte(cfg.AuthKey)
	}
	s.pool.New = func() any { return &worker{d: proto.Clone()} }
	s.futureClamped = families{s.reg}.counter("xhep_collector_future_clamped_total",
		"Messages whose capture time was more than --max-future ahead of the collector's clock, stored at the receive time (the capture time kept in hep_header).")
	if err := s.mountMetrics(); err != nil {
		return nil, err
	}

	for _, f := range cfg.Forward {
		fw, err := newForwarder(f, cfg.ForwardQueue, s.m)
		if err != nil {
			return nil, err
		}
		s.fwd = append(s.fwd, fw)
	}

	var markStream uint64
	if cfg.JournalDir != "" {
		s.jr, err = journal.Open(journal.Config{Dir: cfg.JournalDir, MaxBytes: cfg.JournalMax, SyncInterval: cfg.JournalSync})
		if err != nil {
			return nil, fmt.Errorf("open journal: %w", err)
		}
		markStream = s.jr.ID()
	}
	switch {
	case cfg.Print:
		out := cfg.Output
		if out == nil {
			return nil, badSetting(nil, "{Print} without an output")
		}
		s.out = newPrinter(out)
	case cfg.HasStore():
		var durable func(context.Context, uint64) error
		if s.jr != nil {
			durable = s.jr.WaitSynced
		}
		st, err := openStore(cfg, s.reg, markStream, durable)
		if err != nil {
			return nil, err
		}
		s.out, s.store = st, st
		s.closer = func(ctx context.Context) error { return st.Close() }
	}

	if s.jr == nil {
		s.facker = newFlushAcker(s.store)
	}
	s.dm = newDeliveryMetrics(s.reg, s)

	if len(cfg.Listen) > 0 {
		icfg := ingest.Config{
			Listen:      cfg.Listen,
			Readers:     cfg.Readers,
			SharePort:   cfg.UDPSharePort,
			RcvBuf:      cfg.RcvBuf,
			TCPIdle:     cfg.TCPIdle,
			MaxMessage:  hep.MaxMessageLen,
			NewFramer:   func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
			ErrorReason: hep.ErrorReason,
			DrainGrace:  cfg.DrainGrace,

			MaxConns:          cfg.TCPMaxConns,
			MaxConnsPerSource: cfg.TCPMaxConnsPerSource,
			EvictIdle:         cfg.TCPEvictIdle,
		}
		if !cfg.NoAck {
			if s.jr != nil {
				icfg.Acker = journalAcker{s.jr}
			} else {
				icfg.Acker = s.facker
			}
		}
		if cfg.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("load TLS certificate: %w", err)
			}
			icfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		s.ingest, err = ingest.New(icfg, s.handle)
		if err != nil {
			return nil, err
		}
		s.reg.MustRegister(s.ingest.Collector())
		for _, st := range s.ingest.Status() {
			if st.Transport == ingest.UDP && st.Capped {
				s.log.Warn("UDP receive buffer capped by the kernel: raise net.core.rmem_max or run as root",
					"addr", st.Addr, "wanted", st.RcvBufWanted, "got", st.RcvBuf)
			}
		}
	}
	if cfg.HTTP != "" {
		s.httpLn, err = net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return nil, fmt.Errorf("listen http %s: %w", cfg.HTTP, err)
		}
		// HTTP-level errors (bad TLS handshakes, broken clients) go to the
		// service log at debug level, not to stderr.
		s.httpSrv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: httpIdle,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	}
	return s, nil
}

// Mux is the HTTP mux served on Config.HTTP; /metrics is registered. The
// API package registers /api/v1/ and / on it before Run.
func (s *Service) Mux() *http.ServeMux { return s.mux }

// DB is the store's database handle (on the collector's database), for the
// HTTP API: MySQL's pool, or ClickHouse's database/sql handle; nil
// without a store.
func (s *Service) DB() *sql.DB {
	if s.store == nil {
		return nil
	}
	return s.store.DB()
}

// Unavailable names the ClickHouse shards that do not answer (nil for
// MySQL or when all answer), for the API's errors.
func (s *Service) Unavailable(ctx context.Context) []string {
	if s.store == nil {
		return nil
	}
	if d, ok := s.store.Backend().(interface {
		DownShards(context.Context) []string
	}); ok {
		return d.DownShards(ctx)
	}
	return nil
}

// Registry is the Prometheus registry behind /metrics, for other packages'
// metrics.
func (s *Service) Registry() *prometheus.Registry { return s.reg }

// Listeners describes the bound listeners (the real ports when 0 was
// asked); nil in offline mode.
func (s *Service) Listeners() []ingest.Status {
	if s.ingest == nil {
		return nil
	}
	return s.ingest.Status()
}

// HTTPAddr is the bound HTTP address, or nil without one.
func (s *Service) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// ReadStats returns the summary of the offline read, once Run returned.
func (s *Service) ReadStats() ReadStats { return s.readStats }

// IngestStats returns the listeners' running totals (zero offline).
func (s *Service) IngestStats() ingest.Stats {
	if s.ingest == nil {
		return ingest.Stats{}
	}
	return s.ingest.Stats()
}

// Run serves until ctx is done, then shuts down in order: listeners stop
// (no message is half handled), forward queues are sent, the store drains
// to the database or its spill, the HTTP server stops. In offline mode
// (Config.Read) it processes the file and returns when it is done or ctx
// ends. Run returns the first error of the shutdown, nil after a clean one.
func (s *Service) Run(ctx context.Context) error {
	if s.metricsSrv != nil {
		go s.metricsSrv.Serve(s.metricsLn)
	}
	if s.httpSrv != nil {
		if s.cfg.HTTPCert != "" {
			go s.httpSrv.ServeTLS(s.httpLn, s.cfg.HTTPCert, s.cfg.HTTPKey)
		} else {
			go s.httpSrv.Serve(s.httpLn)
		}
	}
	if s.cfg.Read != "" {
		st, err := s.readFile(ctx, s.cfg.Read)
		s.readStats = st
		s.log.Info("read capture", "file", s.cfg.Read, "packets", st.Packets, "hep", st.HEP,
			"not_hep", st.NotHEP, "tcp_streams", st.TCPStreams, "tcp_skipped_bytes", st.TCPSkipped,
			"ip_fragments", st.Fragments, "undecodable", st.Undecodable, "errors", st.DecodeErrors)
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if s.ingest == nil {
		// An API/UI-only node: serve HTTP until stopped.
		<-ctx.Done()
		s.log.Info("shutting down")
		return s.Close()
	}
	if err := s.replayJournal(ctx); err != nil {
		if cerr := s.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return err
	}
	bctx, cancel := context.WithCancel(context.Background())
	s.bgStop = cancel
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if s.jr != nil {
			s.checkpointLoop(bctx, time.Second)
		} else {
			s.facker.loop(bctx, s.cfg.AckFlush)
		}
	}()
	if err := s.ingest.Start(); err != nil {
		return err
	}
	for _, st := range s.ingest.Status() {
		if st.Transport == ingest.UDP {
			s.log.Info("listening", "transport", st.Transport, "addr", st.Addr, "readers", st.Readers, "rcvbuf", st.RcvBuf)
		} else {
			s.log.Info("listening", "transport", st.Transport, "addr", st.Addr)
		}
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.log.Info("shutting down: draining")
			return s.Close()
		case now := <-tick.C:
			s.invites.expire(now)
		}
	}
}

// Close stops everything (see Run) and returns the first error.
//
// Order: the listeners stop reading (each stream is read to its quiet
// end); with a journal, what was received is fsynced and acknowledged,
// then the store drains and the journal is checkpointed past what the
// store committed (the rest is replayed by the next start); without one,
// the store drains to the database (or its spill) first and then what it
// took is acknowledged. Connections close last, so agents get the final
// acks before they see the end.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		close(s.quit)
		begin := time.Now()
		if s.ingest != nil {
			s.ingest.Stop()
			st := s.ingest.Stats()
			s.log.Info("listeners stopped", "took", time.Since(begin).Round(time.Millisecond),
				"received", st.Messages, "udp_socket_drops", st.UDPDrops)
		}
		if s.bgStop != nil {
			s.bgStop()
			s.bg.Wait()
		}
		for _, f := range s.fwd {
			f.close()
		}
		if s.jr != nil {
			if err := s.jr.Sync(); err != nil {
				errs = append(errs, err)
			}
			if s.ingest != nil {
				s.ingest.FinalAcks()
			}
			if s.checkpoint(context.Background(), s.cfg.DrainTimeout) {
				s.log.Info("journal checkpointed: everything received is committed")
			} else {
				s.log.Warn("database did not take everything in time: the journal keeps the rest for the next start",
					"pending", s.jr.Stats().Pending)
			}
		}
		if s.closer != nil {
			begin := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			if err := s.closer(ctx); err != nil {
				errs = append(errs, fmt.Errorf("close store: %w", err))
			}
			cancel()
			s.log.Info("store closed", "took", time.Since(begin).Round(time.Millisecond))
		}
		if s.facker != nil && s.ingest != nil {
			// The store is closed: what it took is committed or spilled.
			s.facker.st = nil
			s.facker.commit(context.Background())
			s.ingest.FinalAcks()
		}
		if s.ingest != nil {
			s.ingest.Release()
		}
		if s.jr != nil {
			if err := s.jr.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close journal: %w", err))
			}
		}
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.httpSrv.Shutdown(ctx)
			cancel()
		} else if s.httpLn != nil {
			s.httpLn.Close()
		}
		if s.metricsSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.metricsSrv.Shutdown(ctx)
			cancel()
			s.metricsLn.Close() // Shutdown does not close a listener Serve never took
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// replayJournal stores, in order, what the journal holds past its
// checkpoint (received before a crash, not known committed), skipping the
// records whose rows the store already holds (their batch's mark).
func (s *Service) replayJournal(ctx context.Context) error {
	if s.jr == nil || s.jr.Stats().Pending == 0 {
		return nil
	}
	marks := &storedMarks{}
	if s.store != nil {
		ms, err := s.loadMarks(ctx, s.jr.Stats().Checkpoint)
		if err != nil {
			return err
		}
		marks.add(ms)
	}
	n, skipped := 0, 0
	w := s.pool.Get().(*worker)
	defer s.pool.Put(w)
	w.replay = marks
	defer func() { w.replay = nil }()
	err := s.jr.Replay(func(jsn, stream, seq uint64, data []byte) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.jr.Begin(jsn)
		w.jsn, w.stream, w.seq, w.dup = jsn, stream, seq, false
		s.process(w, data, transportJournal)
		if w.dup {
			skipped++
		}
		if !w.writeFailed {
			s.jr.Done(jsn)
		}
		n++
		return nil
	})
	s.log.Info("journal replayed", "records", n, "already_stored", skipped, "stored_ranges", marks.n, "checkpoint", s.jr.Stats().Checkpoint)
	s.dm.replaySkipped.Add(float64(skipped))
	return err
}

// loadMarks reads the store's marks, waiting for the database.
func (s *Service) loadMarks(ctx context.Context, above uint64) ([]backend.TableMark, error) {
	for {
		ms, err := s.store.Marks(ctx, above)
		if err == nil || errors.Is(err, store.ErrNoMarks) {
			return ms, nil
		}
		s.log.Warn("journal replay waits for the database to read what is stored", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.quit:
			return nil, errors.New("stopped before the journal was replayed")
		case <-time.After(time.Second):
		}
	}
}

// writeRow hands the dissected row to the store. With a journal, the
// message is appended to the journal and the row written under one lock,
// so rows reach each table in record order and a batch's mark is a
// contiguous range; replaying, a record already stored is skipped.
func (s *Service) writeRow(w *worker, b []byte, transport string) error {
	if s.jr == nil || transport == ingest.UDP && s.store != nil && s.store.Full() {
		return s.out.Write(&w.row)
	}
	if w.replay != nil {
		if w.replay.has(w.row.Table, w.jsn) {
			w.dup = true
			return nil
		}
		w.row.Mark = w.jsn
		return s.out.Write(&w.row)
	}
	s.jmu.Lock()
	defer s.jmu.Unlock()
	// Under the lock nobody else fills the store: room now is room at
	// the Write below.
	if !s.waitRoom(transport) {
		return errNoRoom
	}
	jsn, dup, err := s.jr.AppendNew(b, w.stream, w.seq)
	if dup {
		w.dup = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	w.jsn = jsn
	w.row.Mark = jsn
	err = s.out.Write(&w.row)
	return err
}

// storedMarks are the stored ranges by table, for the replay.
type storedMarks struct {
	by map[string][][2]uint64
	n  int
}

func (m *storedMarks) add(ms []backend.TableMark) {
	if m.by == nil {
		m.by = map[string][][2]uint64{}
	}
	for _, x := range ms {
		m.by[x.Table] = append(m.by[x.Table], [2]uint64{x.Lo, x.Hi})
	}
	m.n += len(ms)
}

func (m *storedMarks) has(table string, jsn uint64) bool {
	for _, r := range m.by[table] {
		if jsn >= r[0] && jsn <= r[1] {
			return true
		}
	}
	return false
}

// transportJournal labels messages replayed from the journal.
const transportJournal = "journal"

// handle is the message path, called concurrently by the listeners; b is
// valid only during the call.
func (s *Service) handle(b []byte, from netip.AddrPort, transport string) {
	w := s.pool.Get().(*worker)
	defer s.pool.Put(w)
	stream, seq, sequenced := hep.SeqOf(b)
	switch {
	case s.jr != nil:
		if !sequenced {
			stream, seq = 0, 0
		}
		if stream != 0 && seq <= s.jr.Seen(stream) {
			s.dm.duplicates.Inc()
			return
		}
		w.stream, w.seq, w.jsn, w.dup = stream, seq, 0, false
		s.process(w, b, transport)
		if w.jsn == 0 && !w.dup && !w.writeFailed && stream != 0 {
			// No row (keep-alive, not HEP, auth): journal the sequence
			// alone so the stream's ack moves past it.
			s.jmu.Lock()
			jsn, dup, err := s.jr.AppendNew(nil, stream, seq)
			s.jmu.Unlock()
			if err == nil && !dup {
				s.jr.Done(jsn)
			}
		}
		if w.dup {
			s.dm.duplicates.Inc()
		}
		if w.jsn != 0 && !w.writeFailed {
			s.jr.Done(w.jsn)
		}
	case sequenced:
		if !s.facker.accept(stream, seq) {
			s.dm.duplicates.Inc()
			return
		}
		s.process(w, b, transport)
		s.facker.written(stream, seq, !w.writeFailed)
	default:
		s.process(w, b, transport)
	}
}

// errAuth is process's answer for a message without the auth key.
var errAuth = errors.New("HEP auth key missing or wrong")

// process decodes, authenticates, forwards, dissects and writes one
// message. A message that is not HEP (the decode error is returned), or
// lacks the auth key (errAuth), is counted and dropped; anything that
// decodes as HEP is stored, malformed payloads included.
func (s *Service) process(w *worker, b []byte, transport string) error {
	w.writeFailed = false
	w.row.Mark = 0
	if len(b) == 0 {
		// An empty datagram: agents (ours included) probe a UDP collector
		// with one to learn whether the port is open. A keep-alive.
		s.m.noPayload.Inc()
		return nil
	}
	if err := w.msg.DecodeFromBytes(b); err != nil {
		s.m.decodeErrors.WithLabelValues(transport, hep.ErrorReason(err)).Inc()
		return err
	}
	if s.authKey != nil && subtle.ConstantTimeCompare(w.msg.AuthKey, s.authKey) != 1 {
		s.m.authRejects.Inc()
		return errAuth
	}
	s.m.message(transport, w.msg.Proto)
	for _, f := range s.fwd {
		f.send(b)
	}
	if !w.msg.Has(hep.ChunkPayload) && !w.msg.Has(hep.ChunkCompressedPayload) {
		// A keep-alive or a message without payload: nothing to store.
		s.m.noPayload.Inc()
		return nil
	}
	if err := w.d.Dissect(&w.msg, &w.row); err != nil {
		s.m.dissectError(dissect.Reason(err))
	}
	if w.d.Clamped() {
		s.futureClamped.Inc()
	}
	if sm := w.d.SIP(); sm != nil {
		w.key = s.invites.observe(&w.msg, sm, w.row.CreateDate, w.key)
	}
	s.observeRTCP(w)
	if w.msg.Proto == hep.ProtoMOSFull {
		s.m.observeRTP(w.msg.Payload)
	}
	if s.out != nil {
		err := errNoRoom
		if s.waitRoom(transport) {
			err = s.writeRow(w, b, transport)
		}
		if err != nil {
			s.m.writeErrors.Inc()
			s.logWriteError(err)
			// Only a row that could be stored later counts as not taken
			// (kept in the journal, not acknowledged); a refused one
			// (too large, bad table) would be refused again.
			w.writeFailed = !errors.Is(err, store.ErrRowTooLarge) && !errors.Is(err, store.ErrInvalidTable)
		}
	}
	return nil
}

// logWriteError logs a refused row at most every 10 seconds.
func (s *Service) logWriteError(err error) {
	now := time.Now().UnixNano()
	last := s.lastWriteLog.Load()
	if now-last < int64(10*time.Second) || !s.lastWriteLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("store refused a row (counted in xhep_collector_write_errors_total)", "err", err)
}

// observeRTCP feeds the RTCP quality histograms from the last dissected
// RTCP packet.
func (s *Service) observeRTCP(w *worker) {
	p := w.d.RTCP()
	if p == nil {
		return
	}
	q := p.Quality()
	if !q.Valid {
		return
	}
	r := s.invites.rtcp(&w.msg)
	r.reports.Inc()
	if len(p.ReportBlocks) > 0 {
		r.jitter.Observe(q.Jitter / 1000)
	}
	r.loss.Observe(q.FractionLost)
	if q.RTT > 0 {
		r.rtt.Observe(q.RTT.Seconds())
	}
	if p.XR.MOSCQ >= 10 && p.XR.MOSCQ <= 50 {
		r.mos.Observe(float64(p.XR.MOSCQ) / 10)
	} else {
		r.mos.Observe(estimateMOS(q))
	}
}
