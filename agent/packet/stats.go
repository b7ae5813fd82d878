package packet

import (
	"reflect"

	"github.com/xhep/xhep/hep/proto"
)

// Class is what a [Message] carries: the agent class of a descriptor in
// hep/proto's registry, which says the HEP type it is sent as and its TCP
// framer.
type Class = proto.Class

// Classes (hep/proto's).
const (
	ClassUnknown = proto.ClassUnknown
	ClassSIP     = proto.ClassSIP
	ClassRTCP    = proto.ClassRTCP
	ClassDNS     = proto.ClassDNS
	NumClasses   = proto.NumClasses // number of classes, for arrays indexed by Class
)

// Link identifies a link-layer type in [Stats].Link.
type Link uint8

// Link types counted in [Stats].Link.
const (
	LinkOther Link = iota // a link type the decoder does not support (see ReasonUnsupportedLink)
	LinkEthernet
	LinkSLL
	LinkSLL2
	LinkRaw // raw IP, LINKTYPE_RAW / IPV4 / IPV6
	LinkNull
	LinkLoop
	NumLinks
)

var linkNames = [NumLinks]string{"other", "ethernet", "sll", "sll2", "raw", "null", "loop"}

func (l Link) String() string { return enumName(linkNames[:], l, "link?") }

// Tunnel identifies an encapsulation in [Stats].Tunnels.
type Tunnel uint8

// Tunnel kinds.
const (
	TunnelGRE     Tunnel = iota // GRE carrying IP or Ethernet (0x6558)
	TunnelERSPAN2               // GRE 0x88be, ERSPAN type II (type I when GRE has no sequence number)
	TunnelERSPAN3               // GRE 0x22eb, ERSPAN type III
	TunnelVXLAN                 // UDP 4789
	TunnelIPIP                  // IPv4 in IP (protocol 4)
	TunnelIPv6IP                // IPv6 in IP (protocol 41)
	TunnelPPPoE                 // PPPoE session (0x8864)
	TunnelMPLS                  // MPLS label stack (0x8847, 0x8848)
	NumTunnels
)

var tunnelNames = [NumTunnels]string{"gre", "erspan2", "erspan3", "vxlan", "ipip", "ipv6ip", "pppoe", "mpls"}

func (t Tunnel) String() string { return enumName(tunnelNames[:], t, "tunnel?") }

// Reason says why input was dropped as bad, in [Stats].Errors.
type Reason uint8

// Reasons for bad input.
const (
	ReasonTruncated       Reason = iota // shorter than a header, or than a length field says
	ReasonUnsupportedLink               // a link type the decoder does not know
	ReasonBadLink                       // malformed link header (SLL, PPPoE, VLAN, MPLS)
	ReasonBadIPv4                       // version, IHL or total length wrong
	ReasonBadIPv6                       // bad version or extension header chain
	ReasonBadUDP                        // UDP length wrong
	ReasonBadTCP                        // TCP data offset wrong
	ReasonBadSCTP                       // SCTP chunk length wrong
	ReasonBadTunnel                     // malformed GRE, ERSPAN or VXLAN header, unsupported GRE version
	ReasonTunnelDepth                   // more than maxDepth nested encapsulations
	ReasonBadFragment                   // fragment beyond 64 KiB, or inconsistent lengths
	ReasonBadWebSocket                  // malformed WebSocket frame
	ReasonBadSIPFraming                 // a stream that cannot be framed as SIP (bad Content-Length, huge headers)
	ReasonBadDNS                        // DNS shorter than its 12-byte header
	ReasonStreamOverflow                // a stream message larger than MaxStreamBytes
	NumReasons
)

var reasonNames = [NumReasons]string{
	"truncated", "unsupported_link", "bad_link", "bad_ipv4", "bad_ipv6", "bad_udp",
	"bad_tcp", "bad_sctp", "bad_tunnel", "tunnel_depth", "bad_fragment",
	"bad_websocket", "bad_sip_framing", "bad_dns", "stream_overflow",
}

func (r Reason) String() string { return enumName(reasonNames[:], r, "reason?") }

// Filter says which filter dropped a message, in [Stats].Filtered.
type Filter uint8

// Filters.
const (
	FilterMethod  Filter = iota // Config.DropMethods
	FilterIP                    // Config.DropIPs
	FilterPayload               // Config.DropPayload
	NumFilters
)

var filterNames = [NumFilters]string{"method", "ip", "payload"}

func (f Filter) String() string { return enumName(filterNames[:], f, "filter?") }

