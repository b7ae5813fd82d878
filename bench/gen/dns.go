package gen

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// DNS record types the generator writes.
const (
	dnsA     uint16 = 1
	dnsSOA   uint16 = 6
	dnsAAAA  uint16 = 28
	dnsSRV   uint16 = 33
	dnsNAPTR uint16 = 35
	dnsOPT   uint16 = 41
)

// DNS message (RFC 1035 section 4, RFC 2915 NAPTR, RFC 2782 SRV, RFC 6891 OPT):
//
//	header:   id(16) | QR(1) opcode(4) AA(1) TC(1) RD(1) | RA(1) Z(3) rcode(4)
//	          qdcount(16) ancount(16) nscount(16) arcount(16)
//	question: qname (length-prefixed labels, 0) qtype(16) qclass(16)
//	record:   name (here a pointer 0xc00c to the question name, or labels)
//	          type(16) class(16) ttl(32) rdlength(16) rdata
//	A:        4 bytes                AAAA: 16 bytes
//	SRV:      priority(16) weight(16) port(16) target(name)
//	NAPTR:    order(16) preference(16) flags(char-string) services(char-string)
//	          regexp(char-string) replacement(name)
//	SOA:      mname(name) rname(name) serial refresh retry expire minimum (32 each)
//	OPT:      name 0 (root), type 41, class = UDP payload size, ttl = ext-rcode,
//	          version, DO flag; rdlength 0
//
// Names in rdata are written uncompressed.

// dnsRR is one answer or authority record to write.
type dnsRR struct {
	typ  uint16
	ttl  uint32
	name string // "" means the question name (compressed pointer)
	// rdata by type
	addr           netip.Addr
	prio, weight   uint16
	port           uint16
	target         string
	flags, service string
}

type dnsMsg struct {
	id       uint16
	response bool
	rcode    uint8
	qname    string
	qtype    uint16
	edns     bool
	answers  []dnsRR
	auth     []dnsRR
}

func appendName(b []byte, name string) []byte {
	for name != "" {
		label := name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			label, name = name[:i], name[i+1:]
		} else {
			name = ""
		}
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	return append(b, 0)
}

func appendDNS(b []byte, m *dnsMsg) []byte {
	flags := uint16(0x0100) // RD
	if m.response {
		flags |= 0x8000 | 0x0080 | uint16(m.rcode&0xf) // QR, RA
	}
	ar := 0
	if m.edns {
		ar = 1
	}
	b = binary.BigEndian.AppendUint16(b, m.id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.answers)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.auth)))
	b = binary.BigEndian.AppendUint16(b, uint16(ar))
	start := len(b) - 12
	b = appendName(b, m.qname)
	b = binary.BigEndian.AppendUint16(b, m.qtype)
	b = binary.BigEndian.AppendUint16(b, 1) // IN
	for _, sec := range [][]dnsRR{m.answers, m.auth} {
		for i := range sec {
			b = appendRR(b, &sec[i])
		}
	}
	if m.edns {
		b = append(b, 0) // root
		b = binary.BigEndian.AppendUint16(b, dnsOPT)
		b = binary.BigEndian.AppendUint16(b, 1232)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	_ = start
	return b
}

func appendRR(b []byte, r *dnsRR) []byte {
	if r.name == "" {
		b = append(b, 0xc0, 0x0c) // pointer to the question name at offset 12
	} else {
		b = appendName(b, r.name)
	}
	b = binary.BigEndian.AppendUint16(b, r.typ)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, r.ttl)
	lenAt := len(b)
	b = append(b, 0, 0)
	switch r.typ {
	case dnsA:
		a := r.addr.As4()
		b = append(b, a[:]...)
	case dnsAAAA:
		a := r.addr.As16()
		b = append(b, a[:]...)
	case dnsSRV:
		b = binary.BigEndian.AppendUint16(b, r.prio)
		b = binary.BigEndian.AppendUint16(b, r.weight)
		b = binary.BigEndian.AppendUint16(b, r.port)
		b = appendName(b, r.target)
	case dnsNAPTR:
		b = binary.BigEndian.AppendUint16(b, r.prio)
		b = binary.BigEndian.AppendUint16(b, r.weight)
		b = append(b, byte(len(r.flags)))
		b = append(b, r.flags...)
		b = append(b, byte(len(r.service)))
		b = append(b, r.service...)
		b = append(b, 0) // empty regexp
		b = appendName(b, r.target)
	case dnsSOA:
		b = appendName(b, r.target)             // mname
		b = appendName(b, "hostmaster."+r.name) // rname
		for _, v := range [...]uint32{2026010101, 7200, 3600, 1209600, 300} {
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt-2))
	return b
}

