//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
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

// Filter is the loaded capture programs and their maps. Its methods may be
// called from several goroutines.
type Filter struct {
	objs    captureObjects
	variant Variant
	cfg     Config

	mu     sync.Mutex
	links  []link.Link
	undo   []func() error // netlink attachments (XDP, clsact filters) to remove on Close
	closed bool
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
	if cfg.PerfBytes < unix.Getpagesize() || cfg.PerfBytes&(cfg.PerfBytes-1) != 0 {
		return nil, fmt.Errorf("load capture programs: perf buffer size %d is not a power of two of at least a page", cfg.PerfBytes)
	}
	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; raise it
	// where permitted (a no-op on newer kernels). If it cannot be raised
	// the load below fails with the kernel's error.
	_ = rlimit.RemoveMemlock()
	if err := Probe(cfg.AFXDP); err != nil {
		return nil, err
	}
	legacy := legacyForced(&cfg)
	cfg.Legacy = legacy
	v := Variant{Kernel: KernelRelease(), Legacy: legacy}
	buf, err := chooseBuffer(&cfg, legacy, haveRingBuf())
	if err != nil {
		return nil, err
	}
	v.Buffer = buf
	switch buf {
	case BufferRing:
		v.Copy = CopyDirect
	case BufferPerf:
		v.Copy = CopyPerfCtx
	}
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("load capture spec: %w", err)
	}
	var ports [65536]uint8
	for p := range ports {
		if cfg.SIPPorts.Has(uint16(p)) {
			ports[p] |= portSIP
		}
		if cfg.DNSPorts.Has(uint16(p)) {
			ports[p] |= portDNS
		}
	}
	for _, ap := range cfg.Exclude {
		ports[ap.Port()] |= portExclude
	}
	b2u := func(b bool) uint8 {
		if b {
			return 1
		}
		return 0
	}
	set := map[string]any{
		"snaplen":         uint32(cfg.Snaplen),
		"sip_by_content":  b2u(cfg.SIPByContent),
		"rtcp_heuristic":  b2u(cfg.RTCP),
		"has_allow":       b2u(len(cfg.Allow) > 0),
		"has_deny":        b2u(len(cfg.Deny) > 0),
		"has_exclude":     b2u(len(cfg.Exclude) > 0),
		"afxdp_mode":      b2u(cfg.AFXDP),
		"drop_unmatched":  b2u(cfg.DropUnmatched),
		"vxlan_port":      cfg.VXLANPort,
		"fast_path":       b2u(!cfg.slowPathOnly),
		"perf_mode":       b2u(buf == BufferPerf),
		"frag_early_rate": uint32(max(cfg.FragEarlyRate, 0)),
		"wakeup_bytes":    perCPUWakeup(cfg.WakeupBytes),
		"port_class":      ports[:],
		"exclude_n":       uint32(len(cfg.Exclude)),
		"rtp_enabled":     b2u(cfg.RTPStreams > 0),
	}
	var inline [excludeInline]captureAddrPort
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
	sizeRTPMaps(spec, cfg)
	if buf != BufferRing {
		// The ring buffer code is dead (perf_mode is a load-time
		// constant the verifier sees), but the map it names
		// must exist: a one-entry array stands in for it on kernels
		// without ring buffers.
		spec.Maps["events"] = &ebpf.MapSpec{Name: "events", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	}

	f := &Filter{variant: v, cfg: cfg}
	if err := spec.LoadAndAssign(&f.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			// One line: the verifier's last words. The whole log is long.
			return nil, fmt.Errorf("load capture programs: the verifier of Linux %s rejected them (%s; use --mode afpacket): %v",
				v.Kernel, v, ve)
		}
		return nil, fmt.Errorf("load capture programs on Linux %s (%s): %w", v.Kernel, v, err)
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

// Events is the ring buffer map the programs write captured frames into
// (Variant().Buffer == BufferRing).
func (f *Filter) Events() *ebpf.Map { return f.objs.Events }

// PerfEvents is the perf event array the programs write captured frames
// into (Variant().Buffer == BufferPerf).
func (f *Filter) PerfEvents() *ebpf.Map { return f.objs.PerfEvents }

// PerfBytes is the configured size of each CPU's perf buffer.
func (f *Filter) PerfBytes() int { return f.cfg.PerfBytes }

// Variant says what was chosen for this kernel: buffer, copy method and,
// once attached, the XDP and TC attach kinds (of the last interface).
func (f *Filter) Variant() Variant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.variant
}

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

// AttachXDP attaches the XDP program to the interface: through a
// bpf_link (Linux 5.9+), or through netlink where the kernel has no XDP
// links or the 5.4 feature set is forced (detached again by Close). Auto
// mode tries native (driver) mode first, then generic. It refuses, with
// [ErrXDPBusy], to replace an XDP program that is already attached; the
// netlink attach asks the kernel for the same (XDP_FLAGS_UPDATE_IF_NOEXIST).
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
	name := func(fl link.XDPAttachFlags) string {
		if fl == link.XDPDriverMode {
			return "native"
		}
		return "generic"
	}
	var errs []error
	useLink := !f.cfg.Legacy
	for _, fl := range flags {
		if useLink {
			l, err := link.AttachXDP(link.XDPOptions{Program: f.objs.XhepXdp, Interface: ifindex, Flags: fl})
			if err == nil {
				f.links = append(f.links, l)
				f.variant.XDP = name(fl) + "/link"
				return nil
			}
			if !isNotSupported(err) {
				errs = append(errs, err)
				continue
			}
			// No XDP links (before 5.9), or not in this mode: netlink.
		}
		if err := f.attachXDPNetlink(ifindex, fl); err != nil {
			errs = append(errs, err)
			continue
		}
		f.variant.XDP = name(fl) + "/netlink"
		return nil
	}
	return fmt.Errorf("attach XDP to interface %d: %w", ifindex, errors.Join(errs...))
}

