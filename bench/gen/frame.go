package gen

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// framer turns payloads into Ethernet frames: link header and VLAN tags,
// IPv4 or IPv6, UDP (fragmented when it exceeds FragmentMTU) or TCP on
// per-host-pair connections. Every layer struct and both serialize buffers
// are reused, so building a frame does not allocate.
type framer struct {
	g    *generator
	rng  *rand.Rand               // TCP ports, sequence numbers, segmenting: apart from the traffic's own draws
	buf  gopacket.SerializeBuffer // the frame
	l4   gopacket.SerializeBuffer // a whole UDP datagram before fragmenting
	opts gopacket.SerializeOptions

	eth     layers.Ethernet
	vlan    [2]layers.Dot1Q
	ip4     layers.IPv4
	ip6     layers.IPv6
	frag6   layers.IPv6Fragment
	udp     layers.UDP
	tcp     layers.TCP
	payload gopacket.Payload
	stack   []gopacket.SerializableLayer
	srcMAC  [6]byte
	dstMAC  [6]byte
	mssOpt  [1]layers.TCPOption
	mssData [2]byte

	mss      int // TCP payload per segment
	fragData int // IP payload bytes per fragment (multiple of 8); 0: no fragmenting
	conns    map[[2]*node]*tcpConn
	connList []*tcpConn // creation order, for the final FINs
	scratch  []byte
}

func (f *framer) init(g *generator) {
	f.g = g
	f.rng = rand.New(rand.NewPCG(uint64(g.cfg.Seed), 0x74637073)) // "tcps"
	f.buf = gopacket.NewSerializeBufferExpectedSize(128, 1600)
	f.l4 = gopacket.NewSerializeBufferExpectedSize(64, 1600)
	f.opts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	f.eth.SrcMAC = f.srcMAC[:]
	f.eth.DstMAC = f.dstMAC[:]
	f.ip4 = layers.IPv4{Version: 4, IHL: 5, TTL: 64}
	f.ip6 = layers.IPv6{Version: 6, HopLimit: 64}
	f.conns = make(map[[2]*node]*tcpConn)
	ipHdr := 20
	if g.cfg.IPv6 {
		ipHdr = 40
	}
	f.mss = 1500 - ipHdr - 20
	if mtu := g.cfg.FragmentMTU; mtu > 0 {
		f.mss = min(f.mss, mtu-ipHdr-20)
		if g.cfg.IPv6 {
			f.fragData = (mtu - ipHdr - 8) &^ 7
		} else {
			f.fragData = (mtu - ipHdr) &^ 7
		}
	}
	f.mssOpt[0] = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4}
	f.mssData = [2]byte{byte(f.mss >> 8), byte(f.mss)}
	f.mssOpt[0].OptionData = f.mssData[:]
}

// Differentiated services: SIP as CS3, RTCP as EF, DNS best effort.
func tosFor(k Kind) uint8 {
	switch k {
	case KindSIP:
		return 0x60
	case KindRTCP:
		return 0xb8
	}
	return 0
}

// link pushes Ethernet, the VLAN tags and the IP header onto the stack.
// IP next header is proto.
func (f *framer) link(src, dst *node, proto layers.IPProtocol, tos uint8) {
	f.stack = f.stack[:0]
	f.srcMAC, f.dstMAC = src.mac, dst.mac
	ipType := layers.EthernetTypeIPv4
	if f.g.cfg.IPv6 {
		ipType = layers.EthernetTypeIPv6
	}
	f.stack = append(f.stack, &f.eth)
	switch tags := f.g.cfg.VLAN; len(tags) {
	case 0:
		f.eth.EthernetType = ipType
	case 1:
		f.eth.EthernetType = layers.EthernetTypeDot1Q
		f.vlan[0] = layers.Dot1Q{VLANIdentifier: tags[0], Type: ipType}
		f.stack = append(f.stack, &f.vlan[0])
	default:
		f.eth.EthernetType = layers.EthernetTypeQinQ
		f.vlan[0] = layers.Dot1Q{VLANIdentifier: tags[0], Type: layers.EthernetTypeDot1Q}
		f.vlan[1] = layers.Dot1Q{VLANIdentifier: tags[1], Type: ipType}
		f.stack = append(f.stack, &f.vlan[0], &f.vlan[1])
	}
	if f.g.cfg.IPv6 {
		f.ip6.SrcIP = ipSlice(src.ip, f.ip6.SrcIP)
		f.ip6.DstIP = ipSlice(dst.ip, f.ip6.DstIP)
		f.ip6.NextHeader = proto
		f.ip6.TrafficClass = tos
		f.stack = append(f.stack, &f.ip6)
		return
	}
	f.ip4.SrcIP = ipSlice(src.ip, f.ip4.SrcIP)
	f.ip4.DstIP = ipSlice(dst.ip, f.ip4.DstIP)
	f.ip4.Protocol = proto
	f.ip4.TOS = tos
	f.ip4.Flags, f.ip4.FragOffset = 0, 0
	f.ip4.Id = src.ipID
	src.ipID++
	f.stack = append(f.stack, &f.ip4)
}

