package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/bpf"
	"github.com/xhep/xhep/cmd/internal/cli"
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

// flagValues is what the flags bind to: the config, and the address
// lists converted once the whole command line is known.
type flagValues struct {
	config
	allow, deny, dropIPs []string
}

// defineFlags declares every flag on fs, bound to w; usage and flag errors
// go to out. The returned finish converts the address lists.
func defineFlags(fs *cli.FlagSet, w *flagValues, out io.Writer) (finish func() error) {
	c := &w.config
	fs.SetOutput(out)
	list := func(name string, dst *[]string, usage string) { fs.List(dst, name, usage, true) }
	fs.StringVar(&c.Read, "read", "", "read frames from a pcap or pcapng `FILE` instead of capturing live")
	fs.Float64Var(&c.Speed, "speed", 0, "with --read: replay at capture-time pace times `N` (1 = real time); 0 = as fast as possible")
	fs.IntVar(&c.Loop, "loop", 1, "with --read: read the file `N` times (timestamps shifted forward each pass)")

	list("iface", &c.Ifaces, "capture on interface `IF` (repeatable)")
	fs.StringVar(&c.Mode, "mode", "ringbuf", "live capture: `ringbuf` (XDP+TC into a BPF ring buffer), afxdp or afpacket")
	fs.StringVar(&c.XDPMode, "xdp-mode", "auto", "XDP attach mode: `auto`, native or generic")
	fs.StringVar(&c.SIPPorts, "sip-ports", bpf.DefaultSIPPorts, "SIP port `LIST` (ranges allowed, e.g. 5060-5090,5260)")
	fs.StringVar(&c.DNSPorts, "dns-ports", bpf.DefaultDNSPorts, "DNS port `LIST`")
	fs.IntVar(&c.Snaplen, "snaplen", 9216, "live capture: bytes copied per frame")
	fs.Size(&c.RingSize, "ring-size", "live capture: kernel ring `BYTES`, a power of two (default 64M; ringbuf: about 0.45 s of 200,000 600-byte frames/s; kernel memory, counted twice in the agent's RSS because the ring is mapped twice)")
	fs.StringVar(&c.BPFBuffer, "bpf-buffer", "auto", "ringbuf mode: record buffer `auto` (BPF ring buffer on Linux 5.8+, else perf event array), ringbuf or perf")
	fs.Size(&c.PerfSize, "perf-buffer-size", "perf buffer: `BYTES` per CPU, a power of two (default 4M)")
	fs.BoolVar(&c.BPFLegacy, "bpf-legacy", false, "force the Linux 5.4 BPF feature set: perf buffer, netlink XDP attach, clsact (as XHEP_BPF_LEGACY=1)")
	fs.BoolVar(&c.DropUnmatched, "drop-unmatched", false, "afxdp: drop frames that do not match instead of passing them to the kernel")
	list("allow", &w.allow, "capture only traffic with an address in `CIDR` (repeatable)")
	list("deny", &w.deny, "never capture traffic with an address in `CIDR` (repeatable)")
	fs.BoolVar(&c.RTCP, "rtcp", true, "recognise RTCP on any UDP port")
	fs.BoolVar(&c.SIPByContent, "sip-by-content", true, "recognise SIP by its first line on any port")

	fs.StringVar(&c.WSPorts, "ws-ports", "", "TCP port `LIST` carrying SIP over WebSocket, followed even when the HTTP upgrade was not captured")
	fs.IntVar(&c.FragMax, "frag-max", 0, "IP datagrams in reassembly at once, `N` (default 1024)")
	fs.Size(&c.FragBytes, "frag-bytes", "memory for IP fragments, `BYTES` (default 16M)")
	fs.DurationVar(&c.FragTimeout, "frag-timeout", 0, "drop an incomplete IP datagram after `DURATION` (default 30s)")
	fs.IntVar(&c.TCPMaxStreams, "tcp-max-streams", 0, "TCP stream directions followed at once, `N` (default 65536)")
	fs.Size(&c.TCPStreamBytes, "tcp-stream-bytes", "buffer per TCP stream direction, `BYTES` (default 256K)")
	fs.Size(&c.TCPTotalBytes, "tcp-total-bytes", "buffer for all TCP streams together, `BYTES` (default 256M)")
	fs.DurationVar(&c.TCPIdle, "tcp-idle", 0, "flush a TCP stream direction idle for `DURATION` (default 5m)")
	fs.DurationVar(&c.TCPGapTimeout, "tcp-gap-timeout", 0, "skip a hole in a TCP stream still open after `DURATION` and resync (default 2s)")

	list("drop-method", &c.DropMethods, "drop SIP messages with this `METHOD` (request or CSeq method; repeatable)")
	list("drop-ip", &w.dropIPs, "drop messages from or to `CIDR` (repeatable)")
	list("drop-payload", &c.DropPayload, "drop messages whose payload contains `TEXT` (repeatable)")

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
	fs.Size(&c.SpoolMax, "spool-max", "spool size bound, `BYTES` (K, M, G, T or KiB, MiB, GiB, TiB suffixes)")
	fs.StringVar(&c.TLSCA, "tls-ca", "", "PEM `FILE` of the CAs of tls:// collectors (default: system roots)")
	fs.BoolVar(&c.TLSInsecure, "tls-insecure", false, "do not verify tls:// collectors' certificates")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "at exit, how long to keep delivering (and waiting for acks) before spooling the rest; --read exits 1 when anything is left")
	fs.BoolVar(&c.NoAck, "no-ack", false, "tcp/tls: plain HEP, no sequence chunks and no waiting for acknowledgements")
	fs.DurationVar(&c.AckTimeout, "ack-timeout", 0, "tcp/tls: a collector silent this long after the first message is taken for one that never acknowledges; plain HEP then (default 3s)")

	fs.IntVar(&c.CorrelateMax, "correlate-max", 65536, "media endpoints tracked for RTCP correlation")
	fs.DurationVar(&c.CorrelateTTL, "correlate-ttl", 10*time.Minute, "life of a media endpoint without SDP or RTCP")

	fs.BoolVar(&c.RTPStats, "rtp-stats", false, "measure the RTP of SDP-announced media (in the kernel when live in ringbuf or afxdp mode) and send HEP type 34 quality reports")
	md := media.DefaultConfig() // the tracker's defaults are the flags' defaults
	fs.DurationVar(&c.RTPReportInterval, "rtp-report-interval", md.Interval, "--rtp-stats: a report per stream every `DURATION`")
	fs.DurationVar(&c.RTPIdle, "rtp-idle", md.Idle, "--rtp-stats: a stream without packets this long gets its final report")
	fs.IntVar(&c.RTPMaxStreams, "rtp-max-streams", md.MaxStreams, "--rtp-stats: RTP streams tracked at once, `N` (kernel LRU table and userspace)")
	fs.IntVar(&c.RTPMaxEndpoints, "rtp-max-endpoints", md.MaxEndpoints, "--rtp-stats: SDP media endpoints tracked, `N`")
	fs.IntVar(&c.RTPJitterBuffer, "rtp-jitter-buffer", int(md.Model.JitterBuffer), "--rtp-stats: fixed jitter buffer of the MOS estimate, `MS` (late packets count as lost)")

	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (e.g. :9096) at /metrics")
	fs.StringVar(&c.LogLevel, "log-level", "info", "`LEVEL`: debug, info, warn or error")
	fs.StringVar(&c.Config, "config", "", "read flags from a YAML `FILE` (keys are flag names; command-line flags win)")

	fs.Usage = func() {
		fmt.Fprintf(out, "Usage:\n  xhep-agent --read FILE --collector udp://HOST:PORT [flags]\n  xhep-agent --iface IF [--mode ringbuf|afxdp|afpacket] --collector SCHEME://HOST:PORT [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return func() error {
		var err error
		if c.Allow, err = prefixes("allow", w.allow); err != nil {
			return err
		}
		if c.Deny, err = prefixes("deny", w.deny); err != nil {
			return err
		}
		c.DropIPs, err = prefixes("drop-ip", w.dropIPs)
		return err
	}
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

// parseFlags parses the command line (without the program name), the
// --config file first (cli.Parse), so that command-line flags override
// the file. It does no I/O beyond reading the config and auth key files
// and writing usage to out on a flag error or -h.
func parseFlags(args []string, out io.Writer) (config, error) {
	w, err := cli.Parse("xhep-agent", args, func(fs *cli.FlagSet, w *flagValues) func() error {
		return defineFlags(fs, w, out)
	})
	if err != nil {
		return config{}, err
	}
	c := w.config
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
