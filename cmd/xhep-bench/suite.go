package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/xhep/xhep/bench"
)

// suiteConfig is what the suite's flags ask for.
type suiteConfig struct {
	Quick bool
	JSON  bool
	Only  []string
	MySQL string
	Out   string
	Work  string
	Quiet bool
	Peers []bench.Peer
	Modes []string
	// QueryRows and QueryBackends: the storage section's query scale run.
	QueryRows     int
	QueryBackends []string
}

// peerFlags collects repeated --peer NAME=PATH flags.
type peerFlags struct{ p *[]bench.Peer }

func (f peerFlags) String() string { return "" }

func (f peerFlags) Set(v string) error {
	p, err := bench.ParsePeer(v)
	if err != nil {
		return err
	}
	*f.p = append(*f.p, p)
	return nil
}

// parseSuiteFlags turns the suite's arguments into a suiteConfig. getenv
// supplies XHEP_TEST_DSN when --mysql is not given.
func parseSuiteFlags(args []string, getenv func(string) string) (suiteConfig, error) {
	var c suiteConfig
	fs := flag.NewFlagSet("xhep-bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&c.Quick, "quick", false, "run the whole suite in under two minutes (CI smoke run)")
	fs.BoolVar(&c.JSON, "json", false, "print JSON instead of the Markdown table")
	only := fs.String("only", "", "comma-separated sections to run: "+strings.Join(bench.Sections, ","))
	fs.StringVar(&c.MySQL, "mysql", "", "MariaDB/MySQL DSN the suite creates and drops its own database on (default $XHEP_TEST_DSN)")
	fs.StringVar(&c.Out, "out", "", "also write the Markdown table to this file")
	fs.StringVar(&c.Work, "workdir", "", "directory for generated captures (default $TMPDIR/xhep-bench)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	modes := fs.String("modes", "", "comma-separated live capture modes for the live and mixed sections (default ringbuf,afxdp,afpacket; ringbuf with --quick)")
	fs.IntVar(&c.QueryRows, "query-rows", 0, "storage section: fill each backend to this many SIP rows (a day of calls, copied server-side) and measure the API's queries at that scale, instead of the side-by-side write run (not with --quick)")
	qb := fs.String("query-backends", "", "comma-separated backends of the --query-rows run: mysql, clickhouse (default both)")
	fs.Var(peerFlags{&c.Peers}, "peer", "NAME=PATH: also run this capture agent (heplify) in the live, mixed and replay steps, side by side, with ratios (repeatable; the binary is yours, the suite never fetches or builds one)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			b.WriteString("usage: xhep-bench [--quick] [--json] [--only micro,agent,live,collector,e2e] [--mysql DSN] [--out FILE.md] [--peer heplify=PATH]\n")
			fs.SetOutput(&b)
			fs.PrintDefaults()
			return c, errUsage(b.String())
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			if s = strings.TrimSpace(s); s != "" {
				c.Only = append(c.Only, s)
			}
		}
		if err := bench.CheckSections(c.Only); err != nil {
			return c, fmt.Errorf("--only: %w", err)
		}
	}
	if *modes != "" {
		for _, m := range strings.Split(*modes, ",") {
			switch m = strings.TrimSpace(m); m {
			case "ringbuf", "afxdp", "afpacket":
				c.Modes = append(c.Modes, m)
			default:
				return c, fmt.Errorf("--modes: unknown mode %q (want ringbuf, afxdp or afpacket)", m)
			}
		}
	}
	for _, b := range strings.Split(*qb, ",") {
		switch b = strings.TrimSpace(b); b {
		case "mysql", "clickhouse":
			c.QueryBackends = append(c.QueryBackends, b)
		case "":
		default:
			return c, fmt.Errorf("--query-backends: unknown backend %q (want mysql or clickhouse)", b)
		}
	}
	if c.QueryRows < 0 {
		return c, fmt.Errorf("--query-rows: %d is negative", c.QueryRows)
	}
	if c.MySQL == "" {
		c.MySQL = getenv("XHEP_TEST_DSN")
	}
	return c, nil
}

// runSuite runs the benchmark suite and prints its table.
func runSuite(args []string, stdout, stderr io.Writer) int {
	c, err := parseSuiteFlags(args, os.Getenv)
	if err != nil {
		var u errUsage
		if errors.As(err, &u) {
			fmt.Fprint(stdout, string(u))
			return 0
		}
		fmt.Fprintf(stderr, "xhep-bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt := bench.Options{Quick: c.Quick, Only: c.Only, MySQL: c.MySQL, WorkDir: c.Work, Log: stderr, Peers: c.Peers, Modes: c.Modes,
		QueryRows: c.QueryRows, QueryBackends: c.QueryBackends}
	if c.Quiet {
		opt.Log = nil
	}
	begin := time.Now()
	rep, err := bench.Run(ctx, opt)
	if rep == nil {
		fmt.Fprintf(stderr, "xhep-bench: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "xhep-bench: interrupted after %v: %v; printing what was measured\n", time.Since(begin).Round(time.Second), err)
	}
	if c.Out != "" {
		f, ferr := os.Create(c.Out)
		if ferr == nil {
			ferr = rep.WriteMarkdown(f)
			if cerr := f.Close(); ferr == nil {
				ferr = cerr
			}
		}
		if ferr != nil {
			fmt.Fprintf(stderr, "xhep-bench: --out: %v\n", ferr)
			return 1
		}
	}
	if c.JSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "xhep-bench: %v\n", err)
		return 1
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}
