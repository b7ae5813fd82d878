package gen

import (
	"strconv"
)

// leg is one SIP dialog (one Call-ID) along a path of nodes: path[0] is
// the UAC, the last node the UAS, proxies in between record-route and add
// their Via. A B2BUA ends one leg and starts another.
type leg struct {
	s           *scenario
	path, rpath []*node
	callID      string
	from, to    string // header values without tags
	fromTag     string
	toTag       string
	ruri        []string // the initial request's R-URI on each hop
	callerURI   string   // Contact URIs
	calleeURI   string
	cseq        uint32 // caller's next CSeq
	rcseq       uint32 // callee's next CSeq
	hdrs        []hdr  // added to every request the caller sends (X-CID)
}

// tx is one transaction on a leg.
type tx struct {
	method  string
	cseq    uint32
	br      []string // branch of each hop's Via, path order
	rev     bool     // sent by the UAS side (BYE from the callee)
	initial bool     // the dialog-creating INVITE and its CANCEL/non-2xx ACK
	toTag   string   // tag in the request's To
	// hopByHop: a CANCEL or non-2xx ACK, which each hop's sender makes
	// itself: only its own Via, same branch as that hop's INVITE.
	hopByHop bool
	contact  string // Contact value (REGISTER); INVITEs get the sender's URI
	hop0     []hdr  // headers on the first hop only (credentials the proxy consumes)
	body     []byte
}

func (s *scenario) newLeg(path []*node, callID string) *leg {
	l := &leg{s: s, path: path, callID: callID, fromTag: s.g.tag(), cseq: 1 + uint32(s.g.rng.IntN(30000)), rcseq: 1}
	l.rpath = make([]*node, len(path))
	for i, n := range path {
		l.rpath[len(path)-1-i] = n
	}
	l.ruri = make([]string, len(path)-1)
	return l
}

func (l *leg) newTx(method string, rev, initial bool) *tx {
	t := &tx{method: method, rev: rev, initial: initial, br: make([]string, len(l.path)-1)}
	for i := range t.br {
		t.br[i] = l.s.g.branch()
	}
	if rev {
		t.cseq = l.rcseq
		l.rcseq++
	} else {
		t.cseq = l.cseq
		l.cseq++
	}
	if !initial {
		t.toTag = l.toTag
	}
	return t
}

// sameHop returns a transaction that shares t's branches and CSeq number:
// a CANCEL or a non-2xx ACK.
func (t *tx) sameHop(method string) *tx {
	return &tx{method: method, cseq: t.cseq, br: t.br, rev: t.rev, initial: t.initial, toTag: t.toTag, hopByHop: true}
}

func (s *scenario) transport() string {
	if s.g.cfg.TCP {
		return "TCP"
	}
	return "UDP"
}

// uri is sip:user@host:port, with ;transport=tcp in TCP mode.
func (s *scenario) uri(user string, n *node) string {
	u := "sip:"
	if user != "" {
		u += user + "@"
	}
	u += n.host + ":" + strconv.Itoa(int(n.port))
	if s.g.cfg.TCP {
		u += ";transport=tcp"
	}
	return u
}

func (s *scenario) rrFor(n *node, ftag string) string {
	v := "<sip:" + n.host
	if s.g.cfg.TCP {
		v += ";transport=tcp"
	}
	return v + ";lr;ftag=" + ftag + ">"
}

// via is n's Via value. rcvd: the next hop has received it, so it filled
// in rport and received (RFC 3581) where n asked for them.
func (s *scenario) via(n, next *node, br string, rcvd bool) string {
	if n.viaBase == "" {
		n.viaBase = "SIP/2.0/" + s.transport() + " " + n.host + ":" + strconv.Itoa(int(n.port))
		n.viaRcvd = ";rport=" + strconv.Itoa(int(n.port)) + ";received=" + n.ip.String()
	}
	switch {
	case !n.rport:
		return n.viaBase + ";branch=" + br
	case !rcvd:
		return n.viaBase + ";rport;branch=" + br
	case s.g.cfg.TCP:
		sport, _, _ := s.g.fr.conn(n, next).ports(n)
		return n.viaBase + ";rport=" + strconv.Itoa(int(sport)) + ";received=" + n.ip.String() + ";branch=" + br
	}
	return n.viaBase + n.viaRcvd + ";branch=" + br
}

