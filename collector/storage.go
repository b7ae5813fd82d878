package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/clickhouse"
	"github.com/xhep/xhep/collector/store/mysql"
)

// openStore opens the store (MySQL/MariaDB, or ClickHouse) from the
// storage settings.
func openStore(cfg Config, reg prometheus.Registerer, markStream uint64, markDurable func(context.Context, uint64) error) (*store.Store, error) {
	scfg := store.Config{
		DSN:             cfg.MySQL,
		Database:        cfg.Database,
		SpillDir:        cfg.SpillDir,
		SpillMax:        cfg.SpillMax,
		PartitionsAhead: cfg.PartitionsAhead,
		MaxDBSize:       cfg.MaxDBSize,
		SearchHeaders:   cfg.SearchHeaders,
		MaxFuture:       cfg.maxFuture(),
		DrainTimeout:    cfg.DrainTimeout,
		Logger:          cfg.Logger,
		Registerer:      reg,
		MarkStream:      markStream,
		MarkDurable:     markDurable,
	}
	if cfg.Retention != "" {
		r, err := store.ParseRetention(cfg.Retention)
		if err != nil {
			return nil, badSetting(err, "{Retention}")
		}
		scfg.Retention = r
	}
	alg, level, err := mysql.ParsePageCompression(cfg.MySQLPageCompression)
	if err != nil {
		return nil, badSetting(err, "{MySQLPageCompression}")
	}
	scfg.MySQLPageCompressionAlgorithm, scfg.MySQLPageCompression = alg, level
	if len(cfg.ClickHouse) > 0 {
		be, err := clickhouseBackend(cfg)
		if err != nil {
			return nil, err
		}
		scfg.Backend = be
		// Large native blocks: ClickHouse wants few big inserts (each
		// insert is a part on disk, merged later).
		scfg.BatchRows, scfg.BatchBytes, scfg.FlushInterval = 50_000, 64<<20, time.Second
		scfg.QueueRows = 400_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, scfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// clickhouseBackend builds the ClickHouse backend from the --clickhouse
// settings.
func clickhouseBackend(cfg Config) (*clickhouse.Backend, error) {
	ccfg := clickhouse.Config{
		Addrs:    append([]string(nil), cfg.ClickHouse...),
		Database: cfg.Database,
		Username: cfg.ClickHouseUser,
		Password: cfg.ClickHousePassword,
		Cluster:  cfg.ClickHouseCluster,

		Replicated: cfg.ClickHouseReplicated,

		SearchHeaders: cfg.SearchHeaders,
	}
	if ccfg.Password == "" {
		ccfg.Password = os.Getenv("XHEP_CLICKHOUSE_PASSWORD")
	}
	if cfg.ClickHouseTLS || cfg.ClickHouseCA != "" {
		ccfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.ClickHouseCA != "" {
			pem, err := os.ReadFile(cfg.ClickHouseCA)
			if err != nil {
				return nil, badSetting(err, "{ClickHouseCA}")
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, badSetting(nil, "{ClickHouseCA} %s: no PEM certificate", cfg.ClickHouseCA)
			}
			ccfg.TLS.RootCAs = pool
		}
	}
	be, err := clickhouse.New(ccfg)
	if err != nil {
		return nil, badSetting(err, "{ClickHouse}")
	}
	return be, nil
}
