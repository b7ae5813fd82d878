package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xhep/xhep/bpf"
)

// config is everything the command line and the YAML file can say.
type config struct {
	// input
	Read  string
	Speed float64
	Loop  int

	Ifaces        []string
	Mode          string
	XDPMode       string
	SIPPorts      string
	DNSPorts      string
	Snaplen       int
	RingSize      int64 // BPF ring buffer (ringbuf) or TPACKET ring per interface (afpacket); 0 = 64 MiB
	DropUnmatched bool
	BPFBuffer     string // ringbuf mode: auto, ringbuf or perf
	PerfSize      int64  // perf buffer bytes per CPU; 0 = 4 MiB
	BPFLegacy     bool   // force the Linux 5.4 feature set
	Allow         []netip.Prefix
	Deny          []netip.Prefix
	RTCP          bool
	SIPByContent  bool

	// reassembly bounds (zero: the decoder's default)
	WSPorts        string
	FragMax        int
	FragBytes      int64
	FragTimeout    time.Duration
	TCPMaxStreams  int
	TCPStreamBytes int64
	TCPTotalBytes  int64
	TCPIdle        time.Duration
	TCPGapTimeout  time.Duration

	// filters
	DropMethods []string
	DropIPs     []netip.Prefix
	DropPayload []string

	// HEP
	NodeID       uint32
	NodeName     string
	AuthKey      string
	AuthKeyFile  string // --auth-key-file; else $XHEP_AUTH_KEY when --auth-key is empty
	CompressOver int

	// delivery
	Collectors   []string
	SendMode     string
	Queue        int
	SpoolDir     string
	SpoolMax     int64
	TLSCA        string
	TLSInsecure  bool
	DrainTimeout time.Duration
	NoAck        bool
	AckTimeout   time.Duration

	CorrelateMax int
	CorrelateTTL time.Duration

	RTPStats          bool
	RTPReportInterval time.Duration
	RTPIdle           time.Duration
	RTPMaxStreams     int
	RTPMaxEndpoints   int
	RTPJitterBuffer   int

	Metrics  string
	LogLevel string
	Config   string
}

// errHelp is returned for -h/--help: usage was printed, exit 0.
var errHelp = flag.ErrHelp

// listFlag is a repeatable flag whose values may also be comma-separated.
// Values from the config file are replaced, not extended, by the first
// value given on the command line.
type listFlag struct {
	vals       *[]string
	fromConfig bool
}

func (l *listFlag) String() string {
	if l == nil || l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l *listFlag) Set(s string) error {
	if l.fromConfig {
		*l.vals, l.fromConfig = nil, false
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.vals = append(*l.vals, v)
		}
	}
	return nil
}

// bytesFlag parses sizes like 1073741824, 512M, 1G (powers of 1024).
type bytesFlag struct{ v *int64 }

func (b bytesFlag) String() string {
	if b.v == nil {
		return "0"
	}
	return strconv.FormatInt(*b.v, 10)
}

func (b bytesFlag) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b.v = n
	return nil
}

func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] | 0x20 {
		case 'k':
			mult, s = 1<<10, s[:n-1]
		case 'm':
			mult, s = 1<<20, s[:n-1]
		case 'g':
			mult, s = 1<<30, s[:n-1]
		case 't':
			mult, s = 1<<40, s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want bytes, or a number with K, M, G or T", s)
	}
	return n * mult, nil
}