var allowHdr = hdr{"Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, REFER, NOTIFY, INFO, PRACK, MESSAGE"}

// req sends request t on hop h (path[h] → path[h+1], or along the reversed
// path for the callee's requests).
func (l *leg) req(t *tx, h int) {
	s := l.s
	p := l.path
	if t.rev {
		p = l.rpath
	}
	m := sipMsg{method: t.method, cseq: t.cseq, cseqMethod: t.method, callID: l.callID, maxFwd: 70 - h,
		vias: s.vias[:0], rr: s.rr[:0], route: s.route[:0], extra: s.extra[:0]}
	defer s.keep(&m)
	orig := p[0]
	if t.hopByHop {
		orig = p[h]
		m.maxFwd = 70
	}
	switch {
	case t.initial: // only ever from the caller
		m.ruri = l.ruri[h]
	case t.rev:
		m.ruri = l.callerURI
	default:
		m.ruri = l.calleeURI
	}
	for j := h; j >= 0; j-- {
		m.vias = append(m.vias, s.via(p[j], p[j+1], t.br[j], j < h))
		if t.hopByHop {
			break
		}
	}
	if t.initial && t.method == "INVITE" {
		for j := h; j >= 1; j-- {
			if p[j].proxy {
				m.rr = append(m.rr, s.rrFor(p[j], l.fromTag))
			}
		}
	}
	if !t.initial {
		for j := h + 1; j < len(p)-1; j++ {
			if p[j].proxy {
				m.route = append(m.route, s.rrFor(p[j], l.fromTag))
			}
		}
	}
	if !t.rev {
		m.from = l.from + ";tag=" + l.fromTag
		m.to = l.to
		if t.toTag != "" {
			m.to += ";tag=" + t.toTag
		}
	} else {
		m.from = l.to + ";tag=" + l.toTag
		m.to = l.from + ";tag=" + l.fromTag
	}
	m.compact, m.ua = orig.compact, orig.ua
	if t.contact != "" {
		m.contact = t.contact
	} else if t.method == "INVITE" {
		if t.rev {
			m.contact = "<" + l.calleeURI + ">"
		} else {
			m.contact = "<" + l.callerURI + ">"
		}
	}
	if !t.rev {
		m.extra = append(m.extra, l.hdrs...)
	}
	if t.method == "INVITE" {
		if t.initial && h >= 1 && p[0].display != "" {
			// The proxy asserts the authenticated caller.
			m.extra = append(m.extra, hdr{"P-Asserted-Identity", l.from})
		}
		m.extra = append(m.extra, allowHdr, hdr{"Supported", "replaces, timer"})
	}
	if h == 0 {
		m.extra = append(m.extra, t.hop0...)
	}
	if len(t.body) > 0 {
		m.ctype, m.body = "application/sdp", t.body
	}
	s.sip(p[h], p[h+1], &m)
}

// resp sends a response to t on hop h (path[h+1] → path[h]). local: the
// sender of the response made it (100 Trying, a proxy's 407 or 503)
// instead of the UAS at the end of the path.
func (l *leg) resp(t *tx, h, status int, reason string, local bool, body []byte, extra ...hdr) {
	s := l.s
	p := l.path
	if t.rev {
		p = l.rpath
	}
	responder := p[len(p)-1]
	if local {
		responder = p[h+1]
	}
	m := sipMsg{status: status, reason: reason, cseq: t.cseq, cseqMethod: t.method, callID: l.callID,
		compact: responder.compact, ua: responder.ua, server: true,
		extra: append(s.extra[:0], extra...), vias: s.vias[:0], rr: s.rr[:0]}
	defer s.keep(&m)
	for j := h; j >= 0; j-- {
		m.vias = append(m.vias, s.via(p[j], p[j+1], t.br[j], true))
		if t.hopByHop {
			break
		}
	}
	dialog := t.method == "INVITE" && status > 100 && status < 300
	if t.initial && dialog && !local {
		for j := len(p) - 2; j >= 1; j-- {
			if p[j].proxy {
				m.rr = append(m.rr, s.rrFor(p[j], l.fromTag))
			}
		}
	}
	from, to := l.from+";tag="+l.fromTag, l.to
	if t.rev {
		from, to = l.to+";tag="+l.toTag, l.from
	}
	totag := t.toTag
	if status > 100 && totag == "" {
		totag = l.toTag
		if local {
			totag = responder.tag
		}
	}
	if t.rev {
		totag = l.fromTag
	}
	if totag != "" {
		to += ";tag=" + totag
	}
	m.from, m.to = from, to
	if dialog && !local {
		if t.rev {
			m.contact = "<" + l.callerURI + ">"
		} else {
			m.contact = "<" + l.calleeURI + ">"
		}
	}
	if len(body) > 0 {
		m.ctype, m.body = "application/sdp", body
	}
	s.sip(p[h+1], p[h], &m)
}