// ipSlice writes a into dst's storage (4 or 16 bytes) without allocating.
func ipSlice(a netip.Addr, dst net.IP) net.IP {
	b := a.As16()
	if a.Is4() {
		if cap(dst) < 4 {
			dst = make(net.IP, 4, 16)
		}
		dst = dst[:4]
		copy(dst, b[12:])
		return dst
	}
	if cap(dst) < 16 {
		dst = make(net.IP, 16)
	}
	dst = dst[:16]
	copy(dst, b[:])
	return dst
}

// out serializes the stack and hands the frame to emit.
func (f *framer) out(k Kind) (time.Time, error) {
	if err := gopacket.SerializeLayers(f.buf, f.opts, f.stack...); err != nil {
		return time.Time{}, fmt.Errorf("serialize frame: %w", err)
	}
	g := f.g
	ts := g.ts(g.truth.Stats.Frames)
	g.truth.Stats.Frames++
	if err := g.emit(Packet{TS: ts, Data: f.buf.Bytes(), Kind: k}); err != nil {
		return ts, fmt.Errorf("emit frame %d: %w", g.truth.Stats.Frames, err)
	}
	return ts, nil
}

// sendUDP sends payload from src:sport to dst:dport as one UDP datagram,
// fragmented when the IP packet would exceed FragmentMTU. It returns the
// time of the last frame.
func (f *framer) sendUDP(k Kind, src, dst *node, sport, dport uint16, payload []byte) (time.Time, error) {
	f.link(src, dst, layers.IPProtocolUDP, tosFor(k))
	f.udp.SrcPort, f.udp.DstPort = layers.UDPPort(sport), layers.UDPPort(dport)
	ipHdr := 20
	if f.g.cfg.IPv6 {
		ipHdr = 40
		f.udp.SetNetworkLayerForChecksum(&f.ip6)
	} else {
		f.udp.SetNetworkLayerForChecksum(&f.ip4)
	}
	if f.fragData == 0 || ipHdr+8+len(payload) <= f.g.cfg.FragmentMTU {
		f.payload = payload
		f.stack = append(f.stack, &f.udp, &f.payload)
		return f.out(k)
	}

	// Fragment. The UDP header and checksum cover the whole datagram, so
	// build it first, then cut its bytes into fragments:
	//
	//	IPv4: flags (bit 0x2000 MF) and the offset in 8-byte units share
	//	      header bytes 6-7; every fragment repeats the datagram's ID.
	//	IPv6: next header 44 and an 8-byte fragment header:
	//	      next header(8) reserved(8) offset(13)|res(2)|M(1) identification(32)
	f.payload = payload
	if err := gopacket.SerializeLayers(f.l4, f.opts, &f.udp, &f.payload); err != nil {
		return time.Time{}, fmt.Errorf("serialize UDP datagram: %w", err)
	}
	dgram := f.l4.Bytes()
	base := len(f.stack)
	id6 := src.frag6ID
	src.frag6ID++
	var ts time.Time
	for off := 0; off < len(dgram); off += f.fragData {
		end := min(off+f.fragData, len(dgram))
		more := end < len(dgram)
		f.stack = f.stack[:base]
		f.payload = dgram[off:end]
		if f.g.cfg.IPv6 {
			f.ip6.NextHeader = layers.IPProtocolIPv6Fragment
			f.frag6 = layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP,
				FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: id6}
			f.stack = append(f.stack, &f.frag6, &f.payload)
		} else {
			f.ip4.Flags = 0
			if more {
				f.ip4.Flags = layers.IPv4MoreFragments
			}
			f.ip4.FragOffset = uint16(off / 8)
			f.stack = append(f.stack, &f.payload)
		}
		f.g.truth.Stats.Fragments++
		var err error
		if ts, err = f.out(k); err != nil {
			return ts, err
		}
	}
	return ts, nil
}

// tcpConn is one TCP connection between two SIP nodes, opened lazily by
// the first segment sent on it and closed with FINs at the end of the run.
type tcpConn struct {
	client, server *node
	cport          uint16    // client's ephemeral port
	seq            [2]uint32 // next sequence number: [0] client→server, [1] server→client
	unacked        [2]int    // bytes sent in each direction not acknowledged yet
	open           bool
}

