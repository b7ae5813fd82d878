package sip

import (
	"bytes"
	"encoding/binary"
	"github.com/xhep/xhep/hep/ascii"
	"math/bits"
)

// URI is a parsed SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966).
//
//	sip:user:password@host:port;uri-parameters?headers
//	sips:[2001:db8::1]:5061;transport=tls
//	tel:+1-201-555-0123;phone-context=example.com
//
// Host is without the brackets of an IPv6 reference. For a tel URI, User is
// the number and Host is empty. User is empty (not nil) for "sip:@host".
type URI struct {
	Scheme []byte
	User   []byte
	Host   []byte
	Port   uint16 // 0 when absent
	Raw    []byte // the whole URI as on the wire
}

// NameAddr is the value of From, To, Contact, P-Asserted-Identity or
// Diversion (the first one when the header lists several):
//
//	"Display \"Name\"" <sip:user@host>;tag=abc
//	Display <sip:user@host>;tag=abc
//	sip:user@host;tag=abc
//
// Display is the quoted string's content with its backslash escapes left
// as they are, or the unquoted display tokens. Tag is the tag parameter.
// Raw is the whole value.
type NameAddr struct {
	Display []byte
	URI     URI
	Tag     []byte
	Raw     []byte
}

// Via is one Via value (RFC 3261 §20.42):
//
//	SIP/2.0/UDP host:port;branch=z9hG4bK776asdhds;received=...;rport
//
// Host is without the brackets of an IPv6 reference; Port is 0 when absent.
type Via struct {
	Transport []byte
	Host      []byte
	Port      uint16
	Branch    []byte
	Raw       []byte
}

// Header is one header line as on the wire: Name unchanged (compact forms
// are not expanded), Value trimmed. A value folded over several lines
// (RFC 3261 §7.3.1) spans those lines, line ends and leading whitespace
// included; the field parsers treat them as whitespace.
type Header struct {
	Name  []byte
	Value []byte
}

// Message is a decoded SIP request or response.
//
// Ownership: after [Message.DecodeFromBytes] every []byte field (and those
// of the nested URI, NameAddr, Via and Header values) aliases the decoded
// input; none is copied. They are valid as long as the input is, and the
// next DecodeFromBytes overwrites them. Slices (Via, Headers, RecordRoute)
// keep their capacity across calls, so decoding allocates only while they
// grow to the largest message seen. A Message is not safe for concurrent
// use.
type Message struct {
	IsRequest  bool
	Method     []byte // request method; nil for responses
	RequestURI URI
	StatusCode int    // response status; 0 for requests
	Reason     []byte // response reason phrase

	From, To   NameAddr
	CallID     []byte
	CSeqNum    uint32
	CSeqMethod []byte
	Via        []Via // every Via value in order, comma-separated values split (at most MaxVia)
	ViaCount   int   // number of Via values, including those beyond MaxVia

	Contact           NameAddr
	UserAgent         []byte
	Server            []byte
	ContentType       []byte
	ContentLength     int // -1 when absent or invalid
	PAssertedIdentity NameAddr
	Diversion         NameAddr
	ReasonHeader      []byte // Reason header (RFC 3326), raw value
	Expires           int    // Expires header; -1 when absent or invalid
	// AuthorizationUser is the username="..." parameter of Authorization
	// or, if that is absent, Proxy-Authorization; without the quotes.
	AuthorizationUser []byte
	RecordRoute       [][]byte // Record-Route values in order, comma-separated values split
	XCID              []byte   // X-CID header (the A-leg Call-ID)

	Headers []Header // every header in order, at most MaxHeaders
	Body    []byte   // Content-Length bytes after the blank line, or all of them without Content-Length
}

// hdr identifies the headers Message has a field for.
type hdr uint8

const (
	hOther hdr = iota
	hFrom
	hTo
	hCallID
	hCSeq
	hVia
	hContact
	hUserAgent
	hServer
	hContentType
	hContentLength
	hPAI
	hDiversion
	hReason
	hExpires
	hAuthorization
	hProxyAuthorization
	hRecordRoute
	hXCID
)

// compactForms maps the compact header forms (RFC 3261 §7.3.3 and the IANA
// SIP header registry) to their full names, lower case.
var compactForms = [26]string{
	'a' - 'a': "accept-contact",
	'b' - 'a': "referred-by",
	'c' - 'a': "content-type",
	'd' - 'a': "request-disposition",
	'e' - 'a': "content-encoding",
	'f' - 'a': "from",
	'i' - 'a': "call-id",
	'j' - 'a': "reject-contact",
	'k' - 'a': "supported",
	'l' - 'a': "content-length",
	'm' - 'a': "contact",
	'n' - 'a': "identity-info",
	'o' - 'a': "event",
	'r' - 'a': "refer-to",
	's' - 'a': "subject",
	't' - 'a': "to",
	'u' - 'a': "allow-events",
	'v' - 'a': "via",
	'x' - 'a': "session-expires",
	'y' - 'a': "identity",
}

