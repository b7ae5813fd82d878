package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/collector/store/mysql"
	"github.com/xhep/xhep/hep/proto"
)

// Method selects how the MySQL backend writes a batch ([mysql.Method]).
type Method = mysql.Method

const (
	// MethodInsert: cached multi-row prepared INSERTs (the default).
	MethodInsert = mysql.MethodInsert
	// MethodLoad: LOAD DATA LOCAL INFILE.
	MethodLoad = mysql.MethodLoad
)

// Config configures a [Store]. Zero fields take the defaults named beside them.
type Config struct {
	// Backend is the database. nil: the MySQL/MariaDB backend built from
	// DSN, Database and Method below (package collector/store/mysql).
	Backend backend.Backend
	// MarkStream, when not 0, makes batches carry the range of Row.Mark
	// they hold, stored by a backend.Marker backend with the rows.
	MarkStream uint64
	// MarkDurable, when set, is called before a batch with marks is
	// committed and must return once every Row.Mark up to hi is durable
	// upstream (the collector's journal fsync): a committed row's record
	// can then never be lost and its number reused.
	MarkDurable func(ctx context.Context, hi uint64) error

	// DSN is a go-sql-driver/mysql DSN, with or without a database name,
	// for example "xhep:xhep@tcp(127.0.0.1:3306)/".
	DSN string
	// Database is created if missing. Default: the DSN's database name,
	// else "xhep".
	Database string
	// Conns is the number of writer goroutines, each with its own
	// connection (default 4).
	Conns int
	// Method is MethodInsert (default) or MethodLoad (MySQL only).
	Method Method
	// MySQLPageCompression is mysql.Config.PageCompression (0: off).
	MySQLPageCompression int
	// MySQLPageCompressionAlgorithm is mysql.Config.PageCompressionAlgorithm.
	MySQLPageCompressionAlgorithm string
	// SearchHeaders is mysql.Config.SearchHeaders (the --search-header
	// names; a Backend given in Backend has its own).
	SearchHeaders []string

	// A table's batch is handed to a writer when it holds BatchRows rows
	// (default 2000) or BatchBytes bytes (default 4 MiB), or FlushInterval
	// (default 200ms) after its first row.
	BatchRows     int
	BatchBytes    int
	FlushInterval time.Duration

	// QueueRows bounds the rows held in memory (default 200,000); beyond
	// it batches spill to SpillDir.
	QueueRows int
	// SpillDir is the on-disk spill (package hep/spool); empty disables
	// spilling, so rows beyond QueueRows are dropped and counted.
	SpillDir string
	// SpillMax bounds the spill's size in bytes (default 1 GiB).
	SpillMax int64

	// PartitionsAhead is how many daily partitions exist after today
	// (default 2).
	PartitionsAhead int
	// Retention by table class "call", "registration" and "default"
	// (defaults 14d, 3d, 7d). A missing class takes its default.
	Retention map[string]time.Duration
	// MaxDBSize, in bytes, is the most data+index the database may hold;
	// beyond it the oldest day partitions (across tables) are dropped.
	// 0 disables the check.
	MaxDBSize int64
	// MaxFuture, when positive, has the partition manager remove rows
	// dated more than this after now (see backend.Policy.MaxFuture).
	MaxFuture time.Duration

	// Logger receives every partition, retention and connectivity action
	// (default: discard).
	Logger *slog.Logger
	// Registerer receives the store's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time

	// DrainTimeout bounds how long Close waits for the database before
	// spilling what is left (default 30s).
	DrainTimeout time.Duration
}

// Default retention per table class (hep/proto's class names).
var defaultRetention = map[string]time.Duration{
	proto.Call.String():         14 * 24 * time.Hour,
	proto.Registration.String(): 3 * 24 * time.Hour,
	proto.Default.String():      7 * 24 * time.Hour,
}

func (c *Config) setDefaults() {
	if c.Conns <= 0 {
		c.Conns = 4
	}
	if c.Method == "" {
		c.Method = MethodInsert
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 2000
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 4 << 20
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.QueueRows <= 0 {
		c.QueueRows = 200_000
	}
	if c.SpillMax <= 0 {
		c.SpillMax = 1 << 30
	}
	if c.PartitionsAhead <= 0 {
		c.PartitionsAhead = 2
	}
	ret := make(map[string]time.Duration, len(defaultRetention))
	for k, v := range defaultRetention {
		ret[k] = v
	}
	for k, v := range c.Retention {
		ret[k] = v
	}
	c.Retention = ret
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
}

// ErrBadRetention is returned by [ParseRetention] for malformed input.
var ErrBadRetention = errors.New("bad retention")

// ParseRetention parses "call=14d,registration=3d,default=7d": classes
// call, registration and default, durations in days (d) or anything
// [time.ParseDuration] accepts ("36h"). Classes not named keep their
// defaults when the map is used as [Config.Retention].
func ParseRetention(s string) (map[string]time.Duration, error) {
	out := make(map[string]time.Duration)
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		class, val, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q: want class=duration", ErrBadRetention, item)
		}
		class = strings.TrimSpace(class)
		if _, ok := proto.ParseTableClass(class); !ok {
			return nil, fmt.Errorf("%w: unknown class %q (want call, registration or default)", ErrBadRetention, class)
		}
		d, err := parseDays(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadRetention, class, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("%w: %s: must be positive", ErrBadRetention, class)
		}
		out[class] = d
	}
	return out, nil
}

func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("parse days %q: %w", s, err)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	return d, nil
}
