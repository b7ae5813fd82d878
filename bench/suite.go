package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Sections are the suite's parts, in the order they run.
var Sections = []string{"micro", "agent", "live", "mixed", "rtp", "collector", "e2e", "storage"}

// Options configures Run.
type Options struct {
	Quick bool     // the whole suite in under two minutes (CI smoke run)
	Only  []string // sections to run (nil: all of Sections)
	// MySQL is the go-sql-driver DSN of a MariaDB/MySQL server the suite may
	// create and drop its own database on; empty skips the database figures.
	MySQL string
	// WorkDir holds generated captures (default: a directory under
	// os.TempDir, kept between runs so captures are generated once).
	WorkDir string
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// Modes are the agent's live capture modes the live, mixed and rtp
	// sections run (nil: ringbuf, afxdp and afpacket; --quick: ringbuf).
	Modes []string
	// Peers are other capture agents run side by side with xhep in the
	// live, mixed and replay steps (never fetched or built by the suite).
	Peers []Peer
	// QueryRows, when set (not with Quick), makes the storage section fill
	// each of QueryBackends (nil: mysql and clickhouse) to this many SIP
	// rows and measure the API's queries at that scale instead of the
	// side-by-side write run (storage_scale.go).
	QueryRows     int
	QueryBackends []string
}

// ErrSection is returned for an unknown section name.
var ErrSection = errors.New("unknown section")

// CheckSections validates section names.
func CheckSections(names []string) error {
	for _, n := range names {
		if !slices.Contains(Sections, n) {
			return fmt.Errorf("%w %q (want some of %v)", ErrSection, n, Sections)
		}
	}
	return nil
}

// suite is one run's state.
type suite struct {
	opt     Options
	ctx     context.Context
	results []Result
	tables  []Table
	log     io.Writer
}

func (s *suite) add(r Result) {
	s.results = append(s.results, r)
	if r.Skipped != "" {
		s.logf("  %s: skipped: %s", r.Name, r.Skipped)
	} else {
		s.logf("  %s: %s", r.Name, FormatValue(r.Value, r.Unit))
	}
}

func (s *suite) addTable(t Table) {
	s.tables = append(s.tables, t)
	var b strings.Builder
	writeTable(&b, t)
	s.logf("%s", b.String())
}

func (s *suite) skip(section, name, reason string) {
	s.add(Result{Section: section, Name: name, Skipped: reason})
}

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.log, format+"\n", args...)
}

// dur picks the quick or the full duration.
func (s *suite) dur(quick, full time.Duration) time.Duration {
	if s.opt.Quick {
		return quick
	}
	return full
}

// pick picks the quick or the full count.
func (s *suite) pick(quick, full int) int {
	if s.opt.Quick {
		return quick
	}
	return full
}

// Run runs the selected sections and returns the report. The suite
// reports what it measures; it does not judge timings. A part that cannot
// run here (no root, no BPF, no database) is reported as skipped with the
// reason. ctx cancels the run (the report then holds what was measured).
func Run(ctx context.Context, opt Options) (*Report, error) {
	only := opt.Only
	if len(only) == 0 {
		only = Sections
	}
	if err := CheckSections(only); err != nil {
		return nil, err
	}
	if opt.WorkDir == "" {
		opt.WorkDir = filepath.Join(os.TempDir(), "xhep-bench")
	}
	if err := os.MkdirAll(opt.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	for i := range opt.Peers {
		if _, err := os.Stat(opt.Peers[i].Path); err != nil {
			return nil, fmt.Errorf("peer %s: %w", opt.Peers[i].Name, err)
		}
		opt.Peers[i].Version = peerVersion(opt.Peers[i])
	}
	s := &suite{opt: opt, ctx: ctx, log: log}
	rep := &Report{Date: time.Now().UTC(), Quick: opt.Quick, Machine: probeMachine()}
	setBenchTime(s.dur(150*time.Millisecond, time.Second))
	begin := time.Now()
	for _, sec := range Sections {
		if !slices.Contains(only, sec) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		rep.Sections = append(rep.Sections, reportSection(sec))
		s.logf("== %s", sec)
		t0 := time.Now()
		switch sec {
		case "micro":
			s.micro()
		case "agent":
			s.agentReplay()
		case "live":
			s.live()
		case "mixed":
			s.mixed()
		case "rtp":
			s.rtpLive() // rtp_linux.go
		case "collector":
			s.collector()
		case "e2e":
			s.e2e()
		case "storage":
			s.storage() // storage.go
		}
		s.logf("   (%s took %v)", sec, time.Since(t0).Round(100*time.Millisecond))
	}
	rep.Sections = slices.Compact(rep.Sections)
	rep.Elapsed = time.Since(begin)
	rep.Machine.LoadEnd = loadAvg()
	rep.Results = s.results
	rep.Tables = s.tables
	rep.Peers = opt.Peers
	return rep, ctx.Err()
}

// reportSection maps a suite section to the report table it goes in: the
// live capture figures belong to the agent's table.
func reportSection(sec string) string {
	if sec == "live" {
		return "agent"
	}
	return sec
}

// setBenchTime sets testing.Benchmark's run time per benchmark.
func setBenchTime(d time.Duration) {
	if flag.Lookup("test.benchtime") == nil {
		testing.Init()
	}
	flag.Set("test.benchtime", d.String())
}