// hops sends t on every hop, each hop's 100 Trying from proxies after it.
func (l *leg) forward(t *tx, trying bool) {
	for h := 0; h < len(l.path)-1; h++ {
		l.req(t, h)
		if trying && l.path[h+1].proxy {
			l.resp(t, h, 100, "Trying", true, nil)
		}
	}
}

// back sends a response to t from the UAS back along every hop.
func (l *leg) back(t *tx, status int, reason string, body []byte, extra ...hdr) {
	for h := len(l.path) - 2; h >= 0; h-- {
		l.resp(t, h, status, reason, false, body, extra...)
	}
}

// ackNon2xx: each hop acknowledges a failure response hop by hop, as the
// response travels back (same branch and CSeq as the INVITE).
func (l *leg) failBack(t *tx, status int, reason string, extra ...hdr) {
	ack := t.sameHop("ACK")
	ack.toTag = l.toTag
	for h := len(l.path) - 2; h >= 0; h-- {
		l.resp(t, h, status, reason, false, nil, extra...)
		l.req(ack, h)
	}
}

// offer builds an SDP body for the media end e.
func (s *scenario) sdp(e *mediaEnd, o *sdpOffer) []byte {
	o.addr, o.port = e.host, e.rtpPort
	s.tmp = appendSDP(s.tmp[:0], o)
	return append([]byte(nil), s.tmp...)
}

// newMedia picks the RTP ports and RTCP mode of a call leg: rtcp-mux on
// both sides, a=rtcp: on a non-default port on one side, or RTP+1.
func (s *scenario) newMedia(callID string, a, b *node) (*media, [2]sdpOffer) {
	g := s.g
	md := &media{callID: callID, pt: [2]byte{0, 8}[g.rng.IntN(2)]}
	var offers [2]sdpOffer
	mode := g.rng.IntN(10)
	for i, n := range [2]*node{a, b} {
		e := &md.end[i]
		e.host = n
		e.rtpPort = n.mediaPort(g)
		e.rtcpPort = e.rtpPort + 1
		e.ssrc = g.rng.Uint32()
		e.seqBase = uint16(g.rng.Uint32())
		e.tsBase = g.rng.Uint32()
		e.cname = n.user + "@" + n.ip.String()
		if g.rng.IntN(3) == 0 {
			e.cname = g.hex(16)
		}
		e.sender = true
		o := &offers[i]
		o.user = n.user
		if o.user == "" {
			o.user = "-"
		}
		o.sessID = uint64(g.rng.Uint32())
		o.version = o.sessID
		o.dir = "sendrecv"
		o.ptime = g.rng.IntN(2) == 0
		switch {
		case mode < 2:
			o.mux = true
			e.rtcpPort = e.rtpPort
		case mode < 4 && i == 0, mode == 4 && i == 1:
			e.rtcpPort = e.rtpPort + 3 + 2*uint16(g.rng.IntN(8)) // non-default
			o.rtcpAttr = e.rtcpPort
		case mode == 5:
			o.rtcpAttr = e.rtcpPort // explicit default, as Asterisk writes it
		}
	}
	return md, offers
}

// rtcpRounds adds n media rounds: cfg.RTP RTP packets from each side,
// then (with RTCP on) one RTCP compound packet from each side.
func (s *scenario) rtcpRounds(md *media, n int) {
	cfg := &s.g.cfg
	for range n {
		for range cfg.RTP {
			s.rtp(md, 0)
			s.rtp(md, 1)
		}
		if cfg.RTCP {
			first := s.g.rng.IntN(2)
			s.rtcp(md, first)
			s.rtcp(md, 1-first)
		}
	}
}