// Stats are the decoder's counters since [NewDecoder]. All are monotonic.
type Stats struct {
	Frames  uint64             // frames passed to Decode
	Link    [NumLinks]uint64   // frames by link type
	VLAN    uint64             // frames with at least one 802.1Q/802.1ad tag
	QinQ    uint64             // frames with two or more tags
	IPv4    uint64             // IPv4 headers decoded (inner and outer)
	IPv6    uint64             // IPv6 headers decoded (inner and outer)
	UDP     uint64             // UDP datagrams (after reassembly)
	TCP     uint64             // TCP segments
	SCTP    uint64             // SCTP packets
	Other   uint64             // frames skipped as not IP, or IP carrying another protocol (ARP, ICMP, ESP...)
	Tunnels [NumTunnels]uint64 // decapsulations by kind

	Messages     [NumClasses]uint64 // messages emitted by class ([ClassUnknown]: HEP messages, only with Config.HEP)
	Unclassified uint64             // UDP/SCTP payloads and TCP streams that matched no class
	KeepAlives   uint64             // CRLF keep-alives and tiny non-SIP datagrams on SIP ports
	Junk         uint64             // non-SIP payloads on SIP ports, and bytes skipped while resyncing a stream (counted once per skip)

	RTCPTrailing      uint64 // RTCP compounds with 1-3 bytes after the last sub-packet (sent as they are)
	RTCPTrailingBytes uint64 // those bytes

	FragSeen        uint64 // IPv4 and IPv6 fragments received
	FragReassembled uint64 // datagrams completed
	FragExpired     uint64 // datagrams dropped incomplete after FragTimeout
	FragOverlap     uint64 // fragments overlapping another (IPv4: new bytes kept first-wins; IPv6: datagram dropped, RFC 5722)
	FragDuplicate   uint64 // fragments exactly repeating bytes already held (ignored)
	FragEvicted     uint64 // datagrams dropped incomplete to respect MaxFragments / MaxFragBytes

	TCPSegments      uint64 // segments of followed streams
	TCPOutOfOrder    uint64 // segments that arrived ahead of a hole
	TCPRetransmits   uint64 // segments (or parts) repeating bytes already seen
	TCPGaps          uint64 // holes skipped (after GapTimeout, a bound, or a flush)
	TCPResyncs       uint64 // times a stream found a SIP start line (or "HEP3") after a gap, a mid-stream start or junk
	TCPMessages      uint64 // messages framed from streams (SIP, WebSocket SIP, DNS, HEP)
	TCPStreams       uint64 // stream directions opened
	TCPStreamsClosed uint64 // directions closed by FIN or RST
	TCPStreamsIdle   uint64 // directions flushed by Expire after StreamIdle
	TCPEvicted       uint64 // directions evicted to respect MaxStreams / MaxTotalStreamBytes
	TCPDroppedBytes  uint64 // buffered bytes discarded (gaps, evictions, overflows, incomplete at close)

	WebSocketUpgrades uint64 // HTTP Upgrade handshakes seen (each direction)
	WebSocketFrames   uint64 // WebSocket frames decoded
	WebSocketControl  uint64 // of which control frames (close, ping, pong), not emitted

	SCTPChunks      uint64 // SCTP DATA chunks
	SCTPFragments   uint64 // of which fragments of a user message (not both B and E)
	SCTPReassembled uint64 // user messages reassembled from fragments
	SCTPDropped     uint64 // fragmented user messages dropped (missing fragment, bounds, timeout)

	Filtered [NumFilters]uint64 // messages dropped by filters
	Errors   [NumReasons]uint64 // bad input by reason
}

// Each calls fn for every counter with a stable name: "Frames", "IPv4",
// ..., and for the arrays "Link.ethernet", "Tunnels.gre", "Messages.sip",
// "Filtered.method", "Errors.truncated" and so on (the label is the index
// type's String). It is meant for exporting metrics, not for hot paths.
func (s *Stats) Each(fn func(name string, v uint64)) {
	rv := reflect.ValueOf(s).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		f := rv.Field(i)
		name := rt.Field(i).Name
		switch f.Kind() {
		case reflect.Uint64:
			fn(name, f.Uint())
		case reflect.Array:
			for j := range f.Len() {
				fn(name+"."+arrayLabel(name, j), f.Index(j).Uint())
			}
		}
	}
}

func arrayLabel(field string, i int) string {
	switch field {
	case "Link":
		return Link(i).String()
	case "Tunnels":
		return Tunnel(i).String()
	case "Messages":
		return Class(i).String()
	case "Filtered":
		return Filter(i).String()
	case "Errors":
		return Reason(i).String()
	}
	return "?"
}

// enumName returns names[v], or unknown when v is out of range.
func enumName[T ~uint8](names []string, v T, unknown string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return unknown
}
