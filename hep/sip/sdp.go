package sip

import (
	"bytes"
	"github.com/xhep/xhep/hep/ascii"
	"net/netip"
	"unsafe"
)

// SDP limits.
const (
	MaxMedia  = 32 // m= sections kept in SDP.Media
	MaxCodecs = 32 // payload types kept in Media.Codecs
)

// SDP is the media summary of a session description (RFC 4566/8866) that
// correlation and the call view need: the connection addresses, every m=
// section, its RTCP address (RFC 3605 a=rtcp, RFC 5761 a=rtcp-mux) and
// its codecs.
//
// Ownership: byte fields alias the decoded body; Media and each
// Media.Codecs keep their capacity across [SDP.DecodeFromBytes] calls. An
// SDP is not safe for concurrent use.
type SDP struct {
	Conn  netip.Addr // session-level c= address; invalid if absent or a host name
	Media []Media    // at most MaxMedia
}

// Media is one m= section.
//
//	m=audio 49170 RTP/AVP 0 8 101
//	c=IN IP4 192.0.2.10
//	a=rtpmap:101 telephone-event/8000
//	a=rtcp:53020 IN IP4 192.0.2.11
//	a=rtcp-mux
type Media struct {
	Type     []byte     // "audio", "video", "application", ...
	Port     uint16     // RTP port; 0 for a rejected or disabled stream
	Proto    []byte     // "RTP/AVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVPF", ...
	Formats  []byte     // the raw format list ("0 8 101")
	Conn     netip.Addr // media-level c=, else the session's
	RTCPPort uint16     // a=rtcp: port, 0 if absent
	RTCPConn netip.Addr // a=rtcp: address if it names one
	RTCPMux  bool       // a=rtcp-mux
	Codecs   []Codec    // one per listed payload type, in m= order (at most MaxCodecs)
}

// Codec is one payload type of a media section: from a=rtpmap, or from
// the static table of RFC 3551 when the type has no rtpmap. Name is nil and
// Rate 0 for a dynamic type without rtpmap.
type Codec struct {
	PT   uint8
	Name []byte
	Rate int
}

// RTCPEndpoint returns where RTCP for this stream is sent to by the peer
// that wrote the SDP: the a=rtcp port (with its own address if it names
// one), the RTP port itself with rtcp-mux, else the RTP port + 1 (RFC
// 3550 §11). It returns the zero AddrPort when the stream is disabled
// (port 0), has no address, or has the unspecified address (0.0.0.0 or ::,
// the old way to put a call on hold), or is not RTP (its proto does not
// contain "RTP": T.38 over udptl, SCTP data channels).
func (m Media) RTCPEndpoint() netip.AddrPort {
	if m.Port == 0 || !usable(m.Conn) && !usable(m.RTCPConn) || !bytes.Contains(m.Proto, []byte("RTP")) {
		return netip.AddrPort{}
	}
	switch {
	case m.RTCPPort != 0:
		addr := m.Conn
		if m.RTCPConn.IsValid() {
			addr = m.RTCPConn
		}
		if !usable(addr) {
			return netip.AddrPort{}
		}
		return netip.AddrPortFrom(addr, m.RTCPPort)
	case !usable(m.Conn):
		return netip.AddrPort{}
	case m.RTCPMux:
		return netip.AddrPortFrom(m.Conn, m.Port)
	case m.Port == 65535:
		return netip.AddrPort{}
	default:
		return netip.AddrPortFrom(m.Conn, m.Port+1)
	}
}

