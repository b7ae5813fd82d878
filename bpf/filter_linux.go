//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Errors callers test for.
var (
	// ErrUnsupported: the kernel lacks a feature the programs need.
	ErrUnsupported = errors.New("kernel lacks BPF support xhep needs")
	// ErrXDPBusy: another XDP program is already attached to the interface.
	ErrXDPBusy = errors.New("a foreign XDP program is already attached")
	// ErrClosed: the filter was closed.
	ErrClosed = errors.New("bpf filter closed")
)

// XDPMode selects how the XDP program is attached.
type XDPMode string

// XDP attach modes.
const (
	XDPAuto    XDPMode = "auto"    // native (driver) mode where the driver has it, else generic
	XDPNative  XDPMode = "native"  // driver mode only
	XDPGeneric XDPMode = "generic" // generic (skb) mode
)

// Config configures [Load]. Zero fields take the defaults noted beside
// them: the zero Config matches SIP on 5060-5061 and DNS on 53 only.
type Config struct {
	SIPPorts     []PortRange // default 5060-5061
	DNSPorts     []PortRange // default 53
	SIPByContent bool        // match SIP request/status lines on any TCP/UDP port
	RTCP         bool        // match RTCP by heuristics on any UDP port

	Snaplen   int // bytes copied per frame, 1..MaxSnaplen; default MaxSnaplen
	RingBytes int // ring buffer size, a power of two and multiple of the page size; default 64 MiB

	AFXDP         bool // redirect matching frames into AF_XDP sockets instead of the ring
	Queues        int  // AF_XDP: size of the socket map (highest queue id + 1); default 64
	DropUnmatched bool // AF_XDP: drop frames that do not match instead of passing them

	Allow   []netip.Prefix   // when set, only traffic with an address in one of these
	Deny    []netip.Prefix   // never traffic with an address in one of these
	Exclude []netip.AddrPort // never traffic to or from these (the agent's own HEP output)

	VXLANPort uint16 // UDP port decapsulated as VXLAN; default 4789

	// WakeupBytes: the programs wake the ring buffer reader only about
	// once per this many bytes written (each CPU once it has written
	// WakeupBytes divided by the number of online CPUs since its last
	// wakeup), so a busy reader is not woken per frame; the reader must
	// then also poll on a timer (a deadline). 0 leaves it to the kernel, which wakes the reader for
	// every record written while it had caught up.
	WakeupBytes int

	// slowPathOnly sends every frame through the full parser, skipping
	// the fast path for common frames (tests compare the two).
	slowPathOnly bool
}

func (c *Config) setDefaults() {
	if c.SIPPorts == nil {
		c.SIPPorts = []PortRange{{5060, 5061}}
	}
	if c.DNSPorts == nil {
		c.DNSPorts = []PortRange{{53, 53}}
	}
	if c.Snaplen == 0 {
		c.Snaplen = MaxSnaplen
	}
	if c.RingBytes == 0 {
		c.RingBytes = 64 << 20
	}
	if c.Queues == 0 {
		c.Queues = 64
	}
	if c.VXLANPort == 0 {
		c.VXLANPort = 4789
	}
}

// Filter is the loaded capture programs and their maps. Its methods may be
// called from several goroutines.
type Filter struct {
	objs captureObjects

	mu     sync.Mutex
	links  []link.Link
	qdiscs []func() error // netlink clsact filters to remove on Close
	closed bool
}

// Probe checks that the kernel can run the capture programs: BPF ring
// buffers (5.8) for ring-buffer mode; the XSKMAP for AF_XDP mode.
func Probe(afxdp bool) error {
	if afxdp {
		if err := features.HaveMapType(ebpf.XSKMap); err != nil {
			return fmt.Errorf("%w: XSKMAP: %v", ErrUnsupported, err)
		}
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return fmt.Errorf("%w: BPF ring buffer (Linux 5.8+): %v", ErrUnsupported, err)
	}
	return nil
}