// lookupHeader identifies a header name, case-insensitively, compact
// forms included. The length and the first and last bytes pick the one
// known name the header can be (headerSlot); the name is then read as up
// to three overlapping little-endian words and compared with that name
// under a mask that folds case at the letters only, so the match is exact.
func lookupHeader(name []byte) hdr {
	n := len(name)
	if n == 1 {
		return compactKinds[name[0]|0x20]
	}
	if n == 0 || n >= len(headerSlot) {
		return hOther
	}
	slot := headerSlot[n][nameHash(name[0], name[n-1])]
	if slot == 0 {
		return hOther
	}
	c := &headerNames[slot-1]
	if cap(name) >= 24 {
		// Inside a message the name is followed by more bytes: read it
		// as three words from its start, without branching on its
		// length, and drop the bytes past it.
		w := name[:24]
		k0 := binary.LittleEndian.Uint64(w) & c.lenMask[0]
		k1 := binary.LittleEndian.Uint64(w[8:]) & c.lenMask[1]
		k2 := binary.LittleEndian.Uint64(w[16:]) & c.lenMask[2]
		if k0|c.mask[0] == c.word[0] && k1|c.mask[1] == c.word[1] && k2|c.mask[2] == c.word[2] {
			return c.kind
		}
		return hOther
	}
	k := nameKey(name)
	if k[0]|c.maskKey[0] == c.key[0] && k[1]|c.maskKey[1] == c.key[1] && k[2]|c.maskKey[2] == c.key[2] {
		return c.kind
	}
	return hOther
}

// nameHash tells apart the known names of one length by their first and
// last bytes, case folded (the init of headerSlot checks there is no
// collision).
func nameHash(first, last byte) byte { return ((first | 0x20) + (last | 0x20)) & 31 }

// compactKinds maps a compact form, lower case, to the header it is
// short for when Message has a field for it.
var compactKinds = [256]hdr{'f': hFrom, 't': hTo, 'i': hCallID, 'v': hVia, 'm': hContact, 'c': hContentType, 'l': hContentLength}

// nameKey packs a name of 2 to 24 bytes into three words that together
// cover every byte: two overlapping halves for up to 16 bytes, three
// words beyond.
func nameKey(b []byte) (k [3]uint64) {
	n := len(b)
	switch {
	case n < 4:
		k[0] = uint64(binary.LittleEndian.Uint16(b)) | uint64(binary.LittleEndian.Uint16(b[n-2:]))<<16
	case n <= 8:
		k[0] = uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	case n <= 16:
		k[0], k[1] = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	default:
		k[0], k[1], k[2] = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[n-8:])
	}
	return k
}

// headerName is a known name, lower case, in two layouts: key and
// maskKey as nameKey packs it; word, mask and lenMask as its 24 bytes
// from the start, zero past its end, with the case-folding mask and the
// mask of the bytes it has.
type headerName struct {
	kind                hdr
	key, maskKey        [3]uint64
	word, mask, lenMask [3]uint64
}

// words packs b, zero-padded to 24 bytes, as three little-endian words.
func words(b []byte) (w [3]uint64) {
	var buf [24]byte
	copy(buf[:], b)
	for j := range w {
		w[j] = binary.LittleEndian.Uint64(buf[8*j:])
	}
	return w
}

// headerNames lists the known names of two bytes or more; headerSlot
// indexes them, plus one, by length and nameHash.
var headerNames, headerSlot = func() (names []headerName, slot [20][32]uint8) {
	for _, h := range []struct {
		name string
		kind hdr
	}{
		{"to", hTo}, {"via", hVia}, {"cseq", hCSeq}, {"from", hFrom}, {"x-cid", hXCID},
		{"server", hServer}, {"reason", hReason}, {"call-id", hCallID}, {"contact", hContact},
		{"expires", hExpires}, {"diversion", hDiversion}, {"user-agent", hUserAgent},
		{"content-type", hContentType}, {"record-route", hRecordRoute},
		{"authorization", hAuthorization}, {"content-length", hContentLength},
		{"p-asserted-identity", hPAI}, {"proxy-authorization", hProxyAuthorization},
	} {
		mask := make([]byte, len(h.name))
		for i := range mask {
			if c := h.name[i]; c >= 'a' && c <= 'z' {
				mask[i] = 0x20
			}
		}
		all := bytes.Repeat([]byte{0xff}, len(h.name))
		names = append(names, headerName{kind: h.kind, key: nameKey([]byte(h.name)), maskKey: nameKey(mask),
			word: words([]byte(h.name)), mask: words(mask), lenMask: words(all)})
		n := len(h.name)
		s := &slot[n][nameHash(h.name[0], h.name[n-1])]
		if *s != 0 {
			panic("sip: header name hash collision: " + h.name)
		}
		*s = uint8(len(names))
	}
	return names, slot
}()

