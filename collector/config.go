package collector

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/alias"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/collector/store/mysql"
)

// Config holds every setting of the collector; cmd/xhep-collector fills it
// from its flags and config file (cmd/internal/cli); the field names are
// what errors of [Config.Validate] name (see [SettingError]).
type Config struct {
	// Listen: udp://ADDR, tcp://ADDR or tls://ADDR, repeatable.
	Listen []string
	// Readers per UDP address (SO_REUSEPORT); 0 means GOMAXPROCS.
	Readers int
	// RcvBuf is the UDP receive buffer to ask for, in bytes (default 32 MiB).
	RcvBuf int
	// UDPSharePort lets this collector bind a UDP address another process
	// already holds with SO_REUSEPORT (the kernel then splits the stream
	// between them); without it such an address is refused.
	UDPSharePort bool
	// TCPIdle closes TCP/TLS connections silent this long (default 5m).
	TCPIdle time.Duration
	// TCPMaxConns and TCPMaxConnsPerSource bound the open TCP/TLS
	// connections (defaults 10,000 and 512; negative: no limit); at the
	// total limit a connection silent for TCPEvictIdle (default 30s) is
	// closed to make room, otherwise the new one is refused (see
	// collector/ingest.Config).
	TCPMaxConns          int
	TCPMaxConnsPerSource int
	TCPEvictIdle         time.Duration
	// TLSCert and TLSKey are PEM files for tls:// listeners.
	TLSCert string
	TLSKey  string

	// AuthKey, when set, is required in HEP chunk 0x0e: messages without
	// it are counted and dropped.
	AuthKey string
	// Forward: udp://HOST:PORT collectors that get a copy of every
	// accepted HEP message, unchanged. Repeatable.
	Forward []string
	// ForwardQueue is the per-destination queue length (default 8192);
	// beyond it copies are dropped and counted.
	ForwardQueue int
	// ALegHeaders: SIP header names or regular expressions whose value is
	// the A-leg Call-ID (default X-CID).
	ALegHeaders []string
	// SearchHeaders: SIP headers (e.g. X-Account) extracted at ingest and
	// searchable in the API and console (an indexed column of the SIP
	// tables on MySQL/MariaDB, a materialized column on ClickHouse).
	SearchHeaders []string

	// HTTP is the address serving /metrics (and the API when mounted).
	HTTP string
	// APIToken, when set, is the bearer token the HTTP API requires; empty
	// serves the API to loopback clients only (see package collector/api).
	APIToken string
	// APITokenFile, AuthKeyFile and MySQLPasswordFile hold those secrets
	// instead of the command line (see LoadSecrets).
	APITokenFile      string
	AuthKeyFile       string
	MySQLPasswordFile string
	// MetricsAuth is /metrics' access: "open" or "token" (the API token as
	// a bearer token). Default: token when APIToken is set, else open.
	MetricsAuth string
	// MetricsAddr, when set, serves /metrics on this address instead of
	// on HTTP.
	MetricsAddr string
	// HTTPCert and HTTPKey, when set, serve the HTTP address over TLS.
	HTTPCert string
	HTTPKey  string
	// Console: user accounts of the web console (console.go).
	Console ConsoleConfig

	// Storage.
	MySQL    string // go-sql-driver DSN
	Database string // database name (default: from the DSN, else xhep)
	// MySQLPageCompression: MariaDB InnoDB page compression of new tables,
	// as mysql.ParsePageCompression reads it: "lz4", "snappy", "zlib",
	// "zlib:N", "N" (zlib level 1-9), "" or "off"
	// (collector/store/mysql.Config.PageCompression and
	// PageCompressionAlgorithm).
	MySQLPageCompression string
	PartitionsAhead      int    // daily partitions kept ahead (default 2)
	Retention            string // "call=14d,registration=3d,default=7d"
	MaxDBSize            int64  // bytes; 0 = unlimited
	SpillDir             string // on-disk queue while the database is away
	SpillMax             int64  // bytes (default 1 GiB)
	// ClickHouse, instead of MySQL: native-protocol addresses host:port
	// (repeatable; a cluster's: any of its servers). See
	// collector/store/clickhouse.
	ClickHouse        []string
	ClickHouseCluster string // cluster of remote_servers: local tables on every shard + Distributed
	// ClickHouseReplicated: ReplicatedMergeTree local tables even before a
	// shard has a second replica (always when one has).
	ClickHouseReplicated bool
	ClickHouseUser       string // default "default"
	ClickHousePassword   string // or $XHEP_CLICKHOUSE_PASSWORD
	ClickHouseTLS        bool   // TLS to the servers' secure native port
	ClickHouseCA         string // PEM CA bundle for --clickhouse-tls (default: system roots)
	// DrainTimeout bounds how long shutdown waits for the database before
	// spilling what is left to SpillDir (default 30s).
	DrainTimeout time.Duration

	// Acknowledged delivery and durability (see delivery.go).
	// JournalDir: the durable receive journal; what it holds survives
	// kill -9 and is stored on the next start. Replaces SpillDir.
	JournalDir string
	// JournalMax bounds the journal in bytes (default 1 GiB); beyond it
	// TCP/TLS are not read (backpressure).
	JournalMax int64
	// JournalSync is the fsync window (default 10ms).
	JournalSync time.Duration
	// NoAck: do not acknowledge (agents fall back to plain HEP).
	NoAck bool
	// AckFlush: without a journal, how often the store is flushed to
	// acknowledge what it committed (default 200ms).
	AckFlush time.Duration
	// DrainGrace bounds how long SIGTERM reads open connections to their
	// quiet end (default 5s).
	DrainGrace time.Duration

	// MaxFuture bounds how far a capture time may be ahead of the
	// collector's clock: a message further ahead (a sender's clock in
	// 2090) is stored at its receive time, its capture time kept in
	// hep_header (timeSeconds, and timeAhead in seconds), and rows dated
	// further ahead found in the database are removed by the partition
	// manager. 0 means 1h, negative no bound.
	MaxFuture time.Duration

	// Offline mode: Read is a pcap or pcapng file whose HEP messages are
	// dissected; with Print they are written as JSON lines to Output
	// instead of the database.
	Read   string
	Print  bool
	Output io.Writer

	// KPIWindow bounds how long an INVITE waits for its responses in the
	// SIP timing metrics (default 2m); KPIMax bounds how many are tracked
	// (default 200,000).
	KPIWindow time.Duration
	KPIMax    int
	// KPICallTimeout bounds how long an answered call without BYE counts as
	// active (default 4h).
	KPICallTimeout time.Duration
	// Aliases name peers and trunks by address: PREFIX[:PORT]=NAME entries (see
	// package collector/alias); the SIP KPIs are labelled with them.
	Aliases []string
	// KPIMaxPeers and KPIMaxNodes bound the peer and node label values of
	// the KPIs (default 64 each); the rest fold into "other".
	KPIMaxPeers int
	KPIMaxNodes int

	// Logger receives service events (default: discard).
	Logger *slog.Logger
}