// mediaPort hands out n's RTP ports like a PBX's rtp range does: blocks
// of 20 ports from 10000 to 59999 in turn, so calls active at the same time
// never share an endpoint (a=rtcp: ports stay inside the block).
func (n *node) mediaPort(g *generator) uint16 {
	const blocks = 2500
	if n.mediaBlock == 0 {
		n.mediaBlock = 1 + g.rng.IntN(blocks)
	}
	n.mediaBlock++
	return uint16(10000 + 20*(n.mediaBlock%blocks))
}

func (g *generator) phone() *node { return g.topo.phones[g.rng.IntN(len(g.topo.phones))] }

func (g *generator) otherPhone(a *node) *node {
	for {
		if b := g.phone(); b != a {
			return b
		}
	}
}

// call adds one INVITE dialog of a random type.
func (s *scenario) call() {
	g := s.g
	caller := g.phone()
	switch r := g.rng.IntN(100); {
	case r < 20:
		s.b2buaCall(caller)
	case r < 28:
		s.failedCall(caller, 503)
	case r < 38:
		s.failedCall(caller, 486)
	case r < 48:
		s.cancelledCall(caller)
	default:
		s.answeredCall(caller, r < 63, r%6 == 0)
	}
}

func (s *scenario) ext(n *node) string { return "<sip:" + n.user + "@" + s.g.topo.domain + ">" }

func (s *scenario) named(n *node) string {
	return `"` + n.display + `" ` + s.ext(n)
}

// phoneLeg is caller → proxy → callee with the usual headers.
func (s *scenario) phoneLeg(caller, callee *node) *leg {
	t := &s.g.topo
	l := s.newLeg([]*node{caller, t.proxy, callee}, s.g.callID(caller))
	l.from = s.named(caller)
	l.to = s.ext(callee)
	l.ruri[0] = "sip:" + callee.user + "@" + t.domain
	l.ruri[1] = s.uri(callee.user, callee)
	l.callerURI = s.uri(caller.user, caller)
	l.calleeURI = s.uri(callee.user, callee)
	l.toTag = s.g.tag()
	return l
}

// invite sends the initial INVITE, optionally first challenged with 407
// by the proxy, hop by hop with 100 Trying from proxies (and from some
// UASs). lookup, when set, adds the DNS lookup the first proxy does before
// it forwards.
func (s *scenario) invite(l *leg, offer []byte, auth bool, lookup func()) *tx {
	g := s.g
	t := l.newTx("INVITE", false, true)
	t.body = offer
	if auth && l.path[1].proxy {
		l.req(t, 0)
		nonce := g.hex(24)
		l.resp(t, 0, 407, "Proxy Authentication Required", true, nil,
			hdr{"Proxy-Authenticate", `Digest realm="` + g.topo.domain + `", nonce="` + nonce + `", qop="auth", algorithm=MD5`})
		ack := t.sameHop("ACK")
		ack.toTag = l.path[1].tag
		l.req(ack, 0)
		user := l.path[0].user
		cnonce := g.hex(8)
		resp := digest(user, g.topo.domain, "pw"+user, "INVITE", l.ruri[0], nonce, "00000001", cnonce)
		t = l.newTx("INVITE", false, true)
		t.body = offer
		// The proxy consumes the credentials: they appear on hop 0 only.
		t.hop0 = []hdr{{"Proxy-Authorization", `Digest username="` + user + `", realm="` + g.topo.domain +
			`", nonce="` + nonce + `", uri="` + l.ruri[0] + `", response="` + resp +
			`", algorithm=MD5, cnonce="` + cnonce + `", qop=auth, nc=00000001`}}
	}
	for h := 0; h < len(l.path)-1; h++ {
		l.req(t, h)
		if l.path[h+1].proxy || g.rng.IntN(2) == 0 {
			l.resp(t, h, 100, "Trying", true, nil)
		}
		if h == 0 && lookup != nil {
			lookup()
		}
	}
	return t
}