func (m *Message) reset() {
	via, headers, rr := m.Via[:0], m.Headers[:0], m.RecordRoute[:0]
	*m = Message{} // cleared in place, no temporary
	m.Via, m.Headers, m.RecordRoute = via, headers, rr
	m.ContentLength, m.Expires = -1, -1
}

// DecodeFromBytes decodes one SIP message from b, resetting m first.
//
// Line ends may be CRLF or bare LF; CR and LF bytes before the start line
// are skipped (RFC 3261 §7.5); header names are case-insensitive and
// may use compact forms; folded (multi-line) values are joined logically;
// Content-Length may be absent (datagrams), in which case Body is all bytes
// after the blank line. A message that ends without the blank line (a
// truncated datagram) is decoded with an empty body.
//
// A start line that is not a SIP request or status line returns
// [ErrMalformed] and nothing else is decoded. Other problems (a bad header
// line, URI, CSeq, Via or Content-Length, a short body, too many headers,
// an end before the blank line after the headers: [ErrHeadersTruncated])
// do not stop decoding: every field that can be decoded is, and the first
// such error is returned. DecodeFromBytes never panics and, once m's slices
// have grown, does not allocate.
func (m *Message) DecodeFromBytes(b []byte) error {
	m.reset()
	b = b[KeepAliveLen(b):] // CRLFs before the start line are ignored (RFC 3261 §7.5)
	nl := bytes.IndexByte(b, '\n')
	var start []byte
	i := len(b)
	if nl < 0 {
		start = ascii.TrimCR(b)
	} else {
		start = ascii.TrimCR(b[:nl])
		i = nl + 1
	}
	if !m.decodeStartLine(start) {
		return ErrMalformed
	}
	// The first error is returned; errors are ranked as the message is
	// read: start line, then header lines, then header values, then body.
	var startErr, lineErr, fieldErr error
	if m.IsRequest && !m.RequestURI.decodeOK() {
		startErr = ErrBadURI
	}

	// Header lines, up to the blank line, in one pass: each line is split
	// at its colon, its name recognised by length and two bytes, a folded
	// value gathered with its continuation lines, and the value decoded
	// right away.
	bodyStart := len(b)
	ended := false    // the blank line after the headers was seen
	badAtEnd := false // lineErr is the last line, without its line end
	for i < len(b) {
		c := b[i]
		if c == '\n' {
			bodyStart, ended = i+1, true
			break
		}
		if c == '\r' && (i+1 == len(b) || b[i+1] == '\n') {
			bodyStart, ended = min(i+2, len(b)), true
			break
		}
		lineEnd := len(b) // the line is b[i:lineEnd], its LF excluded
		if e := bytes.IndexByte(b[i:], '\n'); e >= 0 {
			lineEnd = i + e
		}
		next := min(lineEnd+1, len(b))
		if c == ' ' || c == '\t' {
			// A continuation line no header claims: after the start line,
			// a bad header line or a header dropped as one too many.
			if lineErr == nil {
				lineErr = ErrBadHeader
			}
			i = next
			continue
		}
		line := ascii.TrimCR(b[i:lineEnd])
		colon := indexColon(line)
		var name []byte
		if colon >= 0 {
			name = ascii.TrimRightWS(line[:colon])
		}
		if len(name) == 0 {
			if lineErr == nil {
				lineErr = ErrBadHeader
				badAtEnd = lineEnd == len(b) // the line a truncation cut
			}
			i = next
			continue
		}
		if len(m.Headers) >= MaxHeaders {
			if lineErr == nil {
				lineErr = ErrTooManyHeaders
			}
			i = next
			continue
		}
		raw := ascii.TrimLeftWS(line[colon+1:])
		value := ascii.TrimRightWS(raw)
		if next < len(b) && (b[next] == ' ' || b[next] == '\t') {
			value, next = foldedValue(b, i+len(line)-len(raw), len(value), next)
		}
		i = next
		m.Headers = append(m.Headers, Header{Name: name, Value: value})
		if kind := lookupHeader(name); kind != hOther {
			if err := m.decodeField(kind, value); err != nil && fieldErr == nil {
				fieldErr = err
			}
		}
	}

	if bodyStart > len(b) {
		bodyStart = len(b)
	}
	m.Body = b[bodyStart:]
	var bodyErr error
	if m.ContentLength >= 0 {
		if m.ContentLength > len(m.Body) {
			bodyErr = ErrBodyTruncated
		} else {
			m.Body = m.Body[:m.ContentLength]
		}
	}
	switch {
	case startErr != nil:
		return startErr
	case !ended && (lineErr == nil || badAtEnd): // a bad last line was cut: say why
		return ErrHeadersTruncated
	case lineErr != nil:
		return lineErr
	case fieldErr != nil:
		return fieldErr
	case !ended:
		return ErrHeadersTruncated
	}
	return bodyErr
}

