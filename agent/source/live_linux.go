//go:build linux

package source

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bpf"
)

// ErrBadLiveConfig wraps every configuration error of OpenLive.
var ErrBadLiveConfig = errors.New("bad live capture configuration")

// OpenLive opens a live capture source on cfg.Ifaces. cfg.Mode selects
// it: "ringbuf" (the default) loads the BPF filter, attaches it with XDP on
// ingress and TC on egress of every interface and reads matching frames
// from one BPF ring buffer; "afxdp" redirects matching frames into AF_XDP
// sockets, one per rx queue (for SPAN/TAP ports; only ingress);
// "afpacket" reads a TPACKET_V3 ring with a classic BPF port filter, for
// kernels or hosts where eBPF is not allowed.
//
// Close detaches everything and makes a blocked Read return ErrClosed.
func OpenLive(cfg LiveConfig) (Source, error) {
	if len(cfg.Ifaces) == 0 {
		return nil, fmt.Errorf("%w: no interface", ErrBadLiveConfig)
	}
	switch cfg.Mode {
	case "", "ringbuf":
		return openRingbuf(cfg)
	case "afxdp":
		return openAFXDP(cfg)
	case "afpacket":
		return openAFPacket(cfg)
	}
	return nil, fmt.Errorf("%w: unknown mode %q (ringbuf, afxdp or afpacket)", ErrBadLiveConfig, cfg.Mode)
}

// filterConfig checks a LiveConfig's filter configuration and returns it
// with the defaults applied and the fields OpenLive sets cleared.
func filterConfig(cfg LiveConfig) (bpf.Config, error) {
	fc := cfg.Config
	if fc.Snaplen < 0 || fc.Snaplen > bpf.MaxSnaplen {
		return bpf.Config{}, fmt.Errorf("%w: snap length %d outside 64..%d", ErrBadLiveConfig, fc.Snaplen, bpf.MaxSnaplen)
	}
	fc.Rules = fc.Rules.WithDefaults()
	fc.AFXDP, fc.Queues, fc.WakeupBytes = false, 0, 0
	return fc, nil
}

func ifaceIndexes(names []string) ([]int, error) {
	out := make([]int, 0, len(names))
	for _, n := range names {
		ifc, err := net.InterfaceByName(n)
		if err != nil {
			return nil, fmt.Errorf("%w: interface %q: %w", ErrBadLiveConfig, n, err)
		}
		out = append(out, ifc.Index)
	}
	return out, nil
}

func xdpMode(s string) (bpf.XDPMode, error) {
	switch s {
	case "", "auto":
		return bpf.XDPAuto, nil
	case "native", "drv", "driver":
		return bpf.XDPNative, nil
	case "generic", "skb":
		return bpf.XDPGeneric, nil
	}
	return "", fmt.Errorf("%w: XDP mode %q (auto, native or generic)", ErrBadLiveConfig, s)
}

// monoClock converts CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) to
// Unix nanoseconds. The offset between the two clocks is measured at
// start and again whenever a converted time is more than a second past
// the last measurement, so a stepped wall clock is followed within a
// second. Not safe for concurrent use: the reading goroutine owns it.
// CLOCK_MONOTONIC stands still while the host is suspended, which moves
// the offset; the resync picks that up too (a capture host is not
// suspended: only frames captured before a suspend and read after it
// would be off).
type monoClock struct {
	offset   int64 // realtime - monotonic
	lastMono int64 // monotonic time of the last measurement
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // cannot fail for a valid clock id
	return ts.Nano()
}

// sync measures the offset, keeping the narrowest of three
// mono/real/mono sandwiches.
func (c *monoClock) sync() {
	best := int64(-1)
	for range 3 {
		m1 := monoNow()
		r := time.Now().UnixNano()
		m2 := monoNow()
		if w := m2 - m1; best < 0 || w < best {
			best = w
			c.offset = r - (m1+m2)/2
			c.lastMono = m2
		}
	}
}

func (c *monoClock) unix(mono uint64) int64 {
	if int64(mono)-c.lastMono > int64(time.Second) {
		c.sync()
	}
	return int64(mono) + c.offset
}

// LiveCollectors returns Prometheus collectors for a live source's kernel
// counters (BPF per-CPU counters summed, ring buffer, AF_XDP or AF_PACKET
// socket statistics). It returns nil for other sources.
func LiveCollectors(src Source) []prometheus.Collector {
	if s, ok := src.(interface{ collectors() []prometheus.Collector }); ok {
		return s.collectors()
	}
	return nil
}

