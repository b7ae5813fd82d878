package gen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Config says what to generate. Start from [DefaultConfig] and change what
// the test needs; the zero value generates nothing.
type Config struct {
	Seed  int64     // same seed and config → byte-identical output
	Start time.Time // time of the first packet; zero means 2026-01-01T00:00:00Z

	// Calls is the number of INVITE dialogs, a fixed mix of answered calls
	// (some with a re-INVITE, some first challenged with 407), CANCEL/487,
	// 486 busy, 503 from a trunk, and B2BUA two-leg calls whose second leg
	// carries X-CID with the first leg's Call-ID.
	Calls int
	// Registrations is the number of REGISTER exchanges: REGISTER, 401
	// challenge, REGISTER with Authorization, 200 with Contact and Expires.
	Registrations int
	Options       int  // OPTIONS keep-alives answered with 200
	DNS           bool // NAPTR/SRV/A/AAAA lookups of the SIP domains
	// RTCP adds RTCP compound packets (SR or RR, then SDES CNAME) between
	// the SDP media endpoints of every answered call, a few each way; some
	// calls use rtcp-mux (RTCP on the RTP port), some a=rtcp: with a
	// non-default port, the rest RTP port + 1.
	RTCP bool
	// RTP adds RTP packets (G.711, 172 bytes, KindOther) between the same
	// endpoints: each side sends this many before each RTCP exchange. They
	// stand for the media a capture filter must skip; 0 means none.
	RTP int

	IPv6 bool // every host on fd00::/8 instead of 10.0.0.0/8
	TCP  bool // SIP over TCP (handshake, split and coalesced segments, FIN)
	// VLAN tags every frame: one ID is 802.1Q, two are QinQ (outer tag
	// 0x88a8 first, then 0x8100). IDs must be 1..4094.
	VLAN []uint16
	// FragmentMTU, when > 0, fragments every UDP datagram whose IP packet
	// would exceed it (IPv4 fragments, or the IPv6 fragment header). In TCP
	// mode it also lowers the MSS so TCP segments fit. Must be >= 128.
	FragmentMTU int
	// Rate spaces the packet timestamps: packets per second of capture
	// time. Zero means 1000.
	Rate float64

	// CountsOnly leaves Truth's SIP, RTCP and DNS lists empty and fills only
	// Stats, for runs too big to keep every message in memory.
	CountsOnly bool
}

// DefaultConfig returns 100 calls, 50 registrations, 20 OPTIONS pings,
// DNS and RTCP on, IPv4, UDP, no VLAN, no fragmentation, 1000 packets/s.
func DefaultConfig() Config {
	return Config{
		Seed:          1,
		Start:         defaultStart,
		Calls:         100,
		Registrations: 50,
		Options:       20,
		DNS:           true,
		RTCP:          true,
		Rate:          1000,
	}
}

var defaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ErrConfig is wrapped by every configuration error from [Generate].
var ErrConfig = errors.New("invalid generator config")

// Validate reports whether Generate would accept c; errors wrap
// [ErrConfig].
func (c Config) Validate() error { return c.normalize() }

func (c *Config) normalize() error {
	if c.Start.IsZero() {
		c.Start = defaultStart
	}
	if c.Rate == 0 {
		c.Rate = 1000
	}
	switch {
	case c.Calls < 0 || c.Registrations < 0 || c.Options < 0 || c.RTP < 0:
		return fmt.Errorf("%w: negative count", ErrConfig)
	case !(c.Rate > 0) || c.Rate > 1e12:
		return fmt.Errorf("%w: rate %v not in (0, 1e12]", ErrConfig, c.Rate)
	case len(c.VLAN) > 2:
		return fmt.Errorf("%w: %d VLAN tags, at most 2", ErrConfig, len(c.VLAN))
	case c.FragmentMTU < 0 || (c.FragmentMTU > 0 && c.FragmentMTU < 128):
		return fmt.Errorf("%w: fragment MTU %d below 128", ErrConfig, c.FragmentMTU)
	}
	for _, v := range c.VLAN {
		if v == 0 || v > 4094 {
			return fmt.Errorf("%w: VLAN ID %d not in 1..4094", ErrConfig, v)
		}
	}
	return nil
}

