package gen

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// msg is one payload a scenario sends: a SIP message or DNS message built
// in advance into the scenario's buffer, or an RTCP compound packet built
// when it is sent (its content depends on the send time).
type msg struct {
	kind     Kind
	src, dst *node
	off, end int // payload in scenario.buf (SIP, DNS)

	// SIP
	callID, method, cseqMethod string
	status                     int
	cseq                       uint32

	// RTCP and RTP
	media *media
	side  int
	sr    bool // the side sends media at this point: SR, else RR

	// DNS and RTCP ports
	sport, dport uint16
	dnsID        uint16
	dnsResp      bool
	dnsQName     string
	dnsQType     uint16
	dnsRCode     uint8
}

// scenario is one call, registration, OPTIONS ping or DNS lookup: the
// messages it sends, in order. Several scenarios are active at once and
// their messages interleave in the capture.
type scenario struct {
	g   *generator
	buf []byte
	tmp []byte // SDP scratch
	// header lists reused from message to message (appendSIP copies them)
	vias, rr, route []string
	extra           []hdr
	msgs            []msg
	next            int
}

func (g *generator) newScenario() *scenario {
	if n := len(g.free); n > 0 {
		s := g.free[n-1]
		g.free = g.free[:n-1]
		s.buf, s.msgs, s.next = s.buf[:0], s.msgs[:0], 0
		return s
	}
	return &scenario{g: g}
}

func (g *generator) recycle(s *scenario) {
	if !g.cfg.CountsOnly {
		// Truth's Raw slices alias buf: give the next user a new one.
		s.buf = nil
	}
	clear(s.msgs)
	g.free = append(g.free, s)
}

// keep holds on to m's grown header lists for the next message.
func (s *scenario) keep(m *sipMsg) {
	s.vias, s.rr, s.route = m.vias, m.rr, m.route
	if cap(m.extra) > cap(s.extra) {
		s.extra = m.extra
	}
}

// sip adds a SIP message from src to dst.
func (s *scenario) sip(src, dst *node, m *sipMsg) {
	off := len(s.buf)
	m.longLength = s.g.cfg.TCP
	s.buf = appendSIP(s.buf, m)
	x := msg{kind: KindSIP, src: src, dst: dst, off: off, end: len(s.buf),
		callID: m.callID, method: m.method, status: m.status, cseq: m.cseq, cseqMethod: m.cseqMethod}
	s.msgs = append(s.msgs, x)
}

func (s *scenario) dns(src, dst *node, sport, dport uint16, m *dnsMsg) {
	off := len(s.buf)
	s.buf = appendDNS(s.buf, m)
	s.msgs = append(s.msgs, msg{kind: KindDNS, src: src, dst: dst, off: off, end: len(s.buf),
		sport: sport, dport: dport, dnsID: m.id, dnsResp: m.response,
		dnsQName: m.qname, dnsQType: m.qtype, dnsRCode: m.rcode})
}

func (s *scenario) rtcp(md *media, side int) {
	a, b := &md.end[side], &md.end[1-side]
	s.msgs = append(s.msgs, msg{kind: KindRTCP, src: a.host, dst: b.host,
		sport: a.rtcpPort, dport: b.rtcpPort, media: md, side: side, sr: a.sender, callID: md.callID})
}

func (s *scenario) rtp(md *media, side int) {
	a, b := &md.end[side], &md.end[1-side]
	if !a.sender {
		return
	}
	s.msgs = append(s.msgs, msg{kind: KindOther, src: a.host, dst: b.host,
		sport: a.rtpPort, dport: b.rtpPort, media: md, side: side, callID: md.callID})
}

// run drives the whole generation: keep a window of active scenarios,
// send the next message of a random one, refill as they finish.
func (g *generator) run() error {
	const window = 8
	left := [3]int{g.cfg.Calls, g.cfg.Registrations, g.cfg.Options}
	total := left[0] + left[1] + left[2]
	if g.cfg.DNS && total > 0 {
		// The proxy looks up the trunk before any traffic, as after a restart.
		s := g.newScenario()
		s.dnsLookup(g.topo.proxy, g.topo.trunkDomain, g.topo.gw)
		g.active = append(g.active, s)
	}
	for {
		for len(g.active) < window && total > 0 {
			r := g.rng.IntN(total)
			s := g.newScenario()
			switch {
			case r < left[0]:
				left[0]--
				g.truth.Stats.Calls++
				s.call()
			case r < left[0]+left[1]:
				left[1]--
				g.truth.Stats.Registrations++
				s.register()
			default:
				left[2]--
				g.truth.Stats.Options++
				s.options()
			}
			total--
			g.active = append(g.active, s)
		}
		if len(g.active) == 0 {
			break
		}
		i := g.sched.IntN(len(g.active))
		s := g.active[i]
		if err := g.send(s); err != nil {
			return err
		}
		if s.next >= len(s.msgs) {
			copy(g.active[i:], g.active[i+1:])
			g.active = g.active[:len(g.active)-1]
			g.recycle(s)
		}
	}
	return g.fr.closeAll()
}

var crlf = []byte("\r\n")