// Validate checks the configuration without touching the network.
func (c *Config) Validate() error {
	var errs []error
	apiOnly := c.Read == "" && len(c.Listen) == 0 && c.HTTP != "" && c.HasStore()
	if c.Read == "" && len(c.Listen) == 0 && !apiOnly {
		errs = append(errs, badSetting(nil, "no {Listen} address and no {Read} file (an API/UI-only node needs {HTTP} and {MySQL} or {ClickHouse})"))
	}
	if c.Read != "" && len(c.Listen) > 0 {
		errs = append(errs, badSetting(nil, "{Read} and {Listen} do not go together"))
	}
	if c.Print && c.Read == "" {
		errs = append(errs, badSetting(nil, "{Print} needs {Read}"))
	}
	if c.Print && c.HasStore() {
		errs = append(errs, badSetting(nil, "{Print} and {MySQL}/{ClickHouse} do not go together"))
	}
	if c.Read != "" && !c.Print && !c.HasStore() {
		errs = append(errs, badSetting(nil, "{Read} needs {Print}, {MySQL} or {ClickHouse}"))
	}
	if c.Read == "" && !c.HasStore() && len(c.Forward) == 0 {
		errs = append(errs, badSetting(nil, "no {MySQL}, no {ClickHouse} and no {Forward}: nothing would be stored"))
	}
	if c.MySQL != "" && len(c.ClickHouse) > 0 {
		errs = append(errs, badSetting(nil, "{MySQL} and {ClickHouse} do not go together: one store per collector"))
	}
	if _, level, err := mysql.ParsePageCompression(c.MySQLPageCompression); err != nil {
		errs = append(errs, badSetting(nil, "{MySQLPageCompression}: %v", err))
	} else if level != 0 && c.MySQL == "" {
		errs = append(errs, badSetting(nil, "{MySQLPageCompression} needs {MySQL}"))
	}
	if c.ClickHouseCluster != "" && len(c.ClickHouse) == 0 {
		errs = append(errs, badSetting(nil, "{ClickHouseCluster} needs {ClickHouse}"))
	}
	if c.ClickHouseReplicated && c.ClickHouseCluster == "" {
		errs = append(errs, badSetting(nil, "{ClickHouseReplicated} needs {ClickHouseCluster}"))
	}
	if (c.ClickHouseTLS || c.ClickHouseCA != "") && len(c.ClickHouse) == 0 {
		errs = append(errs, badSetting(nil, "{ClickHouseTLS} and {ClickHouseCA} need {ClickHouse}"))
	}
	if c.Retention != "" {
		if _, err := store.ParseRetention(c.Retention); err != nil {
			errs = append(errs, badSetting(err, "{Retention}"))
		}
	}
	tls := false
	for _, l := range c.Listen {
		scheme, _, err := ingest.ParseListen(l)
		if err != nil {
			errs = append(errs, err)
		}
		tls = tls || scheme == ingest.TLS
	}
	if c.JournalDir != "" && c.SpillDir != "" {
		errs = append(errs, badSetting(nil, "{JournalDir} and {SpillDir} do not go together: the journal keeps what the database has not taken"))
	}
	if c.JournalMax < 0 || c.JournalSync < 0 || c.AckFlush < 0 || c.DrainGrace < 0 {
		errs = append(errs, errors.New("negative journal or ack setting"))
	}
	if tls && (c.TLSCert == "" || c.TLSKey == "") {
		errs = append(errs, badSetting(nil, "a tls:// listener needs {TLSCert} and {TLSKey}"))
	}
	if (c.HTTPCert == "") != (c.HTTPKey == "") {
		errs = append(errs, badSetting(nil, "{HTTPCert} and {HTTPKey} go together"))
	}
	if (c.HTTPCert != "" || c.APIToken != "") && c.HTTP == "" {
		errs = append(errs, badSetting(nil, "{HTTPCert} and {APIToken} need {HTTP}"))
	}
	switch c.MetricsAuth {
	case "", MetricsOpen:
	case MetricsToken:
		if c.APIToken == "" {
			errs = append(errs, badSetting(nil, "{MetricsAuth} token needs {APIToken}"))
		}
	default:
		errs = append(errs, badSetting(nil, "{MetricsAuth} %q: want open or token", c.MetricsAuth))
	}
	if err := c.validateConsole(); err != nil {
		errs = append(errs, err)
	}
	if _, err := backend.SearchHeaders(c.SearchHeaders); err != nil {
		errs = append(errs, badSetting(err, "{SearchHeaders}"))
	}
	if _, err := alias.Parse(c.Aliases); err != nil {
		errs = append(errs, badSetting(err, "{Aliases}"))
	}
	if c.KPIMaxPeers < 0 || c.KPIMaxNodes < 0 || c.KPIMax < 0 || c.KPIWindow < 0 || c.KPICallTimeout < 0 {
		errs = append(errs, errors.New("negative KPI bound"))
	}
	for _, f := range c.Forward {
		if _, err := parseForward(f); err != nil {
			errs = append(errs, err)
		}
	}
	if c.PartitionsAhead < 0 || c.MaxDBSize < 0 || c.SpillMax < 0 || c.Readers < 0 || c.RcvBuf < 0 || c.DrainTimeout < 0 {
		errs = append(errs, errors.New("negative size or count"))
	}
	return errors.Join(errs...)
}

// parseForward checks "udp://HOST:PORT" and returns HOST:PORT.
func parseForward(s string) (string, error) {
	scheme, addr, ok := strings.Cut(s, "://")
	if !ok || !strings.EqualFold(scheme, "udp") {
		return "", fmt.Errorf("forward address %q: want udp://HOST:PORT", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("forward address %q: %w", s, err)
	}
	return addr, nil
}

// HasStore reports whether rows go to a database (--mysql or --clickhouse).
func (c *Config) HasStore() bool { return c.MySQL != "" || len(c.ClickHouse) > 0 }

// StoreBackend is "mysql", "clickhouse" or "" (no store).
func (c *Config) StoreBackend() string {
	switch {
	case len(c.ClickHouse) > 0:
		return "clickhouse"
	case c.MySQL != "":
		return "mysql"
	}
	return ""
}

// maxFuture is the effective MaxFuture bound, 0 when there is none.
func (c *Config) maxFuture() time.Duration {
	switch {
	case c.MaxFuture < 0:
		return 0
	case c.MaxFuture == 0:
		return dissect.DefaultMaxFuture
	}
	return c.MaxFuture
}
