//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// LegacyEnv, set to 1 in the environment, forces the Linux 5.4 feature
// set on any kernel, as [Config].Legacy does: a perf event array instead of
// the ring buffer, XDP attached through netlink instead of a bpf_link, and
// TC through a clsact qdisc instead of TCX. Tests run with it on newer
// kernels to cover what 5.4 to 5.7 hosts run.
const LegacyEnv = "XHEP_BPF_LEGACY"

// Copy methods, [Variant].Copy.
const (
	// CopyDirect: the programs copy the frame into the ring record with
	// loads and stores from the linear packet data (bpf_skb_load_bytes
	// for the rest of a non-linear skb on TC). No bpf_xdp_load_bytes, so
	// it works from 5.8 on; measured cheaper than the helper (about 10 ns
	// per 600 bytes on 6.18).
	CopyDirect = "direct"
	// CopyPerfCtx: the kernel appends the packet bytes to the record
	// itself (bpf_perf_event_output with the length in BPF_F_CTXLEN_MASK).
	CopyPerfCtx = "perf-ctxlen"
)

// Variant says what the loader and the attach calls chose on this kernel.
type Variant struct {
	Kernel string // kernel release (uname -r)
	Buffer Buffer // BufferRing or BufferPerf
	Copy   string // CopyDirect or CopyPerfCtx
	Legacy bool   // the 5.4 feature set was forced (Config.Legacy or XHEP_BPF_LEGACY=1)
	TC     string // "tcx" or "clsact"; "" until AttachTC
	XDP    string // "native" or "generic", then "/link" (bpf_link) or "/netlink"; "" until AttachXDP
}

// String formats the variant for a log line.
func (v Variant) String() string {
	s := fmt.Sprintf("kernel=%s buffer=%s copy=%s", v.Kernel, v.Buffer, v.Copy)
	if v.XDP != "" {
		s += " xdp=" + v.XDP
	}
	if v.TC != "" {
		s += " tc=" + v.TC
	}
	if v.Legacy {
		s += " legacy=5.4"
	}
	return s
}

// KernelRelease is uname -r.
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func legacyForced(cfg *Config) bool {
	return cfg.Legacy || os.Getenv(LegacyEnv) == "1"
}

// Probe checks that the kernel can run the capture programs in their
// automatic configuration (AF_XDP mode when afxdp is set): it returns an
// [ErrUnsupported] error naming the first missing feature and the mode
// to use instead, nil when eBPF capture can work.
func Probe(afxdp bool) error {
	type need struct {
		what  string
		probe func() error
	}
	needs := []need{
		{"BPF programs of type XDP (Linux 4.8+)", func() error { return features.HaveProgramType(ebpf.XDP) }},
		{"BPF programs of type sched_cls (Linux 4.1+)", func() error { return features.HaveProgramType(ebpf.SchedCLS) }},
		{"read-only BPF global data (Linux 5.2+)", func() error { return features.HaveMapFlag(features.BPF_F_RDONLY_PROG) }},
		{"bounded loops in BPF programs (Linux 5.3+)", features.HaveBoundedLoops},
		{"BPF LRU hash maps (Linux 4.10+)", func() error { return features.HaveMapType(ebpf.LRUHash) }},
		{"BPF LPM trie maps (Linux 4.11+)", func() error { return features.HaveMapType(ebpf.LPMTrie) }},
	}
	if afxdp {
		needs = append(needs, need{"the XSKMAP for AF_XDP sockets (Linux 4.18+)",
			func() error { return features.HaveMapType(ebpf.XSKMap) }})
	} else {
		needs = append(needs, need{"perf event arrays (Linux 4.3+)",
			func() error { return features.HaveMapType(ebpf.PerfEventArray) }})
	}
	for _, n := range needs {
		err := n.probe()
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			// Not a missing feature: this process may not use BPF.
			return fmt.Errorf("%w: %s", ErrNotPermitted, err)
		}
		return unsupported(n.what, afxdp, err)
	}
	return nil
}

// ErrNotPermitted: the process may not load BPF programs (no root, or not
// CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; CAP_SYS_ADMIN before Linux 5.8).
var ErrNotPermitted = errors.New("not permitted to load BPF programs (run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON; CAP_SYS_ADMIN before Linux 5.8)")

func unsupported(what string, afxdp bool, err error) error {
	alt := "--mode afpacket"
	if afxdp {
		alt = "--mode afpacket (or ringbuf)"
	}
	return fmt.Errorf("%w: Linux %s has no %s; use %s: %v", ErrUnsupported, KernelRelease(), what, alt, err)
}

// haveRingBuf reports whether the kernel has BPF ring buffers (5.8+).
func haveRingBuf() bool {
	return features.HaveMapType(ebpf.RingBuf) == nil
}

// chooseBuffer picks the record buffer for cfg on this kernel.
func chooseBuffer(cfg *Config, legacy bool, ring bool) (Buffer, error) {
	switch cfg.Buffer {
	case "", BufferAuto:
		if legacy || !ring {
			return BufferPerf, nil
		}
		return BufferRing, nil
	case BufferRing:
		if !ring {
			return "", fmt.Errorf("%w: Linux %s has no BPF ring buffer (5.8+); use --bpf-buffer perf or auto",
				ErrUnsupported, KernelRelease())
		}
		return BufferRing, nil
	case BufferPerf:
		return BufferPerf, nil
	}
	return "", fmt.Errorf("load capture programs: unknown buffer %q (auto, ringbuf or perf)", cfg.Buffer)
}

// isNotSupported reports errors of a kernel that lacks an attach kind
// (as opposed to one that refused this attachment).
func isNotSupported(err error) bool {
	return errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.Errno(524)) // ENOTSUPP
}
