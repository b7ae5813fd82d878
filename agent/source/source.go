// Package source holds the agent's packet sources: a pcap/pcapng file
// reader and the live sources (BPF ring buffer, AF_XDP, AF_PACKET). Every
// source yields link-layer frames as [Frame] values to the same pipeline.
package source

import (
	"net/netip"
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

	SIPPorts     string // port list and ranges, e.g. "5060-5090,5260" (default "5060-5061")
	DNSPorts     string // default "53"
	RTCP         bool   // match RTCP by heuristics on any UDP port (default true in the agent)
	SIPByContent bool   // match SIP by its first bytes on any port (default true in the agent)

	Snaplen       int    // bytes copied per frame; default 9216
	RingBytes     int    // BPF ring buffer size in bytes, power of two; default 64 MiB
	Buffer        string // ringbuf mode: record buffer "auto" (default: ring buffer on 5.8+, else perf), "ringbuf" or "perf"
	PerfBytes     int    // perf buffer: bytes per CPU, power of two; default 4 MiB
	Legacy        bool   // force the Linux 5.4 feature set: perf buffer, netlink XDP attach, clsact (also XHEP_BPF_LEGACY=1)
	DropUnmatched bool   // afxdp: drop what does not match instead of passing it

	Allow []netip.Prefix // when set, only traffic with an address in one of these is captured
	Deny  []netip.Prefix // traffic with an address in one of these is never captured

	// Exclude lists the agent's own HEP destinations: traffic to or from
	// these is never captured, so the agent does not capture its own output
	// even when a collector listens on a SIP port.
	Exclude []netip.AddrPort

	// RTPStreams > 0 turns on the kernel's RTP statistics (ringbuf mode):
	// the stream table's size; RTPEndpoints bounds the SDP endpoints.
	RTPStreams   int
	RTPEndpoints int
}