// newFlagSet defines the flags on c. finish converts what needs the whole
// command line (address lists) once parsing is done.
func newFlagSet(c *config, lists map[string]*listFlag, out io.Writer) (fs *flag.FlagSet, finish func() error) {
	fs = flag.NewFlagSet("xhep-agent", flag.ContinueOnError)
	fs.SetOutput(out)
	list := func(name string, dst *[]string, usage string) {
		l := &listFlag{vals: dst}
		lists[name] = l
		fs.Var(l, name, usage)
	}
	fs.StringVar(&c.Read, "read", "", "read frames from a pcap or pcapng `FILE` instead of capturing live")
	fs.Float64Var(&c.Speed, "speed", 0, "with --read: replay at capture-time pace times `N` (1 = real time); 0 = as fast as possible")
	fs.IntVar(&c.Loop, "loop", 1, "with --read: read the file `N` times (timestamps shifted forward each pass)")

	list("iface", &c.Ifaces, "capture on interface `IF` (repeatable)")
	fs.StringVar(&c.Mode, "mode", "ringbuf", "live capture: `ringbuf` (XDP+TC into a BPF ring buffer), afxdp or afpacket")
	fs.StringVar(&c.XDPMode, "xdp-mode", "auto", "XDP attach mode: `auto`, native or generic")
	fs.StringVar(&c.SIPPorts, "sip-ports", bpf.DefaultSIPPorts, "SIP port `LIST` (ranges allowed, e.g. 5060-5090,5260)")
	fs.StringVar(&c.DNSPorts, "dns-ports", bpf.DefaultDNSPorts, "DNS port `LIST`")
	fs.IntVar(&c.Snaplen, "snaplen", 9216, "live capture: bytes copied per frame")
	fs.Var(bytesFlag{&c.RingSize}, "ring-size", "live capture: kernel ring `BYTES`, a power of two (default 64M; ringbuf: about 0.45 s of 200,000 600-byte frames/s; kernel memory, counted twice in the agent's RSS because the ring is mapped twice)")
	fs.StringVar(&c.BPFBuffer, "bpf-buffer", "auto", "ringbuf mode: record buffer `auto` (BPF ring buffer on Linux 5.8+, else perf event array), ringbuf or perf")
	fs.Var(bytesFlag{&c.PerfSize}, "perf-buffer-size", "perf buffer: `BYTES` per CPU, a power of two (default 4M)")
	fs.BoolVar(&c.BPFLegacy, "bpf-legacy", false, "force the Linux 5.4 BPF feature set: perf buffer, netlink XDP attach, clsact (as XHEP_BPF_LEGACY=1)")
	fs.BoolVar(&c.DropUnmatched, "drop-unmatched", false, "afxdp: drop frames that do not match instead of passing them to the kernel")
	var allow, deny, dropIPs []string
	list("allow", &allow, "capture only traffic with an address in `CIDR` (repeatable)")
	list("deny", &deny, "never capture traffic with an address in `CIDR` (repeatable)")
	fs.BoolVar(&c.RTCP, "rtcp", true, "recognise RTCP on any UDP port")
	fs.BoolVar(&c.SIPByContent, "sip-by-content", true, "recognise SIP by its first line on any port")

	fs.StringVar(&c.WSPorts, "ws-ports", "", "TCP port `LIST` carrying SIP over WebSocket, followed even when the HTTP upgrade was not captured")
	fs.IntVar(&c.FragMax, "frag-max", 0, "IP datagrams in reassembly at once, `N` (default 1024)")
	fs.Var(bytesFlag{&c.FragBytes}, "frag-bytes", "memory for IP fragments, `BYTES` (default 16M)")
	fs.DurationVar(&c.FragTimeout, "frag-timeout", 0, "drop an incomplete IP datagram after `DURATION` (default 30s)")
	fs.IntVar(&c.TCPMaxStreams, "tcp-max-streams", 0, "TCP stream directions followed at once, `N` (default 65536)")
	fs.Var(bytesFlag{&c.TCPStreamBytes}, "tcp-stream-bytes", "buffer per TCP stream direction, `BYTES` (default 256K)")
	fs.Var(bytesFlag{&c.TCPTotalBytes}, "tcp-total-bytes", "buffer for all TCP streams together, `BYTES` (default 256M)")
	fs.DurationVar(&c.TCPIdle, "tcp-idle", 0, "flush a TCP stream direction idle for `DURATION` (default 5m)")
	fs.DurationVar(&c.TCPGapTimeout, "tcp-gap-timeout", 0, "skip a hole in a TCP stream still open after `DURATION` and resync (default 2s)")

	var methods, payloads []string
	list("drop-method", &methods, "drop SIP messages with this `METHOD` (request or CSeq method; repeatable)")
	list("drop-ip", &dropIPs, "drop messages from or to `CIDR` (repeatable)")
	list("drop-payload", &payloads, "drop messages whose payload contains `TEXT` (repeatable)")

	fs.Func("node-id", "HEP capture agent id (chunk 0x0c), `N`", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("node id %q: want 0..4294967295", s)
		}
		c.NodeID = uint32(n)
		return nil
	})
	fs.StringVar(&c.NodeName, "node-name", "", "HEP node `NAME` (chunk 0x13)")
	fs.StringVar(&c.AuthKey, "auth-key", "", "HEP auth `KEY` (chunk 0x0e)")
	fs.StringVar(&c.AuthKeyFile, "auth-key-file", "", "read --auth-key from this `FILE` (or set $XHEP_AUTH_KEY), not the command line")
	fs.IntVar(&c.CompressOver, "compress-over", 0, "send payloads over `BYTES` zlib-compressed (chunk 0x10); 0 = never")

	list("collector", &c.Collectors, "send HEP to `URL` udp://, tcp:// or tls://HOST:PORT (repeatable)")
	fs.StringVar(&c.SendMode, "send-mode", "all", "with several collectors: `all`, failover or hash (by Call-ID)")
	fs.IntVar(&c.Queue, "queue", 65536, "memory queue per collector, in `messages`")
	fs.StringVar(&c.SpoolDir, "spool-dir", "", "spool messages to this `DIR` while a collector is away (empty: no spool)")
	c.SpoolMax = 1 << 30
	fs.Var(bytesFlag{&c.SpoolMax}, "spool-max", "spool size bound, `BYTES` (K, M, G suffixes)")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "PEM `FILE` of the CAs of tls:// collectors (default: system roots)")
	fs.BoolVar(&c.TLSInsecure, "tls-insecure", false, "do not verify tls:// collectors' certificates")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "at exit, how long to keep delivering (and waiting for acks) before spooling the rest; --read exits 1 when anything is left")
	fs.BoolVar(&c.NoAck, "no-ack", false, "tcp/tls: plain HEP, no sequence chunks and no waiting for acknowledgements")
	fs.DurationVar(&c.AckTimeout, "ack-timeout", 0, "tcp/tls: a collector silent this long after the first message is taken for one that never acknowledges; plain HEP then (default 3s)")

	fs.IntVar(&c.CorrelateMax, "correlate-max", 65536, "media endpoints tracked for RTCP correlation")
	fs.DurationVar(&c.CorrelateTTL, "correlate-ttl", 10*time.Minute, "life of a media endpoint without SDP or RTCP")

	fs.BoolVar(&c.RTPStats, "rtp-stats", false, "measure the RTP of SDP-announced media (in the kernel when live in ringbuf mode) and send HEP type 34 quality reports")
	fs.DurationVar(&c.RTPReportInterval, "rtp-report-interval", 5*time.Second, "--rtp-stats: a report per stream every `DURATION`")
	fs.DurationVar(&c.RTPIdle, "rtp-idle", 15*time.Second, "--rtp-stats: a stream without packets this long gets its final report")
	fs.IntVar(&c.RTPMaxStreams, "rtp-max-streams", 16384, "--rtp-stats: RTP streams tracked at once, `N` (kernel LRU table and userspace)")
	fs.IntVar(&c.RTPMaxEndpoints, "rtp-max-endpoints", 65536, "--rtp-stats: SDP media endpoints tracked, `N`")
	fs.IntVar(&c.RTPJitterBuffer, "rtp-jitter-buffer", 60, "--rtp-stats: fixed jitter buffer of the MOS estimate, `MS` (late packets count as lost)")

	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (e.g. :9096) at /metrics")
	fs.StringVar(&c.LogLevel, "log-level", "info", "`LEVEL`: debug, info, warn or error")
	fs.StringVar(&c.Config, "config", "", "read flags from a YAML `FILE` (keys are flag names; command-line flags win)")

	fs.Usage = func() {
		fmt.Fprintf(out, "Usage:\n  xhep-agent --read FILE --collector udp://HOST:PORT [flags]\n  xhep-agent --iface IF [--mode ringbuf|afxdp|afpacket] --collector SCHEME://HOST:PORT [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	finish = func() error {
		var err error
		if c.Allow, err = prefixes("allow", allow); err != nil {
			return err
		}
		if c.Deny, err = prefixes("deny", deny); err != nil {
			return err
		}
		if c.DropIPs, err = prefixes("drop-ip", dropIPs); err != nil {
			return err
		}
		c.DropMethods, c.DropPayload = methods, payloads
		return nil
	}
	return fs, finish
}

