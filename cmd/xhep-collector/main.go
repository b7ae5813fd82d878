// Command xhep-collector receives HEP from capture agents, dissects SIP,
// RTCP, DNS, logs and JSON events, stores them in MySQL/MariaDB and serves
// Prometheus metrics. With --read it decodes the HEP carried in a capture
// file instead. Run with -h for the flags.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/xhep/xhep/cmd/internal/version"
	"github.com/xhep/xhep/collector"
	"github.com/xhep/xhep/collector/api"
	"github.com/xhep/xhep/collector/auth"
	"github.com/xhep/xhep/collector/ingest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout)) }

func run(args []string, stdout io.Writer) int {
	if version.Requested(args) {
		fmt.Fprint(stdout, version.String("xhep-collector", false))
		return 0
	}
	opts, err := parseFlags(args)
	cfg := opts.Config
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "xhep-collector: %v\n", err)
		fmt.Fprintln(os.Stderr, "run xhep-collector -h for the flags")
		return 2
	}
	var level slog.Level
	level.UnmarshalText([]byte(opts.LogLevel)) // checked by parseFlags
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log
	if cfg.HasStore() && cfg.Read == "" && cfg.SpillDir == "" {
		log.Warn("no --spill-dir: while the database is away rows wait in memory only, and those still queued at exit are lost (counted)")
	}

	nofile, err := raiseNOFILE()
	if err != nil {
		log.Warn("raise the open-file limit", "err", err)
	}
	before := cfg.TCPMaxConns
	fitConnLimit(&cfg, nofile)
	if cfg.TCPMaxConns != before {
		log.Warn("--tcp-max-conns lowered to fit the open-file limit", "nofile", nofile, "tcp_max_conns", cfg.TCPMaxConns)
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
		log.Error("start", "err", flagNamed(err))
		return 2
	}
	if db := svc.DB(); db != nil && cfg.HTTP != "" && cfg.Read == "" {
		var accounts *auth.Store
		if cfg.Console.Accounts {
			st, created, err := cfg.OpenAccounts(ctx, db, os.Getenv)
			if err != nil {
				svc.Close()
				log.Error("open accounts", "err", flagNamed(err))
				return 2
			}
			if created {
				log.Info("created the first admin", "user", cmp.Or(cfg.Console.AdminUser, "admin"))
			}
			accounts = st
		}
		shareKey, err := cfg.LoadShareKey()
		if err != nil {
			svc.Close()
			log.Error("share key", "err", flagNamed(err))
			return 2
		}
		a, err := api.New(api.Config{DB: db, ShareKey: shareKey, Backend: cfg.StoreBackend(), Cluster: cfg.ClickHouseCluster != "",
			Accounts: accounts, SecureCookie: cfg.Console.CookieSecure, Aliases: cfg.Aliases, SearchHeaders: cfg.SearchHeaders,
			Unavailable: svc.Unavailable, Token: cfg.APIToken, Hosts: opts.API.Hosts,
			DefaultRange: opts.API.DefaultRange, MaxRange: opts.API.MaxRange,
			FlowLookback: opts.API.FlowLookback, FlowMargin: opts.API.FlowMargin, MaxLegs: opts.API.MaxLegs})
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

// fdReserve is what the TCP connection limit leaves of the open-file
// limit for the HTTP side, the database, the UDP sockets and spill files.
const (
	fdReserve    = 1024
	minConnLimit = 64
)

// fitConnLimit lowers cfg.TCPMaxConns (its default included) to fit the
// open-file limit nofile (0: unknown), so HEP connections can never take
// the descriptors the HTTP API and /metrics need.
func fitConnLimit(cfg *collector.Config, nofile uint64) {
	want := cfg.TCPMaxConns
	if want < 0 || nofile == 0 {
		return
	}
	if want == 0 {
		want = ingest.DefaultMaxConns
	}
	if uint64(want)+fdReserve <= nofile {
		return
	}
	cfg.TCPMaxConns = max(int(nofile)-fdReserve, minConnLimit)
	if cfg.TCPMaxConns > want {
		cfg.TCPMaxConns = want
	}
}
