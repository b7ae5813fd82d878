package sip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/xhep/xhep/hep/ascii"
)

// Limits applied by [FrameLength] and [Message.DecodeFromBytes].
const (
	// MaxHeaderSize bounds the start line plus all header lines, blank line
	// included. A stream that has not shown the end of its headers within
	// this many bytes is not SIP we can frame: [ErrTooLarge].
	MaxHeaderSize = 64 << 10
	// MaxBodySize bounds the Content-Length a stream message may announce.
	MaxBodySize = 1 << 20
	// MaxHeaders bounds the number of header lines kept in Message.Headers;
	// further lines are counted as [ErrTooManyHeaders].
	MaxHeaders = 256
	// MaxVia bounds the number of Via values kept in Message.Via
	// (Message.ViaCount still counts them all).
	MaxVia = 64
)

// Errors returned by the framing functions and decoders. They are sentinel
// values (compare with errors.Is) and are returned unwrapped, so the hot
// path does not allocate for them.
var (
	// ErrIncomplete: the bytes so far are a plausible start of a SIP message
	// but more are needed to frame it (stream transports).
	ErrIncomplete = errors.New("sip: incomplete message")
	// ErrMalformed: the bytes do not start with a SIP request or status line.
	ErrMalformed = errors.New("sip: malformed start line")
	// ErrTooLarge: the header section exceeds MaxHeaderSize, or the
	// announced body exceeds MaxBodySize.
	ErrTooLarge = errors.New("sip: message too large")
	// ErrBadContentLength: a Content-Length ("l") value that is not a
	// decimal number.
	ErrBadContentLength = errors.New("sip: invalid Content-Length")
	// ErrBodyTruncated: Content-Length announces more bytes than the
	// datagram holds. The message is otherwise decoded; Body holds what is
	// there.
	ErrBodyTruncated = errors.New("sip: body shorter than Content-Length")
	// ErrHeadersTruncated: the message ends before the blank line that
	// ends its headers (a datagram or capture cut short). The headers
	// that are there are decoded.
	ErrHeadersTruncated = errors.New("sip: message ends inside its headers")
	// ErrBadHeader: a header line without a colon or with an empty name.
	// The line is skipped; the rest of the message is decoded.
	ErrBadHeader = errors.New("sip: malformed header line")
	// ErrTooManyHeaders: more than MaxHeaders header lines.
	ErrTooManyHeaders = errors.New("sip: too many headers")
	// ErrBadURI: a Request-URI, From, To, Contact, P-Asserted-Identity or
	// Diversion value whose URI cannot be parsed. Raw keeps the value.
	ErrBadURI = errors.New("sip: malformed URI")
	// ErrBadCSeq: a CSeq that is not "number method".
	ErrBadCSeq = errors.New("sip: malformed CSeq")
	// ErrBadVia: a Via value that is not "SIP/2.0/transport host[:port]".
	ErrBadVia = errors.New("sip: malformed Via")
	// ErrBadSDP: an SDP line that is not "x=value", or an m=/c= line that
	// cannot be parsed. The line is skipped.
	ErrBadSDP = errors.New("sdp: malformed line")
	// ErrTooManyMedia: more than MaxMedia m= lines; the rest are skipped.
	ErrTooManyMedia = errors.New("sdp: too many media")
)

// methods are the request methods [LooksLikeSIP] recognises (RFC 3261 and
// its extensions: 3262 PRACK, 6665 SUBSCRIBE/NOTIFY, 3903 PUBLISH, 6086
// INFO, 3515 REFER, 3428 MESSAGE, 3311 UPDATE).
var methods = [...]string{
	"INVITE ", "ACK ", "BYE ", "CANCEL ", "REGISTER ", "OPTIONS ", "PRACK ",
	"SUBSCRIBE ", "NOTIFY ", "PUBLISH ", "INFO ", "REFER ", "MESSAGE ", "UPDATE ",
}

const statusPrefix = "SIP/2.0 "

// LooksLikeSIP reports whether b starts like a SIP message: a known request
// method followed by a space, or "SIP/2.0 " (a status line). It is the cheap
// content test for the agent's classifier and looks at no more than the
// first ten bytes. Method names are case-sensitive (RFC 3261 §7.1).
func LooksLikeSIP(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	return hasPrefix(b, statusPrefix) || methodLen(b) > 0
}

// methodLen returns the length of the known method b starts with (not
// counting the space after it), or 0.
func methodLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case 'I', 'A', 'B', 'C', 'R', 'O', 'P', 'S', 'N', 'U', 'M':
	default:
		return 0
	}
	for _, m := range methods {
		if m[0] == b[0] && hasPrefix(b, m) {
			return len(m) - 1
		}
	}
	return 0
}

// MaxStartLine bounds the search for the end of a start line in
// [HasStartLine].
const MaxStartLine = 2048