// Load checks the kernel, configures and loads the programs and fills
// their maps. Nothing is attached yet.
func Load(cfg Config) (*Filter, error) {
	cfg.setDefaults()
	if cfg.Snaplen < 64 || cfg.Snaplen > MaxSnaplen {
		return nil, fmt.Errorf("load capture programs: snap length %d outside 64..%d", cfg.Snaplen, MaxSnaplen)
	}
	if cfg.RingBytes < unix.Getpagesize() || cfg.RingBytes&(cfg.RingBytes-1) != 0 {
		return nil, fmt.Errorf("load capture programs: ring size %d is not a power of two of at least a page", cfg.RingBytes)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; raise it
	// where permitted (a no-op on newer kernels). If it cannot be raised
	// the load below fails with the kernel's error.
	_ = rlimit.RemoveMemlock()
	if err := Probe(cfg.AFXDP); err != nil {
		return nil, err
	}
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("load capture spec: %w", err)
	}
	var ports [65536]uint8
	for _, r := range cfg.SIPPorts {
		for p := int(r.Lo); p <= int(r.Hi); p++ {
			ports[p] |= 1
		}
	}
	for _, r := range cfg.DNSPorts {
		for p := int(r.Lo); p <= int(r.Hi); p++ {
			ports[p] |= 2
		}
	}
	for _, ap := range cfg.Exclude {
		ports[ap.Port()] |= 4 // PORT_EXCLUDE
	}
	b2u := func(b bool) uint8 {
		if b {
			return 1
		}
		return 0
	}
	set := map[string]any{
		"snaplen":        uint32(cfg.Snaplen),
		"sip_by_content": b2u(cfg.SIPByContent),
		"rtcp_heuristic": b2u(cfg.RTCP),
		"has_allow":      b2u(len(cfg.Allow) > 0),
		"has_deny":       b2u(len(cfg.Deny) > 0),
		"has_exclude":    b2u(len(cfg.Exclude) > 0),
		"afxdp_mode":     b2u(cfg.AFXDP),
		"drop_unmatched": b2u(cfg.DropUnmatched),
		"vxlan_port":     cfg.VXLANPort,
		"fast_path":      b2u(!cfg.slowPathOnly),
		"wakeup_bytes":   perCPUWakeup(cfg.WakeupBytes),
		"port_class":     ports[:],
		"exclude_n":      uint32(len(cfg.Exclude)),
	}
	var inline [4]captureAddrPort // EXCLUDE_INLINE in filter.h
	if len(cfg.Exclude) <= len(inline) {
		for i, ap := range cfg.Exclude {
			inline[i] = captureAddrPort{Addr: v6key(ap.Addr().Unmap()), Port: ap.Port()}
		}
		set["exclude_list"] = inline
	}
	for name, v := range set {
		vs, ok := spec.Variables[name]
		if !ok {
			return nil, fmt.Errorf("load capture spec: no variable %q", name)
		}
		if err := vs.Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}
	spec.Maps["events"].MaxEntries = uint32(cfg.RingBytes)
	spec.Maps["xsks"].MaxEntries = uint32(cfg.Queues)

	f := &Filter{}
	if err := spec.LoadAndAssign(&f.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("load capture programs: %+v", ve)
		}
		return nil, fmt.Errorf("load capture programs: %w", err)
	}
	if err := f.fill(cfg); err != nil {
		f.objs.Close()
		return nil, err
	}
	return f, nil
}

// perCPUWakeup is the threshold each CPU applies: its share of the
// configured one among the online CPUs (packets arrive on those, while
// possible CPUs can be many more), at least one page so a wakeup is not
// forced per record.
func perCPUWakeup(total int) uint32 {
	if total <= 0 {
		return 0
	}
	n := onlineCPUs()
	return uint32(max(total/n, unix.Getpagesize()))
}

// onlineCPUs counts the CPUs in /sys/devices/system/cpu/online ("0-3,6"),
// 1 if it cannot be read.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 1
	}
	return countCPUList(strings.TrimSpace(string(b)))
}

func countCPUList(s string) int {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			continue
		}
		n += b - a + 1
	}
	return max(n, 1)
}

