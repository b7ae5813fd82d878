package source

import (
	"github.com/xhep/xhep/bpf"
)

// Link types, as pcap's LINKTYPE_* numbers, that a [Frame] can carry.
const (
	LinkNull     uint16 = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet uint16 = 1   // Ethernet II, possibly with 802.1Q/QinQ tags
	LinkRaw      uint16 = 101 // raw IPv4 or IPv6, no link header
	LinkLoop     uint16 = 108 // OpenBSD loopback: 4-byte network-order family
	LinkSLL      uint16 = 113 // Linux cooked capture v1
	LinkSLL2     uint16 = 276 // Linux cooked capture v2
	LinkIPv4     uint16 = 228 // raw IPv4
	LinkIPv6     uint16 = 229 // raw IPv6
)

// Frame is one captured frame.
//
// Data aliases the source's buffer and is valid only until the next call to
// Read on the same source; the pipeline copies what it keeps.
type Frame struct {
	Data     []byte // the frame from its link-layer header on, at most the snap length
	TS       int64  // capture time, Unix nanoseconds, wall clock (UTC)
	LinkType uint16 // one of the Link* constants
	OrigLen  int    // length on the wire; >= len(Data)
	IfIndex  int    // interface index for live sources, 0 for files
	Egress   bool   // true when captured on the way out (TC egress)
	// Match is what the kernel's filter matched the frame as, the
	// bpf.Class* bits of its ring buffer record (ringbuf mode); 0 when no
	// eBPF filter classified it (files, afpacket, afxdp). The filter ran
	// on the Rules the decoder is given (the agent builds both from one
	// bpf.Rules), and agent/packet uses the bits instead of classifying
	// such a frame again where they say all it needs.
	Match uint8
}

// Source yields frames. Read fills f and returns io.EOF when a finite source
// (a file) is exhausted; live sources block until a frame arrives or Close is
// called, after which Read returns ErrClosed. Read is called from one
// goroutine only; Close may be called from any goroutine and is idempotent.
type Source interface {
	Read(f *Frame) error
	Close() error
}

// LiveConfig configures a live capture source (see OpenLive on Linux).
type LiveConfig struct {
	Ifaces  []string // interfaces to capture on (at least one)
	Mode    string   // "ringbuf" (default), "afxdp" or "afpacket"
	XDPMode string   // "auto" (default), "native" or "generic"

	// Config is the BPF filter's configuration, as [bpf.Load] takes it:
	// its Rules (ports, SIP by content, RTCP; unset port sets take their
	// defaults) drive the eBPF programs of ringbuf and afxdp mode and the
	// classic BPF of afpacket mode alike. Snaplen, RingBytes (the BPF
	// ring, or each TPACKET ring in afpacket mode), Buffer, PerfBytes,
	// Legacy, DropUnmatched (afxdp), Allow, Deny, Exclude (the agent's
	// own HEP destinations: never captured, even when a collector listens
	// on a SIP port) and RTPStreams/RTPEndpoints (ringbuf and afxdp: the
	// kernel's stream table; afpacket: the socket filter passes every V=2
	// UDP payload to userspace) apply as
	// documented there; AFXDP, Queues and WakeupBytes are OpenLive's to
	// set and ignored.
	bpf.Config
}
