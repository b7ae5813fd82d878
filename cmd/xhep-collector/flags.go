package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xhep/xhep/cmd/internal/cli"
	"github.com/xhep/xhep/collector"
)

// options is what the command line says: the service's collector.Config,
// and what the command uses itself.
type options struct {
	collector.Config
	// API: the HTTP API's settings, which main passes to api.New (the
	// service never reads them).
	API apiOptions
	// LogLevel: debug, info, warn or error.
	LogLevel string
}

// apiOptions are the HTTP API's bounds and Host names (see
// collector/api.Config; zero: the API's defaults).
type apiOptions struct {
	Hosts                                            []string
	DefaultRange, MaxRange, FlowLookback, FlowMargin time.Duration
	MaxLegs                                          int
}

// flagValues is what the flags bind to.
type flagValues struct {
	options
	configFile string
}

// defineFlags declares every flag on fs, bound to v.
func defineFlags(fs *cli.FlagSet, v *flagValues) {
	cfg := &v.Config
	fs.StringVar(&v.configFile, "config", "", "YAML file with any of these flags by name; flags given here override it")
	fs.List(&cfg.Listen, "listen", "receive HEP on udp://ADDR, tcp://ADDR or tls://ADDR (repeatable)", false)
	fs.IntVar(&cfg.Readers, "udp-readers", 0, "SO_REUSEPORT sockets and readers per UDP address (0: one per CPU)")
	fs.BoolVar(&cfg.UDPSharePort, "udp-share-port", false, "bind a UDP address another process already holds (SO_REUSEPORT splits the stream between them); refused without it")
	fs.IntSize(&cfg.RcvBuf, "udp-rcvbuf", "UDP receive buffer to ask for, e.g. 32M (default 32M)")
	fs.DurationVar(&cfg.TCPIdle, "tcp-idle", 5*time.Minute, "close TCP/TLS connections silent this long")
	fs.IntVar(&cfg.TCPMaxConns, "tcp-max-conns", 0, "open TCP/TLS connections at most (0: 10000, lowered to fit the open-file limit; -1: no limit)")
	fs.IntVar(&cfg.TCPMaxConnsPerSource, "tcp-max-conns-per-source", 0, "open TCP/TLS connections per source address at most (0: 512; -1: no limit)")
	fs.DurationVar(&cfg.TCPEvictIdle, "tcp-evict-idle", 0, "at --tcp-max-conns, close a connection silent this long to make room (0: 30s)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate for tls:// listeners")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key for tls:// listeners")
	fs.StringVar(&cfg.AuthKey, "auth-key", "", "drop (and count) HEP messages without this auth key (chunk 0x0e)")
	fs.List(&cfg.Forward, "forward", "copy every accepted HEP message, unchanged, to udp://HOST:PORT (repeatable)", false)
	fs.IntVar(&cfg.ForwardQueue, "forward-queue", 4096, "messages queued per forward destination before drops")
	fs.List(&cfg.ALegHeaders, "aleg-header", "SIP header (name or regular expression) holding the A-leg Call-ID (repeatable; default X-CID)", false)
	fs.List(&cfg.SearchHeaders, "search-header", "SIP header (e.g. X-Account) stored searchable: an indexed column, the API parameter hdr_<name> and a console search field (repeatable)", false)
	fs.StringVar(&cfg.HTTP, "http", "", "serve /metrics, and with --mysql the API (/api/v1/) and UI (/), on this address, e.g. :9096")
	fs.StringVar(&cfg.APIToken, "api-token", "", "bearer token the HTTP API requires (empty: API for loopback clients only)")
	fs.StringVar(&cfg.APITokenFile, "api-token-file", "", "read --api-token from this file (or set $"+collector.EnvAPIToken+"), not the command line")
	fs.StringVar(&cfg.AuthKeyFile, "auth-key-file", "", "read --auth-key from this file (or set $"+collector.EnvAuthKey+")")
	fs.StringVar(&cfg.MySQLPasswordFile, "mysql-password-file", "", "read the --mysql DSN's password from this file (or set $"+collector.EnvMySQLPassword+")")
	fs.List(&v.API.Hosts, "http-host", "Host name served without --api-token besides localhost and loopback addresses (repeatable; DNS rebinding guard)", false)
	fs.StringVar(&cfg.MetricsAuth, "metrics-auth", "", "/metrics access: open or token (the --api-token as bearer); default token when --api-token is set, else open")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve /metrics on this address instead of --http")
	fs.StringVar(&cfg.HTTPCert, "http-cert", "", "PEM certificate: serve --http over TLS (with --http-key)")
	fs.StringVar(&cfg.HTTPKey, "http-key", "", "PEM private key for --http-cert")
	fs.DurationVar(&v.API.DefaultRange, "api-default-range", 0, "API search range when from/to are absent (default 1h)")
	fs.DurationVar(&v.API.MaxRange, "api-max-range", 0, "longest API search range (default 168h = 7 days; partition-pruned)")
	fs.DurationVar(&v.API.FlowLookback, "api-flow-lookback", 0, "how far back a call flow looks for its Call-ID without from/to (default 336h)")
	fs.DurationVar(&v.API.FlowMargin, "api-flow-margin", 0, "widens a call's span for RTCP, DNS, logs and linked legs (default 30s)")
	fs.IntVar(&v.API.MaxLegs, "api-max-legs", 0, "bound of the linked-leg closure of a call flow (default 16)")
	k := &cfg.Console
	fs.BoolVar(&k.Accounts, "accounts", false, "console user accounts (needs --mysql): logins with roles, per-user API tokens, audit log")
	fs.StringVar(&k.AdminUser, "admin-user", "", "name of the first admin, created with --admin-password-file when no account exists (default admin)")
	fs.StringVar(&k.AdminPasswordFile, "admin-password-file", "", "file whose first line is the first admin's password (or set $"+collector.EnvAdminPassword+"); no default password")
	fs.DurationVar(&k.SessionTTL, "session-ttl", 0, "how long a console login lasts (default 12h)")
	fs.BoolVar(&k.CookieSecure, "cookie-secure", false, "mark the session cookie Secure on plain HTTP too (behind a TLS proxy; over TLS it always is)")
	fs.StringVar(&k.LDAPURL, "ldap-url", "", "log users in against LDAP/Active Directory: ldap://HOST:PORT or ldaps://HOST:PORT")
	fs.BoolVar(&k.LDAPStartTLS, "ldap-starttls", false, "upgrade the ldap:// connection with StartTLS")
	fs.StringVar(&k.LDAPBindDN, "ldap-bind-dn", "", "service account DN that searches users and groups (empty: anonymous)")
	fs.StringVar(&k.LDAPBindPasswordFile, "ldap-bind-password-file", "", "file with the --ldap-bind-dn password")
	fs.StringVar(&k.LDAPBaseDN, "ldap-base-dn", "", "where users are searched, e.g. ou=people,dc=example,dc=com")
	fs.StringVar(&k.LDAPUserFilter, "ldap-user-filter", "", "user search filter, {user} = the login name (default (|(uid={user})(sAMAccountName={user})))")
	fs.StringVar(&k.LDAPGroupBase, "ldap-group-base", "", "where groups are searched (default --ldap-base-dn)")
	fs.StringVar(&k.LDAPGroupFilter, "ldap-group-filter", "", "group search filter, {dn} = user DN, {user} = login (default (|(member={dn})(uniqueMember={dn})(memberUid={user})))")
	fs.List(&k.LDAPRoles, "ldap-role", "map an LDAP group (DN or cn) to a role: GROUP=admin|operator|read-only (repeatable; highest wins)", false)
	fs.StringVar(&k.ShareKeyFile, "share-key-file", "", "key that signs console share links, so they survive a restart (made, mode 0600, when the file does not exist; default: a new key each start)")
	fs.StringVar(&cfg.MySQL, "mysql", "", "MySQL/MariaDB DSN, e.g. user:pass@tcp(127.0.0.1:3306)/")
	fs.StringVar(&cfg.Database, "database", "", "database name (default: the DSN's, else xhep)")
	fs.StringVar(&cfg.MySQLPageCompression, "mysql-page-compression", "", "MariaDB: create tables with InnoDB page compression: zlib[:N] or N (zlib level 1-9; 1: 4x smaller SIP rows), lz4 or snappy (provider plugin; the server's innodb_compression_algorithm must be it), off (default)")
	fs.List(&cfg.ClickHouse, "clickhouse", "store in ClickHouse instead of MySQL: native address HOST:PORT (repeatable; a cluster's: any server)", false)
	fs.StringVar(&cfg.ClickHouseCluster, "clickhouse-cluster", "", "ClickHouse cluster (remote_servers): local tables on every shard, Distributed tables over them")
	fs.BoolVar(&cfg.ClickHouseReplicated, "clickhouse-replicated", false, "ReplicatedMergeTree local tables (ZooKeeper) even before a shard has a second replica; always when one has")
	fs.StringVar(&cfg.ClickHouseUser, "clickhouse-user", "", "ClickHouse user (default: default)")
	fs.StringVar(&cfg.ClickHousePassword, "clickhouse-password", "", "ClickHouse password (default: $XHEP_CLICKHOUSE_PASSWORD)")
	fs.BoolVar(&cfg.ClickHouseTLS, "clickhouse-tls", false, "TLS to ClickHouse (its secure native port)")
	fs.StringVar(&cfg.ClickHouseCA, "clickhouse-ca", "", "PEM CA bundle for --clickhouse-tls (default: the system's)")
	fs.IntVar(&cfg.PartitionsAhead, "partitions-ahead", 2, "daily partitions created ahead of today")
	fs.StringVar(&cfg.Retention, "retention", "", "retention per table class, e.g. call=14d,registration=3d,default=7d")
	fs.Size(&cfg.MaxDBSize, "max-db-size", "drop the oldest partitions beyond this database size, e.g. 50G (0: no limit)")
	fs.DurationVar(&cfg.MaxFuture, "max-future", 0, "capture times further ahead of this clock are stored at the receive time, and such rows removed from the database (0: 1h; negative: no bound)")
	fs.StringVar(&cfg.SpillDir, "spill-dir", "", "directory of the on-disk queue used while the database is away")
	fs.Size(&cfg.SpillMax, "spill-max", "bound of the on-disk queue, e.g. 1G (default 1G)")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long to wait for the database before spilling the rest to --spill-dir")
	fs.StringVar(&cfg.Read, "read", "", "decode the HEP carried in this pcap/pcapng file (with --print or --mysql) and exit")
	fs.BoolVar(&cfg.Print, "print", false, "with --read: print one JSON row per message to stdout instead of storing")
	fs.DurationVar(&cfg.KPIWindow, "kpi-window", 2*time.Minute, "how long an INVITE waits for responses in the SIP timing metrics")
	fs.List(&cfg.Aliases, "alias", "name a peer or trunk for the SIP KPIs and the console: PREFIX[:PORT]=NAME, e.g. 10.1.0.0/24=carrier-a, 10.0.0.1:5080=trunk-a, [2001:db8::1]:5060=sbc (repeatable)", false)
	fs.IntVar(&cfg.KPIMaxPeers, "kpi-max-peers", 64, "peer label values of the SIP KPIs; further aliases count as \"other\"")
	fs.IntVar(&cfg.KPIMaxNodes, "kpi-max-nodes", 64, "capture node label values of the KPIs; further nodes count as \"other\"")
	fs.IntVar(&cfg.KPIMax, "kpi-max", 200_000, "entries per SIP KPI table (open INVITEs, answered calls, retransmission keys); beyond it new ones are refused and counted")
	fs.DurationVar(&cfg.KPICallTimeout, "kpi-call-timeout", 4*time.Hour, "an answered call without BYE stops counting as active after this long")
	fs.StringVar(&v.LogLevel, "log-level", "info", "debug, info, warn or error")
	// Acknowledged delivery and durability.
	fs.StringVar(&cfg.JournalDir, "journal-dir", "", "durable receive journal: what is received survives kill -9 and is stored on the next start (replaces --spill-dir)")
	fs.Size(&cfg.JournalMax, "journal-max", "bound of the journal, e.g. 1G (default 1G); beyond it TCP/TLS are not read")
	fs.DurationVar(&cfg.JournalSync, "journal-sync", 0, "journal fsync window: the most a power loss can take of what was received, none of it acknowledged (default 10ms)")
	fs.BoolVar(&cfg.NoAck, "no-ack", false, "do not acknowledge agents (they fall back to plain HEP)")
	fs.DurationVar(&cfg.AckFlush, "ack-flush", 0, "without --journal-dir: how often the store is flushed to acknowledge what it committed (default 200ms)")
	fs.DurationVar(&cfg.DrainGrace, "drain-grace", 0, "on SIGTERM, how long open TCP/TLS connections are read to their quiet end (default 5s)")
}