// foldedValue gathers a value folded over continuation lines (RFC 3261
// §7.3.1): the value starts at b[start:start+n] on the header line and
// next is the first continuation line. It returns the value from its first
// to its last non-whitespace byte, line ends and indentation between
// included, and the offset of the first line after the continuations.
func foldedValue(b []byte, start, n, next int) ([]byte, int) {
	end := start + n
	for next < len(b) && (b[next] == ' ' || b[next] == '\t') {
		lineEnd := len(b)
		if e := bytes.IndexByte(b[next:], '\n'); e >= 0 {
			lineEnd = next + e
		}
		line := ascii.TrimCR(b[next:lineEnd])
		if cont := ascii.TrimWS(line); len(cont) > 0 {
			contStart := next + len(line) - len(ascii.TrimLeftWS(line))
			if end == start {
				start = contStart
			}
			end = contStart + len(cont)
		}
		next = min(lineEnd+1, len(b))
	}
	return b[start:end], next
}

// indexColon returns the index of the first ':' in line, or -1. Header
// names are short, so it tests 8 bytes at a time from the start.
func indexColon(line []byte) int {
	i := 0
	for ; i+8 <= len(line); i += 8 {
		if z := zeroBytes(binary.LittleEndian.Uint64(line[i:]) ^ lo8*':'); z != 0 {
			return i + bits.TrailingZeros64(z)>>3
		}
	}
	for ; i < len(line); i++ {
		if line[i] == ':' {
			return i
		}
	}
	return -1
}

// decodeField decodes the value v of a header of kind k into m's fields.
func (m *Message) decodeField(k hdr, v []byte) error {
	switch k {
	case hFrom:
		if m.From.Raw == nil && !decodeNameAddr(v, &m.From) {
			return ErrBadURI
		}
	case hTo:
		if m.To.Raw == nil && !decodeNameAddr(v, &m.To) {
			return ErrBadURI
		}
	case hCallID:
		if m.CallID == nil {
			m.CallID = v
		}
	case hCSeq:
		if m.CSeqMethod == nil && !m.decodeCSeq(v) {
			return ErrBadCSeq
		}
	case hVia:
		if !m.decodeVia(v) {
			return ErrBadVia
		}
	case hContact:
		if m.Contact.Raw == nil {
			first, _ := cutList(v)
			if !decodeNameAddr(first, &m.Contact) && !(len(first) == 1 && first[0] == '*') {
				return ErrBadURI
			}
		}
	case hUserAgent:
		if m.UserAgent == nil {
			m.UserAgent = v
		}
	case hServer:
		if m.Server == nil {
			m.Server = v
		}
	case hContentType:
		if m.ContentType == nil {
			m.ContentType = v
		}
	case hContentLength:
		if m.ContentLength < 0 {
			if n, ok := parseUint(v, 1<<30); ok {
				m.ContentLength = n
			} else {
				return ErrBadContentLength
			}
		}
	case hPAI:
		if m.PAssertedIdentity.Raw == nil {
			first, _ := cutList(v)
			if !decodeNameAddr(first, &m.PAssertedIdentity) {
				return ErrBadURI
			}
		}
	case hDiversion:
		if m.Diversion.Raw == nil {
			first, _ := cutList(v)
			if !decodeNameAddr(first, &m.Diversion) {
				return ErrBadURI
			}
		}
	case hReason:
		if m.ReasonHeader == nil {
			m.ReasonHeader = v
		}
	case hExpires:
		if m.Expires < 0 {
			if n, ok := parseUint(v, 1<<31-1); ok {
				m.Expires = n
			}
		}
	case hAuthorization:
		if u := authUser(v); u != nil {
			m.AuthorizationUser = u
		}
	case hProxyAuthorization:
		if m.AuthorizationUser == nil {
			m.AuthorizationUser = authUser(v)
		}
	case hRecordRoute:
		for len(v) > 0 && len(m.RecordRoute) < MaxVia {
			var first []byte
			first, v = cutList(v)
			if len(first) > 0 {
				m.RecordRoute = append(m.RecordRoute, first)
			}
		}
	case hXCID:
		if m.XCID == nil {
			m.XCID = v
		}
	}
	return nil
}