// XDP netlink attach flags (linux/if_link.h).
const (
	xdpFlagsUpdateIfNoExist = 1 << 0
	xdpFlagsSKBMode         = 1 << 1
	xdpFlagsDrvMode         = 1 << 2
)

// netlinkHere opens a netlink handle in the calling thread's network
// namespace: Close may run on another thread (another namespace), and
// must undo the attachment where it was made.
func netlinkHere() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	return h, nil
}

func (f *Filter) attachXDPNetlink(ifindex int, fl link.XDPAttachFlags) error {
	nl, err := netlinkHere()
	if err != nil {
		return err
	}
	defer nl.Close()
	l, err := nl.LinkByIndex(ifindex)
	if err != nil {
		return fmt.Errorf("look up interface %d: %w", ifindex, err)
	}
	mode := xdpFlagsSKBMode
	if fl == link.XDPDriverMode {
		mode = xdpFlagsDrvMode
	}
	// The namespace of this thread, where Close must detach again (the
	// netlink package has no per-namespace handle for XDP).
	ns, err := netns.Get()
	if err != nil {
		return fmt.Errorf("netlink XDP attach: current network namespace: %w", err)
	}
	if err := netlink.LinkSetXdpFdWithFlags(l, f.objs.XhepXdp.FD(), xdpFlagsUpdateIfNoExist|mode); err != nil {
		ns.Close()
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netlink XDP attach: %w", ErrXDPBusy)
		}
		return fmt.Errorf("netlink XDP attach: %w", err)
	}
	var id ebpf.ProgramID
	if info, err := f.objs.XhepXdp.Info(); err == nil {
		id, _ = info.ID()
	}
	f.undo = append(f.undo, func() error {
		defer ns.Close()
		return inNetns(ns, func() error {
			// Detach only our own program: if it was replaced meanwhile,
			// the new one stays.
			l, err := netlink.LinkByIndex(ifindex)
			if err != nil {
				return nil // the interface is gone, and the program with it
			}
			if x := l.Attrs().Xdp; x == nil || !x.Attached || (id != 0 && ebpf.ProgramID(x.ProgId) != id) {
				return nil
			}
			if err := netlink.LinkSetXdpFdWithFlags(l, -1, mode); err != nil {
				return fmt.Errorf("detach XDP from interface %d: %w", ifindex, err)
			}
			return nil
		})
	})
	return nil
}

// inNetns runs fn on this goroutine's thread switched into ns, and back.
func inNetns(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := netns.Get()
	if err != nil {
		return fmt.Errorf("current network namespace: %w", err)
	}
	defer cur.Close()
	if cur.Equal(ns) {
		return fn()
	}
	if err := netns.Set(ns); err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	defer netns.Set(cur)
	return fn()
}

// AttachTC attaches the TC program to the interface's egress: through TCX
// (a bpf_link, Linux 6.6+) where the kernel has it and the 5.4 feature
// set is not forced, else as a direct-action filter on a clsact qdisc,
// removed again by Close.
func (f *Filter) AttachTC(ifindex int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if !f.cfg.Legacy {
		l, err := link.AttachTCX(link.TCXOptions{
			Interface: ifindex,
			Program:   f.objs.XhepTc,
			Attach:    ebpf.AttachTCXEgress,
		})
		if err == nil {
			f.links = append(f.links, l)
			f.variant.TC = "tcx"
			return nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("attach TCX egress to interface %d: %w", ifindex, err)
		}
	}
	if err := f.attachClsact(ifindex); err != nil {
		return err
	}
	f.variant.TC = "clsact"
	return nil
}

// attachClsact adds a clsact qdisc unless there is one, and our filter at
// the first free priority of its egress side: filters already there stay
// (they run before ours if they come first).
func (f *Filter) attachClsact(ifindex int) error {
	qdisc := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: ifindex,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
	nl, err := netlinkHere()
	if err != nil {
		return err
	}
	if err := nl.QdiscAdd(qdisc); err != nil && !errors.Is(err, unix.EEXIST) {
		nl.Close()
		return fmt.Errorf("add clsact qdisc to interface %d: %w", ifindex, err)
	}
	l, err := nl.LinkByIndex(ifindex)
	if err != nil {
		nl.Close()
		return fmt.Errorf("look up interface %d: %w", ifindex, err)
	}
	used := map[uint16]bool{}
	if fs, err := nl.FilterList(l, netlink.HANDLE_MIN_EGRESS); err == nil {
		for _, x := range fs {
			used[x.Attrs().Priority] = true
		}
	}
	prio := uint16(1)
	for used[prio] {
		prio++
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex,
			Parent:    netlink.HANDLE_MIN_EGRESS,
			Handle:    netlink.MakeHandle(0, 1),
			Protocol:  unix.ETH_P_ALL,
			Priority:  prio,
		},
		Fd:           f.objs.XhepTc.FD(),
		Name:         "xhep_tc",
		DirectAction: true,
	}
	if err := nl.FilterAdd(filter); err != nil {
		nl.Close()
		return fmt.Errorf("add egress filter to interface %d: %w", ifindex, err)
	}
	// The handle stays open in the namespace of the interface: Close may
	// run on a thread in another one.
	f.undo = append(f.undo, func() error {
		defer nl.Close()
		if err := nl.FilterDel(filter); err != nil {
			return fmt.Errorf("remove egress filter from interface %d: %w", ifindex, err)
		}
		return nil
	})
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
	for _, undo := range f.undo {
		if err := undo(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := f.objs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close BPF objects: %w", err))
	}
	return errors.Join(errs...)
}