// answer sends 180 and the 200 with the answer back, then the ACK for the
// 2xx along the route.
func (s *scenario) answer(l *leg, t *tx, answer []byte) {
	if s.g.rng.IntN(3) == 0 {
		// The callee answers at once: 180 and 200 back to back on each hop.
		for h := len(l.path) - 2; h >= 0; h-- {
			l.resp(t, h, 180, "Ringing", false, nil)
			l.resp(t, h, 200, "OK", false, answer)
		}
	} else {
		l.back(t, 180, "Ringing", nil)
		l.back(t, 200, "OK", answer)
	}
	l.ack2xx(t)
}

// ack2xx acknowledges a 2xx to INVITE t end to end along the route: a new
// transaction with the INVITE's CSeq number.
func (l *leg) ack2xx(t *tx) {
	ack := l.newTx("ACK", false, false)
	ack.cseq = t.cseq
	l.cseq--
	l.forward(ack, false)
}

// bye ends the dialog from the caller (or the callee when rev).
func (s *scenario) bye(l *leg, rev bool) {
	t := l.newTx("BYE", rev, false)
	l.forward(t, false)
	l.back(t, 200, "OK", nil)
}

func (s *scenario) answeredCall(caller *node, reinvite, auth bool) {
	g := s.g
	callee := g.otherPhone(caller)
	l := s.phoneLeg(caller, callee)
	md, offers := s.newMedia(l.callID, caller, callee)
	t := s.invite(l, s.sdp(&md.end[0], &offers[0]), auth, nil)
	s.answer(l, t, s.sdp(&md.end[1], &offers[1]))
	s.rtcpRounds(md, 1+g.rng.IntN(3))
	if reinvite {
		// Hold: sendonly offer, recvonly answer, then resume half the time.
		for i, dirs := range [...][2]string{{"sendonly", "recvonly"}, {"sendrecv", "sendrecv"}} {
			if i == 1 && g.rng.IntN(2) == 0 {
				break
			}
			offers[0].version++
			offers[1].version++
			offers[0].dir, offers[1].dir = dirs[0], dirs[1]
			md.end[1].sender = dirs[1] != "recvonly" // on hold the callee only receives: RR, no RTP
			rt := l.newTx("INVITE", false, false)
			rt.body = s.sdp(&md.end[0], &offers[0])
			l.forward(rt, true)
			l.back(rt, 200, "OK", s.sdp(&md.end[1], &offers[1]))
			l.ack2xx(rt)
			s.rtcpRounds(md, 1+g.rng.IntN(2))
		}
	}
	s.bye(l, g.rng.IntN(5) < 2)
}

func (s *scenario) failedCall(caller *node, status int) {
	g := s.g
	t := &g.topo
	var l *leg
	var lookup func()
	reason := "Busy Here"
	var extra []hdr
	if status == 503 {
		// An external number; the trunk is overloaded.
		num := "+4930" + strconv.Itoa(1000000+g.rng.IntN(9000000))
		l = s.newLeg([]*node{caller, t.proxy, t.gw}, g.callID(caller))
		l.from = s.named(caller)
		l.to = "<sip:" + num + "@" + t.domain + ">"
		l.ruri[0] = "sip:" + num + "@" + t.domain
		l.ruri[1] = s.uri(num, t.gw)
		l.callerURI = s.uri(caller.user, caller)
		l.calleeURI = s.uri(num, t.gw)
		l.toTag = g.tag()
		reason = "Service Unavailable"
		extra = []hdr{{"Retry-After", "30"}}
		if g.rng.IntN(3) == 0 {
			lookup = func() { s.dnsLookup(t.proxy, t.trunkDomain, t.gw) }
		}
	} else {
		l = s.phoneLeg(caller, g.otherPhone(caller))
	}
	md, offers := s.newMedia(l.callID, caller, l.path[len(l.path)-1])
	tx := s.invite(l, s.sdp(&md.end[0], &offers[0]), g.rng.IntN(8) == 0, lookup)
	if status == 486 && g.rng.IntN(2) == 0 {
		// Rang first, then the callee rejected.
		l.back(tx, 180, "Ringing", nil)
	}
	l.failBack(tx, status, reason, extra...)
}