// decodeStartLine decodes
//
//	Request-Line = Method SP Request-URI SP SIP-Version
//	Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase
func (m *Message) decodeStartLine(line []byte) bool {
	if hasPrefix(line, statusPrefix) {
		if !validStatusLine(line) {
			return false
		}
		m.StatusCode = int(line[8]-'0')*100 + int(line[9]-'0')*10 + int(line[10]-'0')
		if len(line) > 12 {
			m.Reason = ascii.TrimWS(line[12:])
		} else {
			m.Reason = line[len(line):]
		}
		return true
	}
	sp, last, ok := requestLine(line)
	if !ok {
		return false
	}
	m.IsRequest = true
	m.Method = line[:sp]
	uri := ascii.TrimWS(line[sp+1 : last])
	decodeURI(uri, &m.RequestURI)
	return true
}

// decodeOK reports whether a URI that was decoded has a usable scheme.
func (u *URI) decodeOK() bool { return u.Scheme != nil }

// decodeURI parses raw into u; on failure u keeps only Raw and reports
// false.
//
//	SIP-URI = ("sip:" / "sips:") [ userinfo "@" ] hostport uri-parameters [ headers ]
//	userinfo = ( user / telephone-subscriber ) [ ":" password ]
//	hostport = host [ ":" port ]      host = hostname / IPv4address / "[" IPv6address "]"
//	tel-URI  = "tel:" telephone-subscriber *( ";" par )
func decodeURI(raw []byte, u *URI) bool {
	*u = URI{Raw: raw}
	var scheme, rest []byte
	if len(raw) > 4 && binary.LittleEndian.Uint32(raw)|sipMask == sipWord {
		scheme, rest = raw[:3], raw[4:] // "sip:" in any case, the common scheme
	} else {
		colon := 0 // the scheme is a short token: scan it in place
		for colon < len(raw) && tokenChars[raw[colon]] {
			colon++
		}
		if colon == 0 || colon == len(raw) || raw[colon] != ':' {
			return false
		}
		scheme, rest = raw[:colon], raw[colon+1:]
		if ascii.EqualFold(scheme, "tel") {
			end := indexAny2(rest, ';', '?')
			if end == 0 {
				return false
			}
			u.Scheme, u.User = scheme, rest[:end]
			return true
		}
	}
	if at := indexByte(rest, '@'); at >= 0 {
		userinfo := rest[:at]
		if c := indexByte(userinfo, ':'); c >= 0 {
			userinfo = userinfo[:c]
		}
		u.User = userinfo
		rest = rest[at+1:]
	}
	// One scan finds the end of hostport and its colons, so the common
	// "host" and "host:port" need no further search.
	end, colon, colons := 0, -1, 0
	for {
		end = skipHostBytes(rest, end)
		if end == len(rest) || hostByte[rest[end]] == hbEnd {
			break
		}
		if colon < 0 {
			colon = end
		}
		colons++
		end++
	}
	hp := rest[:end]
	var host []byte
	var port uint16
	switch {
	case len(hp) > 0 && hp[0] != '[' && colons == 0:
		host = hp
	case len(hp) > 0 && hp[0] != '[' && colons == 1 && colon > 0:
		p, ok := parseUint(hp[colon+1:], 65535)
		if !ok {
			*u = URI{Raw: raw}
			return false
		}
		host, port = hp[:colon], uint16(p)
	default:
		var ok bool
		if host, port, ok = splitHostPort(hp); !ok {
			*u = URI{Raw: raw}
			return false
		}
	}
	u.Scheme, u.Host, u.Port = scheme, host, port
	return true
}

// hostByte classes the bytes of a URI's hostport: the bytes that end it
// and the colon.
const (
	hbOther = iota
	hbEnd
	hbColon
)

var hostByte = [256]uint8{';': hbEnd, '?': hbEnd, '>': hbEnd, ' ': hbEnd, '\t': hbEnd, '\r': hbEnd, '\n': hbEnd, ':': hbColon}

// "sip/2.0/" as a little-endian word, and the mask that folds the case of
// its letters.
const (
	sipVersionWord = 's' | 'i'<<8 | 'p'<<16 | '/'<<24 | '2'<<32 | '.'<<40 | '0'<<48 | '/'<<56
	sipVersionMask = 0x202020
)

// "sip:" as a little-endian word, and the mask that folds the case of its
// letters.
const (
	sipWord = 's' | 'i'<<8 | 'p'<<16 | ':'<<24
	sipMask = 0x00202020
)

