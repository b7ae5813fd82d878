// Command xhep-collector receives HEP from capture agents, dissects SIP,
// RTCP, DNS, logs and JSON events, stores them in MySQL/MariaDB and serves
// Prometheus metrics. With --read it decodes the HEP carried in a capture
// file instead. Run with -h for the flags.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/xhep/xhep/cmd/internal/version"
	"github.com/xhep/xhep/collector"
	"github.com/xhep/xhep/collector/api"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if version.Requested(args) {
		fmt.Print(version.String("xhep-collector", false))
		return 0
	}
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(os.Stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "xhep-collector: %v\n", err)
		fmt.Fprintln(os.Stderr, "run xhep-collector -h for the flags")
		return 2
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // checked by parseFlags
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log
	if cfg.HasStore() && cfg.Read == "" && cfg.SpillDir == "" {
		log.Warn("no --spill-dir: while the database is away rows wait in memory only, and those still queued at exit are lost (counted)")
	}

	var out *bufio.Writer
	if cfg.Print {
		out = bufio.NewWriterSize(os.Stdout, 1<<20)
		cfg.Output = out
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	svc, err := collector.New(cfg)
	if err != nil {
		log.Error("start", "err", err)
		return 2
	}
	if db := svc.DB(); db != nil && cfg.HTTP != "" && cfg.Read == "" {
		a, err := api.New(api.Config{DB: db, Backend: cfg.StoreBackend(), Cluster: cfg.ClickHouseCluster != "",
			Unavailable: svc.Unavailable, Token: cfg.APIToken, Hosts: cfg.HTTPHosts,
			DefaultRange: cfg.APIDefaultRange, MaxRange: cfg.APIMaxRange,
			FlowLookback: cfg.APIFlowLookback, FlowMargin: cfg.APIFlowMargin, MaxLegs: cfg.APIMaxLegs})
		if err != nil {
			svc.Close()
			log.Error("start HTTP API", "err", err)
			return 2
		}
		a.Register(svc.Mux())
	}
	if a := svc.HTTPAddr(); a != nil {
		log.Info("serving HTTP", "addr", a.String(), "api", svc.DB() != nil)
	}
	err = svc.Run(ctx)
	if out != nil {
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
	}
	if err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	if cfg.Read != "" {
		st := svc.ReadStats()
		log.Info("done", "packets", st.Packets, "hep", st.HEP, "not_hep", st.NotHEP, "decode_errors", st.DecodeErrors)
	} else {
		log.Info("stopped cleanly")
	}
	return 0
}