// Kind is what a frame carries.
type Kind uint8

// Kinds of frames. A fragment or TCP segment has the kind of what it
// carries; TCP segments without payload (SYN, FIN, pure ACK) and RTP are
// KindOther.
const (
	KindOther Kind = iota
	KindSIP
	KindRTCP
	KindDNS
)

func (k Kind) String() string {
	switch k {
	case KindSIP:
		return "SIP"
	case KindRTCP:
		return "RTCP"
	case KindDNS:
		return "DNS"
	}
	return "Other"
}

// Packet is one generated frame.
type Packet struct {
	TS   time.Time
	Data []byte // a whole Ethernet frame (no FCS)
	Kind Kind
}

// SIPMessage is one SIP message as it appears in the capture (a proxied
// message appears once per hop).
type SIPMessage struct {
	Src, Dst   netip.AddrPort // transport addresses of the packets that carry it
	Transport  string         // "udp" or "tcp"
	TS         time.Time      // time of the frame that completes the message
	CallID     string
	Method     string // request method; "" for a response
	Status     int    // response status; 0 for a request
	CSeq       uint32
	CSeqMethod string
	Raw        []byte // the whole message, headers and body
}

// RTCPPacket is one RTCP compound packet (one UDP datagram).
type RTCPPacket struct {
	Src, Dst netip.AddrPort
	TS       time.Time
	CallID   string // Call-ID of the dialog whose SDP announced these endpoints
	Raw      []byte
}

// DNSPacket is one DNS message (query or response) over UDP.
type DNSPacket struct {
	Src, Dst netip.AddrPort
	TS       time.Time
	ID       uint16
	Response bool
	Query    string // the question's name, without the final dot
	QType    uint16 // 1 A, 28 AAAA, 33 SRV, 35 NAPTR
	RCode    uint8
}

// Stats counts what was generated.
type Stats struct {
	Calls, Registrations, Options int // scenarios generated

	Invites      int // INVITE requests, every hop, re-INVITEs and authenticated retries included
	Registers    int // REGISTER requests, every hop
	SIPMessages  int // SIP requests and responses, every hop
	SIPRequests  int
	SIPResponses int
	RTCP         int // RTCP compound packets
	RTP          int // RTP packets (KindOther)
	DNS          int // DNS messages, queries and responses
	DNSQueries   int

	Frames         int // Ethernet frames emitted
	Fragments      int // frames that are IPv4 or IPv6 fragments
	TCPSegments    int // TCP segments, control segments included
	TCPConnections int
}

// Truth is what [Generate] put into the capture, for tests to compare
// against what a decoder found. Lists are in capture order.
type Truth struct {
	SIP   []SIPMessage
	RTCP  []RTCPPacket
	DNS   []DNSPacket
	Stats Stats
}

// Generate builds the traffic cfg describes and passes every frame to emit,
// in timestamp order. The output depends only on cfg: the same Config gives
// byte-identical frames. Packet.Data is reused after emit returns; copy it
// to keep it. An error from emit stops generation and is returned wrapped.
func Generate(cfg Config, emit func(Packet) error) (*Truth, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	g := newGenerator(cfg, emit)
	if err := g.run(); err != nil {
		return &g.truth, err
	}
	return &g.truth, nil
}

// generator holds the whole state of one Generate run. Not safe for
// concurrent use.
type generator struct {
	cfg   Config
	rng   *rand.Rand // everything the scenarios say, drawn in the order they are built
	sched *rand.Rand // which active scenario sends next
	emit  func(Packet) error
	truth Truth
	nsPer float64 // nanoseconds between frames

	topo topology
	fr   framer

	active []*scenario
	free   []*scenario
	ids    uint64 // counter mixed into Call-IDs, tags and branches
}

func newGenerator(cfg Config, emit func(Packet) error) *generator {
	g := &generator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x78686570)), // "xhep"
		sched: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x73636864)), // "schd"
		emit:  emit,
		nsPer: 1e9 / cfg.Rate,
	}
	g.topo.init(g)
	g.fr.init(g)
	return g
}

// ts is the capture time of frame n.
func (g *generator) ts(n int) time.Time {
	return g.cfg.Start.Add(time.Duration(float64(n) * g.nsPer))
}