// skipHostBytes returns the offset of the first byte of s from i on that
// hostByte does not class as hbOther, or len(s). It tests 8 bytes at a
// time for the ASCII bytes up to ' ' and from ':' to '?', a superset of
// those, and confirms a candidate with the table.
func skipHostBytes(s []byte, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		y := x &^ hi8 // the bytes without their top bit: no carry below
		cand := (^(y + lo8*(0x80-0x21)) | (y+lo8*(0x80-0x3a))&^(y+lo8*(0x80-0x40))) &^ x & hi8
		for cand != 0 {
			j := i + bits.TrailingZeros64(cand)>>3
			if hostByte[s[j]] != hbOther {
				return j
			}
			cand &= cand - 1
		}
	}
	for i < len(s) && hostByte[s[i]] == hbOther {
		i++
	}
	return i
}

// splitHostPort splits
//
//	hostport = host [ ":" port ]    host = hostname / IPv4address / "[" IPv6address "]"
//
// returning host without brackets. An IPv6 address without brackets (not
// RFC 3261, but sent by real phones) is recognised when the whole of hp
// is one, or when it is one followed by ":port".
func splitHostPort(hp []byte) (host []byte, port uint16, ok bool) {
	if len(hp) == 0 {
		return nil, 0, false
	}
	var portStr []byte
	if hp[0] == '[' {
		end := indexByte(hp, ']')
		if end < 2 {
			return nil, 0, false
		}
		host, hp = hp[1:end], hp[end+1:]
		if len(hp) > 0 {
			if hp[0] != ':' {
				return nil, 0, false
			}
			portStr = hp[1:]
		}
	} else {
		colon := indexByte(hp, ':')
		switch {
		case colon < 0:
			host = hp
		case indexByte(hp[colon+1:], ':') < 0:
			host, portStr = hp[:colon], hp[colon+1:]
		default: // two or more colons: a bare IPv6 address
			if _, isAddr := parseAddr(hp); isAddr {
				host = hp
				break
			}
			last := lastIndexByte(hp, ':')
			if _, isAddr := parseAddr(hp[:last]); !isAddr {
				return nil, 0, false
			}
			host, portStr = hp[:last], hp[last+1:]
		}
	}
	if len(host) == 0 {
		return nil, 0, false
	}
	if portStr != nil {
		p, ok := parseUint(portStr, 65535)
		if !ok {
			return nil, 0, false
		}
		port = uint16(p)
	}
	return host, port, true
}

// indexByte is bytes.IndexByte for the short fields of a header value,
// where a loop the compiler inlines beats the call into the vector code;
// longer inputs still get the vector code.
func indexByte(s []byte, c byte) int {
	if len(s) > 16 {
		return bytes.IndexByte(s, c)
	}
	for i := range s {
		if s[i] == c {
			return i
		}
	}
	return -1
}

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// zeroBytes returns x with the top bit set in each zero byte of x. A set
// bit above (later than) a zero byte may be spurious, from the borrow, so
// only the lowest set bit is meaningful: the first zero byte of a
// little-endian load.
func zeroBytes(x uint64) uint64 { return (x - lo8) &^ x & hi8 }

// lessBytes is zeroBytes for the bytes below n (n <= 0x80).
func lessBytes(x, n uint64) uint64 { return (x - lo8*n) &^ x & hi8 }

func lastIndexByte(s []byte, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// indexAny2 returns the index of the first a or b in s, or len(s).
func indexAny2(s []byte, a, b byte) int {
	for k, c := range s {
		if c == a || c == b {
			return k
		}
	}
	return len(s)
}

// decodeNameAddr parses one name-addr or addr-spec with its header
// parameters into na and reports whether its URI parsed.
//
//	name-addr  = [ display-name ] LAQUOT addr-spec RAQUOT *( SEMI param )
//	addr-spec  = SIP-URI / SIPS-URI / absoluteURI        *( SEMI param )
//	display-name = *(token LWS) / quoted-string
func decodeNameAddr(v []byte, na *NameAddr) bool {
	v = ascii.TrimWS(v)
	*na = NameAddr{}
	na.Raw = v
	rest := v
	lt := -1
	if len(rest) > 0 {
		switch rest[0] {
		case '<':
			lt = 0 // no display name, the common case
		case '"':
			end := quotedEnd(rest)
			if end < 0 {
				return false
			}
			na.Display = rest[1:end]
			rest = rest[end+1:]
			lt = indexByte(rest, '<')
		default:
			lt = indexByte(rest, '<')
		}
	}
	var uri, params []byte
	if lt >= 0 {
		if na.Display == nil {
			na.Display = ascii.TrimWS(rest[:lt])
			if len(na.Display) == 0 {
				na.Display = nil
			}
		}
		gt := indexByte(rest[lt:], '>')
		if gt < 0 {
			return false
		}
		uri, params = ascii.TrimWS(rest[lt+1:lt+gt]), rest[lt+gt+1:]
	} else {
		rest = ascii.TrimWS(rest)
		semi := indexByte(rest, ';')
		if semi < 0 {
			semi = len(rest)
		}
		uri, params = rest[:semi], rest[semi:]
	}
	na.Tag = param(params, "tag")
	return decodeURI(uri, &na.URI)
}

// quotedEnd returns the index of the quote closing the quoted string that
// starts at s[0], honouring backslash escapes, or -1.
func quotedEnd(s []byte) int {
	for k := 1; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
		case '"':
			return k
		}
	}
	return -1
}