// HasStartLine is the content test for traffic that is not on a SIP port,
// stricter than [LooksLikeSIP]: a status line "SIP/2.0 NNN " (12 bytes at
// least), or a request line ending in " SIP/2.0" (any case, as ABNF
// literals are) and LF within [MaxStartLine] bytes — a known method with
// any Request-URI, or any other token as the method when the line is a
// well-formed request line ([StartsWithStartLine]; the first byte must be
// a letter, so RTP and binary protocols fail at once). It does not
// allocate.
func HasStartLine(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	if hasPrefix(b, statusPrefix) {
		return isDigit(b[8]) && isDigit(b[9]) && isDigit(b[10]) && b[11] == ' '
	}
	lim := b[:min(len(b), MaxStartLine)]
	if methodLen(b) == 0 {
		if c := ascii.Lower(b[0]); c < 'a' || c > 'z' {
			return false // RTP (0x80...) and binary protocols end here
		}
		return bytes.IndexByte(lim, '\n') > 0 && StartsWithStartLine(lim)
	}
	i := bytes.IndexByte(lim, '\n')
	if i < 0 {
		return false
	}
	line := ascii.TrimCR(lim[:i])
	return len(line) > 8 && ascii.EqualFold(line[len(line)-8:], " SIP/2.0")
}

// MethodOf returns the method of a SIP request (a known method, or the
// token of a well-formed request line), or for a response the method of
// its CSeq header ("CSeq: 1 INVITE"); nil if none is found before the
// blank line. It aliases b and does not allocate; it is the agent's
// method filter (--drop-method).
func MethodOf(b []byte) []byte {
	if n := methodLen(b); n > 0 {
		return b[:n]
	}
	if !hasPrefix(b, statusPrefix) && StartsWithStartLine(b) {
		return b[:bytes.IndexByte(b, ' ')] // an extension method
	}
	// Find a CSeq header line (the name is case-insensitive and has no
	// compact form).
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return nil
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return nil // end of headers
		}
		if len(line) < 5 || !ascii.EqualFold(line[:4], "cseq") {
			continue
		}
		rest := bytes.TrimLeft(line[4:], " \t")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		_, rest = field(rest[1:]) // the number
		m, _ := field(rest)
		if len(m) == 0 {
			return nil
		}
		return m
	}
	return nil
}

// StartsWithStartLine reports whether the first line of b (up to its LF,
// a CR before it ignored, within [MaxHeaderSize] bytes) is a SIP request
// line — any RFC 3261 token as the method, SP, a Request-URI without
// spaces or control characters, SP, "SIP/2.0" — or a status line. It is
// the structural test for requests [LooksLikeSIP] does not know by name
// (extension methods); stricter than framing, which tolerates spaces in
// the Request-URI. It does not allocate.
func StartsWithStartLine(b []byte) bool {
	if len(b) > MaxHeaderSize {
		b = b[:MaxHeaderSize]
	}
	nl := bytes.IndexByte(b, '\n')
	if nl <= 0 {
		return false
	}
	line := ascii.TrimCR(b[:nl])
	if hasPrefix(line, statusPrefix) {
		return validStatusLine(line)
	}
	sp, last, ok := requestLine(line)
	return ok && bytes.IndexByte(line[sp+1:last], ' ') < 0
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// KeepAliveLen returns how many leading bytes of b are CR or LF: the RFC
// 5626 keep-alive "ping" (CRLFCRLF) and "pong" (CRLF) on stream transports,
// and stray line ends between messages. A stream framer skips them before
// calling [FrameLength]; a datagram consisting only of them is a keep-alive,
// not SIP.
func KeepAliveLen(b []byte) int {
	for i, c := range b {
		if c != '\r' && c != '\n' {
			return i
		}
	}
	return len(b)
}

// FrameLength returns the length of the first complete SIP message at the
// start of b, for framing a stream (TCP, TLS, WebSocket payloads, SCTP).
//
// A message is
//
//	start-line CRLF *(header CRLF) CRLF [body]
//
// where bare LF is accepted wherever CRLF is, and the body is exactly
// Content-Length (compact "l") bytes. On a stream Content-Length is
// mandatory (RFC 3261 §18.3); when it is absent FrameLength treats the body
// as empty, so a peer that omits it still frames message by message. A
// Content-Length that is not a decimal number returns [ErrBadContentLength]
// because the stream cannot be framed past it.
//
// Results: n > 0 and nil; or [ErrIncomplete] when b is a plausible prefix
// and more bytes are needed; [ErrMalformed] when b does not start with a
// request or status line (junk: the caller resynchronises, for instance by
// skipping to the next line that [LooksLikeSIP]); [ErrTooLarge] when the
// headers exceed [MaxHeaderSize] or the body [MaxBodySize]. Leading CR/LF
// bytes are not skipped (see [KeepAliveLen]). FrameLength does not
// allocate.
func FrameLength(b []byte) (n int, err error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if !plausibleStart(b) {
			return 0, ErrMalformed
		}
		if len(b) > MaxHeaderSize {
			return 0, ErrTooLarge
		}
		return 0, ErrIncomplete
	}
	if !validStartLine(ascii.TrimCR(b[:nl])) {
		return 0, ErrMalformed
	}
	clen := -1
	i := nl + 1
	for {
		if i > MaxHeaderSize {
			return 0, ErrTooLarge
		}
		if i >= len(b) {
			if len(b) > MaxHeaderSize {
				return 0, ErrTooLarge
			}
			return 0, ErrIncomplete
		}
		e := bytes.IndexByte(b[i:], '\n')
		if e < 0 {
			if len(b) > MaxHeaderSize {
				return 0, ErrTooLarge
			}
			return 0, ErrIncomplete
		}
		line := ascii.TrimCR(b[i : i+e])
		i += e + 1
		if len(line) == 0 {
			break // end of headers
		}
		if clen >= 0 {
			continue // first Content-Length wins
		}
		if v, ok := contentLengthLine(line); ok {
			c, ok := parseUint(v, 1<<40)
			if !ok {
				return 0, ErrBadContentLength
			}
			if c > MaxBodySize {
				return 0, ErrTooLarge
			}
			clen = c
		}
	}
	if i > MaxHeaderSize {
		return 0, ErrTooLarge
	}
	if clen < 0 {
		clen = 0
	}
	if len(b)-i < clen {
		return 0, ErrIncomplete
	}
	return i + clen, nil
}