func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// RTPEndpoint returns the RTP address of the stream, or the zero AddrPort
// in the cases [Media.RTCPEndpoint] gives none.
func (m Media) RTPEndpoint() netip.AddrPort {
	if m.Port == 0 || !usable(m.Conn) {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(m.Conn, m.Port)
}

// DecodeFromBytes decodes the SDP lines of body, resetting s first. Lines
// end in CRLF or LF; lines other than c=, m= and the a= attributes above
// are skipped. A line that is not "x=value", or a c=/m=/a=rtcp that cannot
// be parsed, is skipped and reported as [ErrBadSDP] after the rest is
// decoded; more than MaxMedia sections report [ErrTooManyMedia]. c= with a
// host name instead of an address leaves the address invalid (no error).
// DecodeFromBytes never panics and, once the slices have grown, does not
// allocate.
func (s *SDP) DecodeFromBytes(body []byte) error {
	s.Conn = netip.Addr{}
	s.Media = s.Media[:0]
	var softErr error
	soft := func(err error) {
		if softErr == nil {
			softErr = err
		}
	}
	var cur *Media
	skipping := false // inside an m= section beyond MaxMedia
	for len(body) > 0 {
		var line []byte
		if e := bytes.IndexByte(body, '\n'); e >= 0 {
			line, body = body[:e], body[e+1:]
		} else {
			line, body = body, nil
		}
		line = ascii.TrimCR(line)
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			soft(ErrBadSDP)
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'm':
			if len(s.Media) >= MaxMedia {
				soft(ErrTooManyMedia)
				cur, skipping = nil, true
				continue
			}
			skipping = false
			n := len(s.Media)
			if n < cap(s.Media) {
				s.Media = s.Media[:n+1]
				codecs := s.Media[n].Codecs[:0]
				s.Media[n] = Media{Codecs: codecs}
			} else {
				s.Media = append(s.Media, Media{})
			}
			cur = &s.Media[n]
			if !decodeMediaLine(v, cur) {
				soft(ErrBadSDP)
			}
		case 'c':
			if skipping {
				continue
			}
			addr, ok := decodeConn(v)
			if !ok {
				soft(ErrBadSDP)
				continue
			}
			if cur == nil {
				s.Conn = addr
			} else {
				cur.Conn = addr
			}
		case 'a':
			if cur == nil {
				continue
			}
			if !decodeAttr(v, cur) {
				soft(ErrBadSDP)
			}
		}
	}
	for k := range s.Media {
		if !s.Media[k].Conn.IsValid() {
			s.Media[k].Conn = s.Conn
		}
	}
	return softErr
}

// decodeMediaLine parses
//
//	m=<media> <port>[/<number of ports>] <proto> <fmt> ...
func decodeMediaLine(v []byte, m *Media) bool {
	f, v := field(v)
	m.Type = f
	f, v = field(v)
	if slash := indexByte(f, '/'); slash >= 0 {
		f = f[:slash]
	}
	p, ok := parseUint(f, 65535)
	if !ok {
		return false
	}
	m.Port = uint16(p)
	m.Proto, v = field(v)
	if len(m.Type) == 0 || len(m.Proto) == 0 {
		return false
	}
	m.Formats = ascii.TrimWS(v)
	fm := m.Formats
	for len(fm) > 0 && len(m.Codecs) < MaxCodecs {
		f, fm = field(fm)
		pt, ok := parseUint(f, 127)
		if !ok {
			continue // not an RTP payload type (e.g. "webrtc-datachannel")
		}
		c := Codec{PT: uint8(pt)}
		if pt < len(staticCodecs) && staticCodecs[pt].name != nil {
			c.Name, c.Rate = staticCodecs[pt].name, staticCodecs[pt].rate
		}
		m.Codecs = append(m.Codecs, c)
	}
	return true
}

// decodeConn parses
//
//	c=<nettype> <addrtype> <connection-address>[/<ttl>][/<number of addresses>]
func decodeConn(v []byte) (netip.Addr, bool) {
	nt, v := field(v)
	at, v := field(v)
	addr, _ := field(v)
	if !ascii.EqualFold(nt, "in") || len(addr) == 0 {
		return netip.Addr{}, false
	}
	if !ascii.EqualFold(at, "ip4") && !ascii.EqualFold(at, "ip6") {
		return netip.Addr{}, false
	}
	if slash := indexByte(addr, '/'); slash >= 0 {
		addr = addr[:slash]
	}
	a, ok := parseAddr(addr)
	if !ok {
		return netip.Addr{}, true // a host name: allowed, not usable
	}
	return a, true
}

