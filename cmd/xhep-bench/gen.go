package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xhep/xhep/bench/gen"
)

// parseGenFlags turns `xhep-bench gen` arguments into a generator config
// and the output file name. Defaults are gen.DefaultConfig's.
func parseGenFlags(args []string) (gen.Config, string, error) {
	cfg := gen.DefaultConfig()
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "", "pcap file to write (required; - for stdout)")
	fs.IntVar(&cfg.Calls, "calls", cfg.Calls, "INVITE dialogs")
	fs.IntVar(&cfg.Registrations, "registrations", cfg.Registrations, "REGISTER exchanges (401 challenge, then 200)")
	fs.IntVar(&cfg.Options, "options", cfg.Options, "OPTIONS keep-alives")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed and flags give the same bytes")
	fs.BoolVar(&cfg.IPv6, "ipv6", false, "IPv6 hosts (fd00::/8) instead of 10.0.0.0/8")
	fs.BoolVar(&cfg.TCP, "tcp", false, "SIP over TCP")
	vlan := fs.String("vlan", "", "802.1Q tag ID, or OUTER,INNER for QinQ")
	fs.IntVar(&cfg.FragmentMTU, "fragment", 0, "fragment UDP datagrams larger than this IP MTU (0: never)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "packets per second of capture time (timestamp spacing)")
	start := fs.String("start", cfg.Start.Format(time.RFC3339), "time of the first packet (RFC 3339)")
	fs.IntVar(&cfg.RTP, "rtp", 0, "RTP packets each side sends before each RTCP exchange (0: no RTP)")
	noRTCP := fs.Bool("no-rtcp", false, "no RTCP")
	noDNS := fs.Bool("no-dns", false, "no DNS lookups")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, "", genUsage(fs)
		}
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return cfg, "", errors.New("--out FILE is required")
	}
	if *vlan != "" {
		for _, f := range strings.Split(*vlan, ",") {
			id, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
			if err != nil {
				return cfg, "", fmt.Errorf("--vlan %q: %w", *vlan, err)
			}
			cfg.VLAN = append(cfg.VLAN, uint16(id))
		}
	}
	t, err := time.Parse(time.RFC3339Nano, *start)
	if err != nil {
		return cfg, "", fmt.Errorf("--start: %w", err)
	}
	cfg.Start = t.UTC()
	cfg.RTCP, cfg.DNS = !*noRTCP, !*noDNS
	cfg.CountsOnly = true // the summary needs only the counts
	if err := cfg.Validate(); err != nil {
		return cfg, "", err
	}
	return cfg, *out, nil
}

// errUsage carries the flag list for --help.
type errUsage string

func (e errUsage) Error() string { return string(e) }

func genUsage(fs *flag.FlagSet) error {
	var b strings.Builder
	b.WriteString("usage: xhep-bench gen --out FILE.pcap [flags]\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return errUsage(b.String())
}

func runGen(args []string, stdout, stderr io.Writer) int {
	cfg, out, err := parseGenFlags(args)
	var u errUsage
	if errors.As(err, &u) {
		fmt.Fprint(stdout, u)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "xhep-bench gen: %v\n", err)
		return 2
	}
	w := io.Writer(stdout)
	var f *os.File
	if out != "-" {
		if f, err = os.Create(out); err != nil {
			fmt.Fprintf(stderr, "xhep-bench gen: %v\n", err)
			return 1
		}
		w = f
	}
	began := time.Now()
	tr, err := gen.WritePcap(w, cfg)
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", out, cerr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "xhep-bench gen: %v\n", err)
		return 1
	}
	summary := stdout
	if out == "-" {
		summary = stderr
	}
	printSummary(summary, out, cfg, tr.Stats, time.Since(began))
	return 0
}

func printSummary(w io.Writer, out string, cfg gen.Config, s gen.Stats, took time.Duration) {
	mode := "udp"
	if cfg.TCP {
		mode = "tcp"
	}
	if cfg.IPv6 {
		mode += ", ipv6"
	}
	if len(cfg.VLAN) > 0 {
		mode += fmt.Sprintf(", vlan %v", cfg.VLAN)
	}
	if cfg.FragmentMTU > 0 {
		mode += fmt.Sprintf(", mtu %d", cfg.FragmentMTU)
	}
	capture := time.Duration(float64(s.Frames) / cfg.Rate * float64(time.Second))
	fmt.Fprintf(w, "wrote %s: %d frames (%s, seed %d) in %v, %.1fs of capture time\n",
		out, s.Frames, mode, cfg.Seed, took.Round(time.Millisecond), capture.Seconds())
	fmt.Fprintf(w, "  scenarios     %d calls, %d registrations, %d OPTIONS\n", s.Calls, s.Registrations, s.Options)
	fmt.Fprintf(w, "  SIP messages  %d (%d requests, %d responses; %d INVITE, %d REGISTER)\n",
		s.SIPMessages, s.SIPRequests, s.SIPResponses, s.Invites, s.Registers)
	fmt.Fprintf(w, "  RTCP          %d compound packets\n", s.RTCP)
	fmt.Fprintf(w, "  RTP           %d packets\n", s.RTP)
	fmt.Fprintf(w, "  DNS           %d messages (%d queries)\n", s.DNS, s.DNSQueries)
	fmt.Fprintf(w, "  IP fragments  %d\n", s.Fragments)
	fmt.Fprintf(w, "  TCP           %d segments in %d connections\n", s.TCPSegments, s.TCPConnections)
}