// parseFlags turns the command line (without the program name) into the
// collector configuration: the --config YAML file first, then the flags
// (cli.Parse).
func parseFlags(args []string) (options, error) {
	v, err := cli.Parse("xhep-collector", args, func(fs *cli.FlagSet, v *flagValues) func() error {
		defineFlags(fs, v)
		return nil
	})
	o := v.options
	if errors.Is(err, flag.ErrHelp) {
		return o, err
	}
	if err != nil {
		return o, fmt.Errorf("parse flags: %w", err)
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return o, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	if a := o.API; a.DefaultRange < 0 || a.MaxRange < 0 || a.FlowLookback < 0 || a.FlowMargin < 0 || a.MaxLegs < 0 {
		return o, errors.New("negative --api-default-range, --api-max-range, --api-flow-lookback, --api-flow-margin or --api-max-legs")
	}
	if err := o.LoadSecrets(os.Getenv); err != nil {
		return o, flagNamed(err)
	}
	if err := o.Validate(); err != nil {
		return o, flagNamed(err)
	}
	return o, nil
}

// usage writes the flag list.
func usage(w io.Writer) {
	var v flagValues
	fs := cli.NewFlagSet("xhep-collector")
	defineFlags(fs, &v)
	fmt.Fprintf(w, "Usage: xhep-collector --listen udp://:9060 --mysql DSN [flags]\n       xhep-collector --read FILE.pcap --print\n\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}