// param returns the value of the ;name=value parameter in params (which
// starts at the first ';'), name lower case; nil if absent, empty for a
// parameter without value. Quoted values lose their quotes.
func param(params []byte, name string) []byte {
	if k := 1 + len(name); len(params) > k && params[0] == ';' && params[k] == '=' && ascii.EqualFold(params[1:k], name) {
		// The first parameter is the one, the common case ";branch=..."
		// or ";tag=...": its value ends at the next ';' unless it holds a
		// quote, which the general loop below handles.
		v := params[k+1:]
		if end := indexByte(v, ';'); end >= 0 {
			v = v[:end]
		}
		if indexByte(v, '"') < 0 {
			return ascii.TrimWS(v)
		}
	}
	quoted := indexByte(params, '"') >= 0
	for len(params) > 0 {
		if params[0] != ';' {
			// Skip to the next ';' (stray text).
			k := indexByte(params, ';')
			if k < 0 {
				return nil
			}
			params = params[k:]
		}
		params = params[1:]
		end := len(params)
		if !quoted {
			if k := indexByte(params, ';'); k >= 0 {
				end = k
			}
		}
		inQ := false
		for k := 0; quoted && k < len(params); k++ {
			c := params[k]
			if c == '\\' && inQ {
				k++
				continue
			}
			if c == '"' {
				inQ = !inQ
			}
			if c == ';' && !inQ {
				end = k
				break
			}
		}
		p := params[:end]
		params = params[end:]
		n, val := p, p[len(p):]
		if eq := indexByte(p, '='); eq >= 0 {
			n, val = p[:eq], ascii.TrimWS(p[eq+1:])
		}
		if ascii.EqualFold(ascii.TrimWS(n), name) {
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			return val
		}
	}
	return nil
}

// cutList splits a comma-separated header value at its first top-level
// comma (outside quotes and angle brackets) and returns the trimmed first
// element and the remainder after the comma.
func cutList(v []byte) (first, rest []byte) {
	if indexByte(v, ',') < 0 {
		return ascii.TrimWS(v), nil // the common case, found with the vector search
	}
	inQ, inA := false, false
	for k := 0; k < len(v); k++ {
		switch c := v[k]; {
		case inQ && c == '\\':
			k++
		case c == '"':
			inQ = !inQ
		case inQ:
		case c == '<':
			inA = true
		case c == '>':
			inA = false
		case c == ',' && !inA:
			return ascii.TrimWS(v[:k]), v[k+1:]
		}
	}
	return ascii.TrimWS(v), nil
}

// decodeCSeq parses "CSeq: 4711 INVITE".
func (m *Message) decodeCSeq(v []byte) bool {
	k := 0
	for k < len(v) && isDigit(v[k]) {
		k++
	}
	n, ok := parseUint(v[:k], 1<<32-1)
	if !ok {
		return false
	}
	meth := ascii.TrimWS(v[k:])
	if k == len(v) || !ascii.IsWS(v[k]) || !isToken(meth) {
		return false
	}
	m.CSeqNum, m.CSeqMethod = uint32(n), meth
	return true
}

// decodeVia appends every value of one Via header to m.Via.
//
//	via-parm = sent-protocol LWS sent-by *( SEMI via-params )
//	sent-protocol = protocol-name SLASH protocol-version SLASH transport
//	sent-by = host [ COLON port ]
func (m *Message) decodeVia(v []byte) bool {
	ok := true
	for len(v) > 0 {
		var one []byte
		one, v = cutList(v)
		if len(one) == 0 {
			continue
		}
		m.ViaCount++
		var spare Via
		via := &spare
		if len(m.Via) < MaxVia {
			m.Via = append(m.Via, Via{})
			via = &m.Via[len(m.Via)-1] // decoded in place
		}
		if !decodeVia(one, via) {
			ok = false
		}
	}
	return ok
}