// conn returns the connection between a and b, creating it (a as client)
// the first time the pair talks.
func (f *framer) conn(a, b *node) *tcpConn {
	if c := f.conns[[2]*node{a, b}]; c != nil {
		return c
	}
	if c := f.conns[[2]*node{b, a}]; c != nil {
		return c
	}
	c := &tcpConn{client: a, server: b, cport: uint16(32768 + f.rng.IntN(28232))}
	c.seq = [2]uint32{f.rng.Uint32(), f.rng.Uint32()}
	f.conns[[2]*node{a, b}] = c
	f.connList = append(f.connList, c)
	return c
}

// ports are the (source, destination) ports for a segment from `from`.
func (c *tcpConn) ports(from *node) (uint16, uint16, int) {
	if from == c.client {
		return c.cport, c.server.port, 0
	}
	return c.server.port, c.cport, 1
}

// segment sends one TCP segment in direction d (0 client→server).
func (f *framer) segment(c *tcpConn, d int, k Kind, syn, fin, psh bool, payload []byte) (time.Time, error) {
	src, dst := c.client, c.server
	sport, dport := c.cport, c.server.port
	if d == 1 {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	f.link(src, dst, layers.IPProtocolTCP, tosFor(k))
	if !f.g.cfg.IPv6 {
		f.ip4.Flags = layers.IPv4DontFragment
	}
	f.tcp = layers.TCP{
		SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport),
		Seq: c.seq[d], Ack: c.seq[1-d],
		SYN: syn, FIN: fin, PSH: psh, ACK: true,
		Window: 64240,
	}
	if f.g.cfg.IPv6 {
		f.tcp.SetNetworkLayerForChecksum(&f.ip6)
	} else {
		f.tcp.SetNetworkLayerForChecksum(&f.ip4)
	}
	if syn {
		f.tcp.Options = f.mssOpt[:]
		if d == 0 {
			f.tcp.ACK, f.tcp.Ack = false, 0
		}
	}
	f.payload = payload
	f.stack = append(f.stack, &f.tcp, &f.payload)
	c.seq[d] += uint32(len(payload))
	if syn || fin {
		c.seq[d]++
	}
	c.unacked[1-d] = 0
	c.unacked[d] += len(payload)
	f.g.truth.Stats.TCPSegments++
	return f.out(k)
}

// handshake opens c if it is not open yet: SYN, SYN-ACK, ACK.
func (f *framer) handshake(c *tcpConn) error {
	if c.open {
		return nil
	}
	c.open = true
	f.g.truth.Stats.TCPConnections++
	for _, step := range [...]struct {
		d   int
		syn bool
	}{{0, true}, {1, true}, {0, false}} {
		if _, err := f.segment(c, step.d, KindOther, step.syn, false, false, nil); err != nil {
			return err
		}
	}
	return nil
}

// sendTCP sends payload from `from` on c, cut at the offsets in cuts (each
// cut ends a segment; the last segment ends at len(payload)). Segments
// never exceed the MSS. It returns the time of the last segment.
func (f *framer) sendTCP(k Kind, c *tcpConn, from *node, payload []byte, cuts []int) (time.Time, error) {
	if err := f.handshake(c); err != nil {
		return time.Time{}, err
	}
	_, _, d := c.ports(from)
	var ts time.Time
	start := 0
	for start < len(payload) {
		end := len(payload)
		for len(cuts) > 0 && cuts[0] <= start {
			cuts = cuts[1:]
		}
		if len(cuts) > 0 {
			end = cuts[0]
		}
		end = min(end, start+f.mss)
		var err error
		if ts, err = f.segment(c, d, k, false, false, end == len(payload), payload[start:end]); err != nil {
			return ts, err
		}
		start = end
	}
	// The receiver acknowledges once a window's worth is outstanding
	// (delayed ACKs would do it sooner; the data is what matters here).
	if c.unacked[d] > 16384 {
		if _, err := f.segment(c, 1-d, KindOther, false, false, false, nil); err != nil {
			return ts, err
		}
	}
	return ts, nil
}

// closeAll ends every open connection: FIN from the client, FIN from the
// server, final ACK.
func (f *framer) closeAll() error {
	for _, c := range f.connList {
		if !c.open {
			continue
		}
		for _, step := range [...]struct {
			d   int
			fin bool
		}{{0, true}, {1, true}, {0, false}} {
			if _, err := f.segment(c, step.d, KindOther, false, step.fin, false, nil); err != nil {
				return err
			}
		}
		c.open = false
	}
	return nil
}
