package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/store"
)

// openStore opens the MySQL/MariaDB store from the storage settings.
func openStore(cfg Config, reg prometheus.Registerer) (*store.Store, error) {
	scfg := store.Config{
		DSN:             cfg.MySQL,
		Database:        cfg.Database,
		SpillDir:        cfg.SpillDir,
		SpillMax:        cfg.SpillMax,
		PartitionsAhead: cfg.PartitionsAhead,
		MaxDBSize:       cfg.MaxDBSize,
		DrainTimeout:    cfg.DrainTimeout,
		Logger:          cfg.Logger,
		Registerer:      reg,
	}
	if cfg.Retention != "" {
		r, err := store.ParseRetention(cfg.Retention)
		if err != nil {
			return nil, fmt.Errorf("--retention: %w", err)
		}
		scfg.Retention = r
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, scfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