func v6key(a netip.Addr) [4]uint32 {
	b := a.As16()
	var k [4]uint32
	for i := range k {
		// The kernel compares bytes in memory order: keep network order.
		k[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
	}
	return k
}

func (f *Filter) fill(cfg Config) error {
	one := uint8(1)
	for _, ap := range cfg.Exclude {
		k := captureAddrPort{Addr: v6key(ap.Addr().Unmap()), Port: ap.Port()}
		if err := f.objs.Exclude.Put(&k, one); err != nil {
			return fmt.Errorf("add exclude %s: %w", ap, err)
		}
	}
	put := func(m *ebpf.Map, what string, ps []netip.Prefix) error {
		for _, p := range ps {
			p = p.Masked()
			bits := p.Bits()
			if p.Addr().Is4() {
				bits += 96
			}
			k := captureLpmKey{Prefixlen: uint32(bits), Addr: v6key(p.Addr())}
			if err := m.Put(&k, one); err != nil {
				return fmt.Errorf("add %s prefix %s: %w", what, p, err)
			}
		}
		return nil
	}
	if err := put(f.objs.Allow, "allow", cfg.Allow); err != nil {
		return err
	}
	return put(f.objs.Deny, "deny", cfg.Deny)
}

// Events is the ring buffer map the programs write captured frames into.
func (f *Filter) Events() *ebpf.Map { return f.objs.Events }

// XDPProgram and TCProgram return the loaded programs (for BPF_PROG_TEST_RUN).
func (f *Filter) XDPProgram() *ebpf.Program { return f.objs.XhepXdp }

// TCProgram returns the TC egress program.
func (f *Filter) TCProgram() *ebpf.Program { return f.objs.XhepTc }

// RegisterXSK puts an AF_XDP socket into the socket map for an rx queue.
func (f *Filter) RegisterXSK(queue int, fd int) error {
	if err := f.objs.Xsks.Put(uint32(queue), uint32(fd)); err != nil {
		return fmt.Errorf("register AF_XDP socket for queue %d: %w", queue, err)
	}
	return nil
}

// Counters returns the kernel counters summed over CPUs.
func (f *Filter) Counters() (Counters, error) {
	var per []captureCounters
	if err := f.objs.Counters.Lookup(uint32(0), &per); err != nil {
		return Counters{}, fmt.Errorf("read counters: %w", err)
	}
	var sum [numCounters]uint64
	for _, pc := range per {
		for i := range sum {
			sum[i] += pc.C[i]
		}
	}
	return countersFrom(&sum), nil
}

func xdpAttached(ifindex int) (bool, error) {
	l, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return false, fmt.Errorf("look up interface %d: %w", ifindex, err)
	}
	x := l.Attrs().Xdp
	return x != nil && x.Attached, nil
}

// AttachXDP attaches the XDP program to the interface through a bpf_link.
// Auto mode tries native (driver) mode first, then generic. It refuses,
// with [ErrXDPBusy], to replace an XDP program that is already attached.
func (f *Filter) AttachXDP(ifindex int, mode XDPMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	busy, err := xdpAttached(ifindex)
	if err != nil {
		return err
	}
	if busy {
		return fmt.Errorf("attach XDP to interface %d: %w", ifindex, ErrXDPBusy)
	}
	var flags []link.XDPAttachFlags
	switch mode {
	case XDPAuto, "":
		flags = []link.XDPAttachFlags{link.XDPDriverMode, link.XDPGenericMode}
	case XDPNative:
		flags = []link.XDPAttachFlags{link.XDPDriverMode}
	case XDPGeneric:
		flags = []link.XDPAttachFlags{link.XDPGenericMode}
	default:
		return fmt.Errorf("attach XDP: unknown mode %q (auto, native or generic)", mode)
	}
	var errs []error
	for _, fl := range flags {
		l, err := link.AttachXDP(link.XDPOptions{Program: f.objs.XhepXdp, Interface: ifindex, Flags: fl})
		if err == nil {
			f.links = append(f.links, l)
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("attach XDP to interface %d: %w", ifindex, errors.Join(errs...))
}

// AttachTC attaches the TC program to the interface's egress: through TCX
// (a bpf_link, Linux 6.6+) where the kernel has it, else as a
// direct-action filter on a clsact qdisc, removed again by Close.
func (f *Filter) AttachTC(ifindex int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	l, err := link.AttachTCX(link.TCXOptions{
		Interface: ifindex,
		Program:   f.objs.XhepTc,
		Attach:    ebpf.AttachTCXEgress,
	})
	if err == nil {
		f.links = append(f.links, l)
		return nil
	}
	if !errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("attach TCX egress to interface %d: %w", ifindex, err)
	}
	return f.attachClsact(ifindex)
}

func (f *Filter) attachClsact(ifindex int) error {
	qdisc := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: ifindex,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
	if err := netlink.QdiscReplace(qdisc); err != nil {
		return fmt.Errorf("add clsact qdisc to interface %d: %w", ifindex, err)
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex,
			Parent:    netlink.HANDLE_MIN_EGRESS,
			Handle:    netlink.MakeHandle(0, 1),
			Protocol:  unix.ETH_P_ALL,
			Priority:  1,
		},
		Fd:           f.objs.XhepTc.FD(),
		Name:         "xhep_tc",
		DirectAction: true,
	}
	if err := netlink.FilterReplace(filter); err != nil {
		return fmt.Errorf("add egress filter to interface %d: %w", ifindex, err)
	}
	f.qdiscs = append(f.qdiscs, func() error { return netlink.FilterDel(filter) })
	return nil
}

// Close detaches the programs and frees the maps. It is idempotent.
func (f *Filter) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	var errs []error
	for _, l := range f.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("detach: %w", err))
		}
	}
	for _, del := range f.qdiscs {
		if err := del(); err != nil {
			errs = append(errs, fmt.Errorf("remove egress filter: %w", err))
		}
	}
	if err := f.objs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close BPF objects: %w", err))
	}
	return errors.Join(errs...)
}
