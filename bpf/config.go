package bpf

import "net/netip"

// The configuration types of the capture filter. They carry no build tag,
// so the packages above (agent/source, agent/packet, the agent command)
// embed them on every platform instead of relaying each setting through
// a Config of their own.

// Default port lists: the only place they are written.
const (
	DefaultSIPPorts  = "5060-5061"
	DefaultDNSPorts  = "53"
	DefaultVXLANPort = 4789 // IANA
)

// Rules say what the capture filter matches. The same Rules drive the
// eBPF programs ([Load]), the classic BPF of AF_PACKET mode (agent/source)
// and the agent's decoder (agent/packet), so the three cannot disagree
// about ports; a test runs one table of packets through all three.
//
// The kernel and the classic BPF filter are the looser ones: they pass a
// superset of what the decoder keeps (the decoder checks the whole SIP
// start line, the whole RTCP compound packet), never less.
type Rules struct {
	// SIPPorts: UDP, TCP and SCTP traffic with either port in this set is
	// SIP. Unset: DefaultSIPPorts.
	SIPPorts PortSet
	// DNSPorts: UDP and TCP traffic with either port in this set is DNS.
	// Unset: DefaultDNSPorts.
	DNSPorts PortSet
	// SIPByContent: SIP on any TCP or UDP port is recognised by its start
	// line (a request line "METHOD SP sip:|sips:|tel:...", any token as
	// method, or a status line "SIP/2.0 ").
	SIPByContent bool
	// RTCP: UDP payloads on any port that look like RTCP (version 2, packet
	// type 200-207) are RTCP.
	RTCP bool
	// VXLANPort: UDP to this port is decapsulated as VXLAN (the kernel
	// filter and the decoder look inside). 0: DefaultVXLANPort.
	VXLANPort uint16
}

// DefaultRules are the agent's defaults: SIP on DefaultSIPPorts, DNS on
// DefaultDNSPorts, SIP by content and RTCP on.
func DefaultRules() Rules {
	return Rules{
		SIPPorts:     MustParsePorts(DefaultSIPPorts),
		DNSPorts:     MustParsePorts(DefaultDNSPorts),
		SIPByContent: true,
		RTCP:         true,
		VXLANPort:    DefaultVXLANPort,
	}
}

var (
	defaultSIPPorts = MustParsePorts(DefaultSIPPorts)
	defaultDNSPorts = MustParsePorts(DefaultDNSPorts)
)

// WithDefaults returns r with each unset port set and a zero VXLANPort
// replaced by its default (the booleans have no unset state and stay as
// they are).
func (r Rules) WithDefaults() Rules {
	if !r.SIPPorts.IsSet() {
		r.SIPPorts = defaultSIPPorts
	}
	if !r.DNSPorts.IsSet() {
		r.DNSPorts = defaultDNSPorts
	}
	if r.VXLANPort == 0 {
		r.VXLANPort = DefaultVXLANPort
	}
	return r
}

// XDPMode selects how the XDP program is attached.
type XDPMode string

// XDP attach modes.
const (
	XDPAuto    XDPMode = "auto"    // native (driver) mode where the driver has it, else generic
	XDPNative  XDPMode = "native"  // driver mode only
	XDPGeneric XDPMode = "generic" // generic (skb) mode
)

// Buffer selects how the programs hand records to userspace.
type Buffer string

// Record buffers.
const (
	BufferAuto Buffer = "auto"    // the ring buffer where the kernel has one (5.8+), else perf
	BufferRing Buffer = "ringbuf" // one BPF ring buffer shared by all CPUs (Linux 5.8+)
	BufferPerf Buffer = "perf"    // a perf event array, one buffer per CPU (any supported kernel)
)

// Config configures [Load]. Zero fields take the defaults noted beside
// them: the zero Config matches SIP on 5060-5061 and DNS on 53 only.
type Config struct {
	Rules // what matches; unset port sets take their defaults

	Snaplen   int // bytes copied per frame, 64..MaxSnaplen; default MaxSnaplen
	RingBytes int // ring buffer size, a power of two and multiple of the page size; default 64 MiB

	AFXDP         bool // redirect matching frames into AF_XDP sockets instead of the ring
	Queues        int  // AF_XDP: size of the socket map (highest queue id + 1); default 64
	DropUnmatched bool // AF_XDP: drop frames that do not match instead of passing them

	Allow   []netip.Prefix   // when set, only traffic with an address in one of these
	Deny    []netip.Prefix   // never traffic with an address in one of these
	Exclude []netip.AddrPort // never traffic to or from these (the agent's own HEP output)

	// WakeupBytes: the programs wake the ring buffer reader only about
	// once per this many bytes written (each CPU once it has written
	// WakeupBytes divided by the number of online CPUs since its last
	// wakeup), so a busy reader is not woken per frame; the reader must
	// then also poll on a timer (a deadline). 0 leaves it to the kernel, which wakes the reader for
	// every record written while it had caught up.
	WakeupBytes int

	// FragEarlyRate bounds the UDP fragments captured before their
	// datagram's first fragment (trains in reverse order): at most this
	// many per CPU per second; their first fragment is then captured too.
	// 0 means the default, 10,000; -1 disables it (later fragments are
	// then captured only after a matched first fragment).
	FragEarlyRate int

	// Buffer selects the record buffer: auto (the default) takes the BPF
	// ring buffer where the kernel has one (5.8+) and a perf event array
	// below; Legacy makes auto mean perf.
	Buffer Buffer
	// PerfBytes is the size of each CPU's perf buffer (perf only), a
	// power of two of at least a page; default 4 MiB.
	PerfBytes int
	// Legacy forces the Linux 5.4 feature set on any kernel: perf buffer
	// (unless Buffer says ringbuf), XDP through netlink, TC through
	// clsact. The environment variable XHEP_BPF_LEGACY=1 does the same.
	Legacy bool

	// RTPStreams bounds the in-kernel RTP stream table (LRU; 0 turns RTP
	// statistics off) and RTPEndpoints the SDP media endpoints pushed into
	// the kernel (0 with RTPStreams set: 4 per stream slot's quarter,
	// see rtp_linux.go).
	RTPStreams   int
	RTPEndpoints int

	// slowPathOnly sends every frame through the full parser, skipping
	// the fast path for common frames (tests compare the two).
	slowPathOnly bool
}

func (c *Config) setDefaults() {
	c.Rules = c.Rules.WithDefaults()
	if c.Snaplen == 0 {
		c.Snaplen = MaxSnaplen
	}
	if c.RingBytes == 0 {
		c.RingBytes = 64 << 20
	}
	if c.Queues == 0 {
		c.Queues = 64
	}
	if c.FragEarlyRate == 0 {
		c.FragEarlyRate = 10000
	}
	if c.PerfBytes == 0 {
		c.PerfBytes = 4 << 20
	}
}