func (s *scenario) cancelledCall(caller *node) {
	g := s.g
	l := s.phoneLeg(caller, g.otherPhone(caller))
	md, offers := s.newMedia(l.callID, caller, l.path[2])
	t := s.invite(l, s.sdp(&md.end[0], &offers[0]), false, nil)
	l.back(t, 180, "Ringing", nil)
	// The caller gives up: CANCEL hop by hop, each answered 200 at once,
	// then the callee's 487 travels back, ACKed hop by hop.
	c := t.sameHop("CANCEL")
	c.toTag = ""
	for h := 0; h < len(l.path)-1; h++ {
		l.req(c, h)
		l.resp(c, h, 200, "OK", true, nil)
	}
	l.failBack(t, 487, "Request Terminated")
}

// b2buaCall: caller → proxy → PBX (leg 1); the PBX opens leg 2 with a new
// Call-ID and X-CID pointing to leg 1, to the trunk or to a phone through
// the proxy. Media is anchored on the PBX's media address on both legs.
func (s *scenario) b2buaCall(caller *node) {
	g := s.g
	t := &g.topo
	queue := strconv.Itoa(8000 + g.rng.IntN(20))
	l1 := s.newLeg([]*node{caller, t.proxy, t.pbx}, g.callID(caller))
	l1.from = s.named(caller)
	l1.to = "<sip:" + queue + "@" + t.domain + ">"
	l1.ruri[0] = "sip:" + queue + "@" + t.domain
	l1.ruri[1] = s.uri(queue, t.pbx)
	l1.callerURI = s.uri(caller.user, caller)
	l1.calleeURI = s.uri(queue, t.pbx)
	l1.toTag = g.tag()

	var l2 *leg
	var lookup func()
	if g.rng.IntN(2) == 0 {
		num := "+4989" + strconv.Itoa(1000000+g.rng.IntN(9000000))
		l2 = s.newLeg([]*node{t.pbx, t.gw}, g.callID(t.pbx))
		l2.to = "<sip:" + num + "@" + t.trunkDomain + ">"
		l2.ruri[0] = s.uri(num, t.gw)
		l2.calleeURI = s.uri(num, t.gw)
		if g.rng.IntN(3) == 0 {
			lookup = func() { s.dnsLookup(t.pbx, t.trunkDomain, t.gw) }
		}
	} else {
		callee := g.otherPhone(caller)
		l2 = s.newLeg([]*node{t.pbx, t.proxy, callee}, g.callID(t.pbx))
		l2.to = s.ext(callee)
		l2.ruri[0] = "sip:" + callee.user + "@" + t.domain
		l2.ruri[1] = s.uri(callee.user, callee)
		l2.calleeURI = s.uri(callee.user, callee)
	}
	l2.from = `"` + caller.display + `" <sip:` + caller.user + "@" + t.pbxDomain + ">"
	l2.callerURI = s.uri("asterisk", t.pbx)
	l2.toTag = g.tag()
	l2.hdrs = []hdr{{"X-CID", l1.callID}}

	m1, o1 := s.newMedia(l1.callID, caller, t.pbxMedia)
	m2, o2 := s.newMedia(l2.callID, t.pbxMedia, l2.path[len(l2.path)-1])

	t1 := s.invite(l1, s.sdp(&m1.end[0], &o1[0]), g.rng.IntN(8) == 0, nil)
	if lookup != nil {
		lookup()
	}
	t2 := s.invite(l2, s.sdp(&m2.end[0], &o2[0]), false, nil)
	l2.back(t2, 180, "Ringing", nil)
	l1.back(t1, 180, "Ringing", nil)
	l2.back(t2, 200, "OK", s.sdp(&m2.end[1], &o2[1]))
	l2.ack2xx(t2)
	s.answer200(l1, t1, s.sdp(&m1.end[1], &o1[1]))
	rounds := 1 + g.rng.IntN(3)
	for range rounds {
		s.rtcpRounds(m1, 1)
		s.rtcpRounds(m2, 1)
	}
	if g.rng.IntN(2) == 0 { // the caller hangs up first
		s.bye(l1, false)
		s.bye(l2, false)
	} else { // the far end does
		s.bye(l2, true)
		s.bye(l1, true)
	}
}

// answer200 is answer without the 180 (already sent).
func (s *scenario) answer200(l *leg, t *tx, answer []byte) {
	l.back(t, 200, "OK", answer)
	l.ack2xx(t)
}