func decodeVia(one []byte, via *Via) bool {
	*via = Via{Raw: one}
	rest := one
	// protocol-name "/" version "/" transport, LWS allowed around slashes.
	if len(one) > 8 && binary.LittleEndian.Uint64(one)|sipVersionMask == sipVersionWord {
		rest = ascii.TrimLeftWS(one[8:]) // "SIP/2.0/" in any case, the common form
	} else {
		for slash := 0; slash < 2; slash++ {
			k := indexByte(rest, '/')
			if k < 0 {
				return false
			}
			rest = ascii.TrimLeftWS(rest[k+1:])
		}
	}
	k := 0
	for k < len(rest) && tokenChars[rest[k]] {
		k++
	}
	if k == 0 {
		return false
	}
	via.Transport = rest[:k]
	rest = ascii.TrimLeftWS(rest[k:])
	if h := skipHostBytes(rest, 0); h > 0 && rest[0] != '[' {
		// The common "host", "host;params", "host:port" or
		// "host:port;params", in one scan: what the general steps below
		// make of it.
		p, port := h, 0
		if p < len(rest) && rest[p] == ':' {
			p++
			for p < len(rest) && isDigit(rest[p]) {
				p++
			}
			var ok bool
			if port, ok = parseUint(rest[h+1:p], 65535); !ok {
				p = -1
			}
		}
		if p == len(rest) || p > 0 && rest[p] == ';' {
			via.Host, via.Port = rest[:h], uint16(port)
			if p < len(rest) {
				via.Branch = param(rest[p:], "branch")
			}
			return true
		}
	}
	// sent-by ends at the parameters; LWS is allowed around the colon.
	end := indexByte(rest, ';')
	if end < 0 {
		end = len(rest)
	}
	hp := ascii.TrimRightWS(rest[:end])
	c := indexByte(hp, ':')
	switch {
	case c < 0 && len(hp) > 0 && hp[0] != '[':
		via.Host = hp // a name or IPv4 address without port: splitHostPort's answer
	case c > 0 && (ascii.IsWS(hp[c-1]) || c+1 < len(hp) && ascii.IsWS(hp[c+1])):
		// "host : port": only legal for a name or bracketed address.
		p, ok := parseUint(ascii.TrimWS(rest[c+1:end]), 65535)
		if !ok {
			return false
		}
		via.Port = uint16(p)
		host, _, ok := splitHostPort(ascii.TrimRightWS(hp[:c])) // no colon: no port
		if !ok {
			return false
		}
		via.Host = host
	default:
		host, port, ok := splitHostPort(hp)
		if !ok {
			return false
		}
		via.Host, via.Port = host, port
	}
	if end < len(rest) { // rest[end:] starts with the ';' of the parameters
		via.Branch = param(rest[end:], "branch")
	}
	return true
}

// authUser returns the username parameter of a credentials value:
//
//	Digest username="alice", realm="example.com", nonce="...", uri="sip:..."
func authUser(v []byte) []byte {
	// Skip the auth scheme token.
	k := 0
	for k < len(v) && !ascii.IsWS(v[k]) {
		k++
	}
	rest := v[k:]
	for len(rest) > 0 {
		var p []byte
		p, rest = cutList(rest)
		eq := indexByte(p, '=')
		if eq < 0 {
			continue
		}
		if ascii.EqualFold(ascii.TrimWS(p[:eq]), "username") {
			val := ascii.TrimWS(p[eq+1:])
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			return val
		}
	}
	return nil
}

// Header returns the first value of the header called name, compared
// case-insensitively, with compact forms honoured both ways
// (Header("Call-ID") finds "i:", Header("i") finds "Call-ID:"). It returns
// nil when the header is absent. Header does not allocate.
func (m *Message) Header(name string) []byte {
	var compact byte
	full := name
	if len(name) == 1 {
		c := ascii.Lower(name[0])
		compact = c
		if c >= 'a' && c <= 'z' && compactForms[c-'a'] != "" {
			full = compactForms[c-'a']
		}
	} else {
		for k, f := range compactForms {
			if f != "" && len(f) == len(name) && ascii.EqualFold(f, name) {
				compact = byte('a' + k)
				break
			}
		}
	}
	for k := range m.Headers {
		n := m.Headers[k].Name
		if len(n) == 1 {
			if compact != 0 && ascii.Lower(n[0]) == compact {
				return m.Headers[k].Value
			}
			continue
		}
		if ascii.EqualFold(n, full) {
			return m.Headers[k].Value
		}
	}
	return nil
}
