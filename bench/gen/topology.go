package gen

import (
	"net/netip"
	"strconv"
)

// node is one host in the generated network: a phone, the proxy, the
// B2BUA/PBX, the trunk gateway or the DNS resolver.
type node struct {
	ip         netip.Addr
	port       uint16 // SIP listening port (53 for the resolver)
	mac        [6]byte
	host       string // ip as it appears in SIP URIs and Via: 10.0.0.10 or [fd00::10]
	user       string // phones: extension; servers: a role name
	display    string // phones: display name
	ua         string // User-Agent / Server value
	compact    bool   // writes compact header names (i:, f:, t:, v:, m:, l:, c:, k:)
	proxy      bool   // record-routes and adds a Via when forwarding
	rport      bool   // asks for rport (RFC 3581) in its Via
	tag        string // To tag of the responses it makes itself (407, 200 to CANCEL)
	mediaBlock int    // last RTP port block handed out (see mediaPort)
	viaBase    string // "SIP/2.0/UDP host:port", made on first use
	viaRcvd    string // ";rport=port;received=ip" as a UDP next hop fills it in
	ipID       uint16 // next IPv4 identification
	frag6ID    uint32 // next IPv6 fragment identification
}

// topology is the fixed cast: phones register with and call through the
// proxy (voip.example.com); the proxy forwards some calls to the B2BUA
// (pbx.example.com), which opens a second leg to the trunk gateway
// (trunk.example.net); everyone resolves names through one resolver.
type topology struct {
	proxy, pbx, gw, dns *node
	pbxMedia            *node
	phones              []*node
	domain, pbxDomain   string
	trunkDomain         string
}

var phoneAgents = []string{
	"Yealink SIP-T46S 66.86.0.15",
	"Polycom/6.4.3.5018 PolycomVVX-VVX_411-UA/6.4.3.5018",
	"Grandstream GXP2170 1.0.11.23",
	"Z 5.6.2 v2.10.19.1",
	"Linphone/5.2.0 (belle-sip/5.2.0)",
	"MicroSIP/3.21.3",
	"Cisco/SPA504G-7.6.2c",
	"snom D785/10.1.141.13",
}

var displayNames = []string{
	"Alice Martin", "Bob Keller", "Carol Dubois", "Dave Novak", "Eve Rossi",
	"Frank Weber", "Grace Kim", "Heidi Larsen", "Ivan Petrov", "Judy Silva",
	"Mallory Brown", "Niaj Haddad", "Olivia Chen", "Peggy Moreau", "Rupert Jones",
	"Sybil Andersen", "Trent Walker", "Victor Alves", "Walter Nowak", "Zoe Fischer",
}

func (t *topology) init(g *generator) {
	t.domain = "voip.example.com"
	t.pbxDomain = "pbx.example.com"
	t.trunkDomain = "trunk.example.net"
	v6 := g.cfg.IPv6
	server := func(last byte, user, ua string) *node {
		n := newNode(g, hostAddr(v6, 0, last), 5060)
		n.user, n.ua = user, ua
		n.tag = g.hex(10)
		return n
	}
	t.proxy = server(10, "proxy", "kamailio (5.6.4 (x86_64/linux))")
	t.proxy.proxy = true
	t.pbx = server(20, "pbx", "Asterisk PBX 18.10.0")
	t.pbxMedia = server(21, "pbx-media", "") // the PBX anchors media on a second address
	t.gw = server(30, "trunk", "Cisco-SIPGateway/IOS-15.6.3")
	t.dns = server(53, "resolver", "")
	t.dns.port = 53

	// Enough phones that registrations and calls spread over many hosts.
	n := g.cfg.Registrations + g.cfg.Calls/2
	n = min(max(n, 32), 16000)
	t.phones = make([]*node, n)
	for i := range t.phones {
		p := newNode(g, phoneAddr(v6, i), 5060)
		switch r := g.rng.IntN(10); {
		case r < 2:
			p.port = uint16(5062 + g.rng.IntN(30))
		case r < 3:
			p.port = uint16(20000 + g.rng.IntN(40000))
		}
		p.user = strconv.Itoa(1000 + i)
		p.display = displayNames[g.rng.IntN(len(displayNames))]
		p.ua = phoneAgents[g.rng.IntN(len(phoneAgents))]
		p.compact = g.rng.IntN(100) < 15
		p.rport = g.rng.IntN(10) < 8
		t.phones[i] = p
	}
}

func newNode(g *generator, ip netip.Addr, port uint16) *node {
	n := &node{ip: ip, port: port}
	b := ip.As16()
	n.mac = [6]byte{0x02, 0x42, b[12], b[13], b[14], b[15]}
	if ip.Is4() {
		n.host = ip.String()
	} else {
		n.host = "[" + ip.String() + "]"
	}
	n.ipID = uint16(g.rng.Uint32())
	n.frag6ID = g.rng.Uint32()
	return n
}

// hostAddr is 10.sub.0.last or fd00:0:0:sub::last, last written with the
// same digits in both (10.0.0.53 and fd00::53).
func hostAddr(v6 bool, sub, last byte) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 7: sub, 15: last/10*16 + last%10})
	}
	return netip.AddrFrom4([4]byte{10, sub, 0, last})
}

// phoneAddr is phone i's address: 10.1.x.y or fd00:0:0:1::x:y.
func phoneAddr(v6 bool, i int) netip.Addr {
	hi, lo := byte(i/250), byte(i%250+1)
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 7: 1, 14: hi, 15: lo})
	}
	return netip.AddrFrom4([4]byte{10, 1 + byte(i/62500), hi, lo})
}

func (n *node) addrPort() netip.AddrPort { return netip.AddrPortFrom(n.ip, n.port) }