// decodeAttr handles the a= lines Media keeps:
//
//	a=rtcp:<port> [<nettype> <addrtype> <connection-address>]
//	a=rtcp-mux
//	a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
func decodeAttr(v []byte, m *Media) bool {
	switch {
	case hasPrefix(v, "rtcp:"):
		port, rest := field(v[5:])
		p, ok := parseUint(port, 65535)
		if !ok {
			return false
		}
		m.RTCPPort = uint16(p)
		if rest = ascii.TrimWS(rest); len(rest) > 0 {
			if a, ok := decodeConn(rest); ok {
				m.RTCPConn = a
			} else {
				return false
			}
		}
	case ascii.EqualFold(ascii.TrimWS(v), "rtcp-mux"):
		m.RTCPMux = true
	case hasPrefix(v, "rtpmap:"):
		ptb, rest := field(v[7:])
		pt, ok := parseUint(ptb, 127)
		if !ok {
			return false
		}
		enc, _ := field(rest)
		name, rate := enc, 0
		if slash := indexByte(enc, '/'); slash >= 0 {
			name = enc[:slash]
			r := enc[slash+1:]
			if s2 := indexByte(r, '/'); s2 >= 0 {
				r = r[:s2]
			}
			if rate, ok = parseUint(r, 1<<30); !ok {
				return false
			}
		}
		for k := range m.Codecs {
			if m.Codecs[k].PT == uint8(pt) {
				m.Codecs[k].Name, m.Codecs[k].Rate = name, rate
				return true
			}
		}
		if len(m.Codecs) < MaxCodecs {
			m.Codecs = append(m.Codecs, Codec{PT: uint8(pt), Name: name, Rate: rate})
		}
	}
	return true
}

// field returns the first space-separated field of v and the rest.
func field(v []byte) (f, rest []byte) {
	v = ascii.TrimLeftWS(v)
	k := 0
	for k < len(v) && !ascii.IsWS(v[k]) {
		k++
	}
	return v[:k], v[k:]
}

// parseAddr parses an IPv4 or IPv6 address without allocating. Zones are
// rejected.
func parseAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > 64 || indexByte(b, '%') >= 0 {
		return netip.Addr{}, false
	}
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	// netip.ParseAddr does not keep its argument (the zone, rejected
	// above, is the only part it would retain), so a string aliasing b is
	// safe here and avoids a copy.
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a, true
}

// parseIPv4 parses the dotted-decimal IPv4 address netip.ParseAddr
// accepts (four fields of 1 to 3 digits, 255 at most, no leading zero)
// in one pass; anything else is left to netip.ParseAddr.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	field, v, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && v == 0 {
				return netip.Addr{}, false // leading zero
			}
			v = v*10 + int(c-'0')
			digits++
			if v > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3:
			ip[field] = byte(v)
			field, v, digits = field+1, 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(v)
	return netip.AddrFrom4(ip), true
}

// staticCodecs holds the RFC 3551 static audio/video payload types.
var staticCodecs = [35]struct {
	name []byte
	rate int
}{
	0:  {[]byte("PCMU"), 8000},
	3:  {[]byte("GSM"), 8000},
	4:  {[]byte("G723"), 8000},
	5:  {[]byte("DVI4"), 8000},
	6:  {[]byte("DVI4"), 16000},
	7:  {[]byte("LPC"), 8000},
	8:  {[]byte("PCMA"), 8000},
	9:  {[]byte("G722"), 8000},
	10: {[]byte("L16"), 44100},
	11: {[]byte("L16"), 44100},
	12: {[]byte("QCELP"), 8000},
	13: {[]byte("CN"), 8000},
	14: {[]byte("MPA"), 90000},
	15: {[]byte("G728"), 8000},
	16: {[]byte("DVI4"), 11025},
	17: {[]byte("DVI4"), 22050},
	18: {[]byte("G729"), 8000},
	25: {[]byte("CelB"), 90000},
	26: {[]byte("JPEG"), 90000},
	28: {[]byte("nv"), 90000},
	31: {[]byte("H261"), 90000},
	32: {[]byte("MPV"), 90000},
	33: {[]byte("MP2T"), 90000},
	34: {[]byte("H263"), 90000},
}