// contentLengthLine reports whether line is a Content-Length or "l" header
// and returns its trimmed value.
func contentLengthLine(line []byte) ([]byte, bool) {
	switch line[0] {
	case 'l', 'L', 'c', 'C':
	default:
		return nil, false
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, false
	}
	name := ascii.TrimRightWS(line[:colon])
	if !(len(name) == 1 && ascii.Lower(name[0]) == 'l') && !ascii.EqualFold(name, "content-length") {
		return nil, false
	}
	return ascii.TrimWS(line[colon+1:]), true
}

// validStartLine reports whether line (without its line end) is a SIP
// request line "Method SP Request-URI SP SIP/2.0" or a status line
// "SIP/2.0 SP 3DIGIT [SP Reason]".
func validStartLine(line []byte) bool {
	if hasPrefix(line, statusPrefix) {
		return validStatusLine(line)
	}
	_, _, ok := requestLine(line)
	return ok
}

// validStatusLine reports whether line, which starts with "SIP/2.0 ", is a
// status line.
func validStatusLine(line []byte) bool {
	if len(line) < 11 || !isDigit(line[8]) || !isDigit(line[9]) || !isDigit(line[10]) {
		return false
	}
	return len(line) == 11 || line[11] == ' '
}

// requestLine checks a request line in one pass and returns the offsets
// of its first and last spaces. The method is a token followed by a space;
// the line ends in " SIP/2.0" (any case), so its last space is the one
// before the version; the Request-URI between them holds no control
// characters but spaces.
func requestLine(line []byte) (sp, last int, ok bool) {
	for sp < len(line) && tokenChars[line[sp]] {
		sp++
	}
	if sp == 0 || sp == len(line) || line[sp] != ' ' {
		return 0, 0, false
	}
	last = len(line) - 8
	if last <= sp+1 || binary.LittleEndian.Uint64(line[last:])|spSIPVersionMask != spSIPVersionWord {
		return 0, 0, false
	}
	uri := line[sp+1 : last]
	i := 0
	for ; i+8 <= len(uri); i += 8 { // no byte below 0x20 or DEL, 8 at a time
		x := binary.LittleEndian.Uint64(uri[i:])
		if lessBytes(x, 0x20)|zeroBytes(x^(lo8*0x7f)) != 0 {
			return 0, 0, false
		}
	}
	for _, c := range uri[i:] {
		if c < 0x20 || c == 0x7f {
			return 0, 0, false
		}
	}
	return sp, last, true
}

// " SIP/2.0" as a little-endian word, and the mask that folds the case of
// its letters: the end of a request line, compared at once.
const (
	spSIPVersionWord = ' ' | 's'<<8 | 'i'<<16 | 'p'<<24 | '/'<<32 | '2'<<40 | '.'<<48 | '0'<<56
	spSIPVersionMask = 0x20202000
)

// plausibleStart reports whether b, which holds no line end yet, could be
// the beginning of a start line.
func plausibleStart(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	sp := bytes.IndexByte(b, ' ')
	tok := b
	if sp >= 0 {
		tok = b[:sp]
	}
	if !isToken(tok) && !(len(tok) <= len(statusPrefix) && string(tok) == statusPrefix[:len(tok)]) {
		return false
	}
	for i, c := range b {
		if c < 0x20 && c != '\t' && !(c == '\r' && i == len(b)-1) || c == 0x7f {
			return false
		}
	}
	return true
}

// tokenChars marks RFC 3261 token characters:
// alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-.!%*_+`'~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseUint parses a non-empty run of decimal digits; values above limit
// fail.
func parseUint(b []byte, limit int) (int, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > limit {
			return 0, false
		}
	}
	return n, true
}
