package gen

// register adds REGISTER → 401 → REGISTER with Authorization → 200, from
// a phone to the proxy (registrar), or through the proxy to the PBX.
func (s *scenario) register() {
	g := s.g
	t := &g.topo
	ph := g.phone()
	path := []*node{ph, t.proxy}
	if g.rng.IntN(10) < 3 {
		path = append(path, t.pbx)
	}
	if g.rng.IntN(10) < 3 {
		s.dnsLookup(ph, t.domain, t.proxy)
	}
	l := s.newLeg(path, g.callID(ph))
	l.from = s.named(ph)
	l.to = s.ext(ph)
	for h := range l.ruri {
		l.ruri[h] = "sip:" + t.domain
	}
	l.toTag = g.tag()
	expires := [...]string{"3600", "1800", "600", "120"}[g.rng.IntN(4)]
	contact := "<" + s.uri(ph.user, ph) + ">"
	extra := []hdr{{"Expires", expires}, allowHdr}
	if g.rng.IntN(2) == 0 {
		contact += ";expires=" + expires
		extra = extra[1:]
	}

	r1 := l.newTx("REGISTER", false, true)
	r1.contact, r1.hop0 = contact, extra
	l.forward(r1, false)
	realm := t.domain
	nonce := g.hex(32)
	l.back(r1, 401, "Unauthorized", nil,
		hdr{"WWW-Authenticate", `Digest realm="` + realm + `", nonce="` + nonce + `", opaque="` + g.hex(8) + `", algorithm=MD5, qop="auth"`})

	r2 := l.newTx("REGISTER", false, true)
	cnonce := g.hex(8)
	uri := "sip:" + t.domain
	resp := digest(ph.user, realm, "pw"+ph.user, "REGISTER", uri, nonce, "00000001", cnonce)
	r2.contact = contact
	r2.hop0 = append(extra[:len(extra):len(extra)], hdr{"Authorization", `Digest username="` + ph.user +
		`", realm="` + realm + `", nonce="` + nonce + `", uri="` + uri + `", response="` + resp +
		`", algorithm=MD5, cnonce="` + cnonce + `", qop=auth, nc=00000001`})
	l.forward(r2, false)
	l.back(r2, 200, "OK", nil,
		hdr{"Contact", contact + ";expires=" + expires},
		hdr{"Date", g.cfg.Start.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")})
}

// options adds one OPTIONS keep-alive and its 200: the proxy pinging the
// PBX, the trunk or a phone, or the PBX pinging the proxy.
func (s *scenario) options() {
	g := s.g
	t := &g.topo
	var a, b *node
	switch g.rng.IntN(4) {
	case 0:
		a, b = t.proxy, t.pbx
	case 1:
		a, b = t.proxy, t.gw
	case 2:
		a, b = t.pbx, t.proxy
	default:
		a, b = t.proxy, g.phone()
	}
	l := s.newLeg([]*node{a, b}, g.callID(a))
	l.from = "<sip:" + a.user + "@" + a.host + ">"
	l.to = "<" + s.uri("", b) + ">"
	l.ruri[0] = s.uri("", b)
	l.toTag = g.tag()
	o := l.newTx("OPTIONS", false, true)
	o.hop0 = []hdr{{"Accept", "application/sdp"}}
	l.req(o, 0)
	l.resp(o, 0, 200, "OK", false, nil, allowHdr,
		hdr{"Accept", "application/sdp"}, hdr{"Supported", "replaces, timer, path"},
		hdr{"Accept-Language", "en"})
}