// prefixes parses CIDRs; a bare address is a /32 or /128.
func prefixes(flagName string, in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range in {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: want an address or CIDR", flagName, s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// parseFlags parses the command line (without the program name), reading
// --config first if given, so that command-line flags override the file.
// It does no I/O beyond reading the config file and writing usage to out on
// a flag error or -h.
func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	lists := map[string]*listFlag{}
	fs, finish := newFlagSet(&c, lists, out)

	// Find --config without interpreting anything else yet.
	cfgPath := ""
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			cfgPath = val
		} else if i+1 < len(args) {
			cfgPath = args[i+1]
		}
	}
	if cfgPath != "" {
		if err := loadYAML(fs, lists, cfgPath); err != nil {
			return config{}, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if err := finish(); err != nil {
		return config{}, err
	}
	switch {
	case c.AuthKeyFile != "" && c.AuthKey != "":
		return config{}, errors.New("--auth-key and --auth-key-file both given")
	case c.AuthKeyFile != "":
		b, err := os.ReadFile(c.AuthKeyFile)
		if err != nil {
			return config{}, fmt.Errorf("--auth-key-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if c.AuthKey = strings.TrimSpace(line); c.AuthKey == "" {
			return config{}, fmt.Errorf("--auth-key-file: %s is empty", c.AuthKeyFile)
		}
	case c.AuthKey == "":
		c.AuthKey = os.Getenv("XHEP_AUTH_KEY")
	}
	if err := c.validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

// loadYAML sets flags from a YAML mapping of flag names to values; lists
// may be YAML sequences.
func loadYAML(fs *flag.FlagSet, lists map[string]*listFlag, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("parse config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "config" {
			continue
		}
		f := fs.Lookup(k)
		if f == nil {
			return fmt.Errorf("config file %s: unknown key %q (keys are flag names)", path, k)
		}
		var vals []string
		switch v := m[k].(type) {
		case []any:
			for _, e := range v {
				vals = append(vals, fmt.Sprint(e))
			}
		case nil:
			continue
		default:
			vals = []string{fmt.Sprint(v)}
		}
		if l, ok := lists[k]; ok {
			*l.vals = nil
		} else if len(vals) != 1 {
			return fmt.Errorf("config file %s: %q takes one value", path, k)
		}
		for _, v := range vals {
			if err := fs.Set(k, v); err != nil {
				return fmt.Errorf("config file %s: %s: %w", path, k, err)
			}
		}
		if l, ok := lists[k]; ok {
			l.fromConfig = true
		}
	}
	return nil
}

func (c *config) validate() error {
	switch {
	case c.Read == "" && len(c.Ifaces) == 0:
		return errors.New("nothing to capture: give --read FILE or --iface IF")
	case c.Read != "" && len(c.Ifaces) > 0:
		return errors.New("--read and --iface exclude each other")
	case len(c.Collectors) == 0:
		return errors.New("no --collector given")
	case c.Speed < 0:
		return fmt.Errorf("--speed %v: want 0 (as fast as possible) or a positive factor", c.Speed)
	case c.Loop < 1:
		return fmt.Errorf("--loop %d: want 1 or more", c.Loop)
	case c.Queue < 1:
		return fmt.Errorf("--queue %d: want 1 or more", c.Queue)
	case c.CompressOver < 0:
		return fmt.Errorf("--compress-over %d: want 0 or more", c.CompressOver)
	case c.CorrelateMax < 1:
		return fmt.Errorf("--correlate-max %d: want 1 or more", c.CorrelateMax)
	}
	switch c.Mode {
	case "ringbuf", "afxdp", "afpacket":
	default:
		return fmt.Errorf("--mode %q: want ringbuf, afxdp or afpacket", c.Mode)
	}
	switch c.BPFBuffer {
	case "auto", "ringbuf", "perf":
	default:
		return fmt.Errorf("--bpf-buffer %q: want auto, ringbuf or perf", c.BPFBuffer)
	}
	switch c.XDPMode {
	case "auto", "native", "generic":
	default:
		return fmt.Errorf("--xdp-mode %q: want auto, native or generic", c.XDPMode)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}