// dnsLookup adds the queries and answers client makes to find the SIP
// servers of domain, all of which resolve to target. kind selects how
// much of the RFC 3263 chain is walked.
func (s *scenario) dnsLookup(client *node, domain string, target *node) {
	g := s.g
	if !g.cfg.DNS {
		return
	}
	tr, svc := "udp", "SIP+D2U"
	if g.cfg.TCP {
		tr, svc = "tcp", "SIP+D2T"
	}
	srvName := "_sip._" + tr + "." + domain
	host := "sip1." + domain
	port := uint16(32768 + g.rng.IntN(28232))
	edns := g.rng.IntN(2) == 0
	q := func(name string, qtype uint16, rcode uint8, answers, auth []dnsRR) {
		m := dnsMsg{id: uint16(g.rng.Uint32()), qname: name, qtype: qtype, edns: edns}
		s.dns(client, g.topo.dns, port, 53, &m)
		m.response, m.rcode, m.answers, m.auth = true, rcode, answers, auth
		s.dns(g.topo.dns, client, 53, port, &m)
		if g.rng.IntN(3) == 0 {
			port = uint16(32768 + g.rng.IntN(28232))
		}
	}
	soa := []dnsRR{{typ: dnsSOA, ttl: 300, name: domain, target: "ns1." + domain}}
	switch r := g.rng.IntN(10); {
	case r < 6: // full NAPTR → SRV → A/AAAA walk
		q(domain, dnsNAPTR, 0, []dnsRR{
			{typ: dnsNAPTR, ttl: 3600, prio: 10, weight: 10, flags: "S", service: "SIP+D2U", target: "_sip._udp." + domain},
			{typ: dnsNAPTR, ttl: 3600, prio: 20, weight: 10, flags: "S", service: "SIP+D2T", target: "_sip._tcp." + domain},
		}, nil)
		_ = svc
		q(srvName, dnsSRV, 0, []dnsRR{
			{typ: dnsSRV, ttl: 3600, prio: 10, weight: 60, port: target.port, target: host},
			{typ: dnsSRV, ttl: 3600, prio: 20, weight: 40, port: target.port, target: "sip2." + domain},
		}, nil)
	case r < 8: // SRV only
		q(srvName, dnsSRV, 0, []dnsRR{
			{typ: dnsSRV, ttl: 600, prio: 10, weight: 100, port: target.port, target: host},
		}, nil)
	case r < 9: // a mistyped name first: NXDOMAIN with the zone's SOA
		bad := "sip1." + domain[:len(domain)-1]
		q(bad, dnsA, 3, nil, []dnsRR{{typ: dnsSOA, ttl: 300, name: domain[strings.IndexByte(domain, '.')+1:], target: "ns1." + domain}})
	}
	a := []dnsRR{{typ: dnsA, ttl: 300, addr: target.ip}}
	aaaa := []dnsRR{{typ: dnsAAAA, ttl: 300, addr: target.ip}}
	if g.cfg.IPv6 {
		q(host, dnsAAAA, 0, aaaa, nil)
		q(host, dnsA, 0, nil, soa) // NODATA
	} else {
		q(host, dnsA, 0, a, nil)
		q(host, dnsAAAA, 0, nil, soa) // NODATA
	}
}