var (
	descSeen     = prometheus.NewDesc("xhep_agent_bpf_seen_total", "Frames the BPF programs saw.", nil, nil)
	descMatched  = prometheus.NewDesc("xhep_agent_bpf_matched_total", "Frames the BPF filter matched, by class.", []string{"class"}, nil)
	descCaptured = prometheus.NewDesc("xhep_agent_bpf_captured_total", "Frames written to the ring buffer or redirected to AF_XDP.", nil, nil)
	descRingDrop = prometheus.NewDesc("xhep_agent_bpf_ringbuf_drops_total", "Matched frames lost because the BPF ring buffer was full.", nil, nil)
	descFragTrk  = prometheus.NewDesc("xhep_agent_bpf_fragments_tracked_total", "First fragments recorded so later fragments are captured.", nil, nil)
	descFlowTrk  = prometheus.NewDesc("xhep_agent_bpf_flows_tracked_total", "Flows matched by content and recorded in the flow map.", nil, nil)
	descParseErr = prometheus.NewDesc("xhep_agent_bpf_parse_errors_total", "Frames with truncated or malformed headers.", nil, nil)
	descExcluded = prometheus.NewDesc("xhep_agent_bpf_excluded_total", "Matched frames to or from the agent's own HEP destinations.", nil, nil)
	descFiltered = prometheus.NewDesc("xhep_agent_bpf_filtered_total", "Matched frames refused by the allow/deny prefixes.", nil, nil)
	descTrunc    = prometheus.NewDesc("xhep_agent_bpf_truncated_total", "Captured frames cut at the snap length.", nil, nil)
	descRedirErr = prometheus.NewDesc("xhep_agent_bpf_redirect_errors_total", "AF_XDP: matched frames with no socket on their queue.", nil, nil)
	descFragLim  = prometheus.NewDesc("xhep_agent_bpf_fragments_early_limited_total", "UDP fragments that arrived before their datagram's first fragment and were not captured: over the per-CPU budget.", nil, nil)
	descBadRec   = prometheus.NewDesc("xhep_agent_source_bad_records_total", "Malformed records read from the kernel and skipped.", nil, nil)
	descRingSize = prometheus.NewDesc("xhep_agent_ringbuf_size_bytes", "Size of the BPF ring buffer.", nil, nil)
	descRingPend = prometheus.NewDesc("xhep_agent_ringbuf_pending_bytes", "Bytes in the BPF ring buffer not yet read.", nil, nil)
	descSockDrop = prometheus.NewDesc("xhep_agent_socket_drops_total", "Frames the kernel dropped at the capture socket, by reason.", []string{"reason"}, nil)
	descSockPkts = prometheus.NewDesc("xhep_agent_socket_packets_total", "Frames the capture socket received.", nil, nil)
	descVariant  = prometheus.NewDesc("xhep_agent_bpf_variant_info",
		"What the BPF loader chose on this kernel (always 1): kernel release, record buffer (ringbuf or perf), copy method, XDP attach (native|generic / link|netlink), TC attach (tcx or clsact), legacy (5.4 feature set forced).",
		[]string{"kernel", "buffer", "copy", "xdp", "tc", "legacy"}, nil)
)

// bpfCollector exports the kernel counters of a source's filters.
type bpfCollector struct {
	counters func() (bpf.Counters, error)
	bad      func() uint64
	// ring, when set, reports the ring buffer's size and fill.
	ringSize    int
	ringPending func() int
	// variant, when its Kernel is set, is exported as xhep_agent_bpf_variant_info.
	variant bpf.Variant
	mu      sync.Mutex
}

func (c *bpfCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSeen, descMatched, descCaptured, descRingDrop, descFragTrk,
		descFlowTrk, descParseErr, descExcluded, descFiltered, descTrunc, descRedirErr, descFragLim, descBadRec} {
		ch <- d
	}
	if c.ringPending != nil {
		ch <- descRingSize
		ch <- descRingPend
	}
	if c.variant.Kernel != "" {
		ch <- descVariant
	}
}

func (c *bpfCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, err := c.counters()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSeen, err)
		return
	}
	cnt := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	cnt(descSeen, k.Seen)
	cnt(descMatched, k.SIP, "sip")
	cnt(descMatched, k.SIPContent, "sip_content")
	cnt(descMatched, k.RTCP, "rtcp")
	cnt(descMatched, k.DNS, "dns")
	cnt(descMatched, k.Flow, "flow")
	cnt(descMatched, k.Fragment, "fragment")
	cnt(descMatched, k.FragEarly, "fragment_early")
	cnt(descCaptured, k.Captured)
	cnt(descRingDrop, k.RingDrops)
	cnt(descFragTrk, k.FragTracked)
	cnt(descFlowTrk, k.FlowTracked)
	cnt(descParseErr, k.ParseErrors)
	cnt(descExcluded, k.Excluded)
	cnt(descFiltered, k.Filtered)
	cnt(descTrunc, k.Truncated)
	cnt(descRedirErr, k.RedirectErrors)
	cnt(descFragLim, k.FragEarlyLimited)
	cnt(descBadRec, c.bad())
	if c.ringPending != nil {
		ch <- prometheus.MustNewConstMetric(descRingSize, prometheus.GaugeValue, float64(c.ringSize))
		ch <- prometheus.MustNewConstMetric(descRingPend, prometheus.GaugeValue, float64(c.ringPending()))
	}
	if v := c.variant; v.Kernel != "" {
		legacy := "0"
		if v.Legacy {
			legacy = "1"
		}
		ch <- prometheus.MustNewConstMetric(descVariant, prometheus.GaugeValue, 1,
			v.Kernel, string(v.Buffer), v.Copy, v.XDP, v.TC, legacy)
	}
}