// send puts the scenario's next message (sometimes two, in one TCP
// segment) on the wire and records it in Truth.
func (g *generator) send(s *scenario) error {
	m := &s.msgs[s.next]
	s.next++
	f := &g.fr
	switch m.kind {
	case KindSIP:
		p := s.buf[m.off:m.end:m.end] // Truth.Raw: appending to it must not touch the next message
		if !g.cfg.TCP {
			ts, err := f.sendUDP(KindSIP, m.src, m.dst, m.src.port, m.dst.port, p)
			if err != nil {
				return err
			}
			g.recordSIP(m, p, ts, m.src.addrPort(), m.dst.addrPort(), "udp")
			return nil
		}
		c := f.conn(m.src, m.dst)
		sport, dport, _ := c.ports(m.src)
		src := netip.AddrPortFrom(m.src.ip, sport)
		dst := netip.AddrPortFrom(m.dst.ip, dport)
		// Two messages the same way in one segment.
		if s.next < len(s.msgs) && f.rng.IntN(4) == 0 {
			n := &s.msgs[s.next]
			if n.kind == KindSIP && n.src == m.src && n.dst == m.dst && n.end-m.off <= f.mss {
				s.next++
				both := s.buf[m.off:n.end] // adjacent in buf
				ts, err := f.sendTCP(KindSIP, c, m.src, both, nil)
				if err != nil {
					return err
				}
				g.recordSIP(m, p, ts, src, dst, "tcp")
				g.recordSIP(n, s.buf[n.off:n.end:n.end], ts, src, dst, "tcp")
				return nil
			}
		}
		var cuts [2]int
		nc := 0
		// Split in 2 or 3 segments, anywhere after the start line (tshark,
		// like most SIP-over-TCP dissectors, needs a whole first line to
		// recognise the stream).
		if first := bytes.Index(p, crlf) + 2; first < len(p)-2 && f.rng.IntN(6) == 0 {
			nc = 1 + f.rng.IntN(2)
			cuts[0] = first + f.rng.IntN((len(p)-first)/2)
			cuts[1] = cuts[0] + 1 + f.rng.IntN(len(p)-cuts[0]-1)
		}
		ts, err := f.sendTCP(KindSIP, c, m.src, p, cuts[:nc])
		if err != nil {
			return err
		}
		g.recordSIP(m, p, ts, src, dst, "tcp")
	case KindRTCP:
		now := g.ts(g.truth.Stats.Frames)
		f.scratch = m.media.appendRTCP(f.scratch[:0], m.side, m.sr, now)
		ts, err := f.sendUDP(KindRTCP, m.src, m.dst, m.sport, m.dport, f.scratch)
		if err != nil {
			return err
		}
		g.truth.Stats.RTCP++
		if !g.cfg.CountsOnly {
			g.truth.RTCP = append(g.truth.RTCP, RTCPPacket{
				Src: netip.AddrPortFrom(m.src.ip, m.sport), Dst: netip.AddrPortFrom(m.dst.ip, m.dport),
				TS: ts, CallID: m.callID, Raw: append([]byte(nil), f.scratch...)})
		}
	case KindOther: // RTP
		f.scratch = m.media.appendRTP(f.scratch[:0], m.side)
		if _, err := f.sendUDP(KindOther, m.src, m.dst, m.sport, m.dport, f.scratch); err != nil {
			return err
		}
		g.truth.Stats.RTP++
	case KindDNS:
		p := s.buf[m.off:m.end]
		ts, err := f.sendUDP(KindDNS, m.src, m.dst, m.sport, m.dport, p)
		if err != nil {
			return err
		}
		g.truth.Stats.DNS++
		if !m.dnsResp {
			g.truth.Stats.DNSQueries++
		}
		if !g.cfg.CountsOnly {
			g.truth.DNS = append(g.truth.DNS, DNSPacket{
				Src: netip.AddrPortFrom(m.src.ip, m.sport), Dst: netip.AddrPortFrom(m.dst.ip, m.dport),
				TS: ts, ID: m.dnsID, Response: m.dnsResp, Query: m.dnsQName, QType: m.dnsQType, RCode: m.dnsRCode})
		}
	default:
		return fmt.Errorf("internal: message kind %v", m.kind)
	}
	return nil
}

func (g *generator) recordSIP(m *msg, raw []byte, ts time.Time, src, dst netip.AddrPort, transport string) {
	st := &g.truth.Stats
	st.SIPMessages++
	if m.method != "" {
		st.SIPRequests++
		switch m.method {
		case "INVITE":
			st.Invites++
		case "REGISTER":
			st.Registers++
		}
	} else {
		st.SIPResponses++
	}
	if g.cfg.CountsOnly {
		return
	}
	g.truth.SIP = append(g.truth.SIP, SIPMessage{Src: src, Dst: dst, Transport: transport, TS: ts,
		CallID: m.callID, Method: m.method, Status: m.status, CSeq: m.cseq, CSeqMethod: m.cseqMethod, Raw: raw})
}

// Identifiers. A counter keeps them unique whatever the random draws.

func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	var b [32]byte
	for i := 0; i < n; i++ {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b[:n])
}

func (g *generator) uniq() string {
	g.ids++
	return strconv.FormatUint(g.ids, 36)
}

func (g *generator) branch() string { return "z9hG4bK" + g.hex(12) + g.uniq() }
func (g *generator) tag() string    { return g.hex(8) + g.uniq() }

// callID mimics a few real formats.
func (g *generator) callID(n *node) string {
	switch g.rng.IntN(3) {
	case 0: // Asterisk/pjsip: a UUID
		g.ids++
		u := g.hex(20) + strconv.FormatUint(g.ids, 16)
		for len(u) < 32 {
			u = "0" + u
		}
		u = u[len(u)-32:]
		return u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
	case 1: // phones: random@host
		return g.hex(16) + g.uniq() + "@" + n.ip.String()
	}
	return strconv.FormatUint(uint64(g.rng.Uint32()), 10) + "_" + g.uniq() + "@" + n.ip.String()
}
