package sip

import (
	"bytes"

	"github.com/xhep/xhep/hep/ascii"
)

// Head is the little a capture agent needs from a SIP message: the
// Call-ID (send key, correlation), what ends a call, and the SDP body.
// [Head.Scan] finds it in a fraction of the time of a full
// [Message.DecodeFromBytes] (BenchmarkHeadScan beside BenchmarkDecode);
// the collector decodes fully anyway. Field names are those of [Message].
//
// A SIP message (RFC 3261 §7):
//
//	start-line   = Request-Line "METHOD SP Request-URI SP SIP/2.0"
//	             / Status-Line  "SIP/2.0 SP 3DIGIT SP Reason-Phrase"
//	*message-header "name HCOLON value" (name case-insensitive; compact
//	                 forms i: Call-ID, c: Content-Type, l: Content-Length)
//	CRLF (bare LF accepted)
//	[ message-body ] (Content-Length bytes when given, else the rest)
//
// Fields alias the scanned bytes and are valid while they are and until
// the next Scan. A Head is for one goroutine.
type Head struct {
	IsRequest   bool
	Method      []byte // request method
	StatusCode  int    // response status
	CallID      []byte
	CSeqMethod  []byte
	ContentType []byte
	Body        []byte
}

// Scan fills h from b and reports whether b starts with a SIP start line
// (h is zero when it does not). It reads only the Call-ID (i), CSeq,
// Content-Type (c) and Content-Length (l) headers, the first of each; other
// lines are skipped on their first byte. A value folded whole onto the
// next line (RFC 3261 §7.3.1, "Call-ID:" CRLF SP value) is taken from
// there; a value continued after its first part keeps the first part only
// (none of the four is folded that way in practice). A Content-Length that
// is not a number, or larger than the bytes there, leaves Body as the rest
// of b. Scan does not allocate.
func (h *Head) Scan(b []byte) bool {
	*h = Head{}
	line, rest := cutLine(b)
	if hasPrefix(line, statusPrefix) {
		if len(line) < 11 || !isDigit(line[8]) || !isDigit(line[9]) || !isDigit(line[10]) {
			return false
		}
		h.StatusCode = int(line[8]-'0')*100 + int(line[9]-'0')*10 + int(line[10]-'0')
	} else {
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 || !bytes.HasSuffix(line, []byte(" SIP/2.0")) {
			return false
		}
		h.IsRequest, h.Method = true, line[:sp]
	}
	clen := -1
	var haveID, haveCSeq, haveCT bool
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break // end of headers
		}
		if c := ascii.Lower(line[0]); c != 'c' && c != 'i' && c != 'l' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := ascii.TrimRightWS(line[:colon])
		v := line[colon+1:]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:] // "name: value": TrimWS then returns at once
		}
		v = ascii.TrimWS(v)
		if len(v) == 0 && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			// Folded: the value is on the continuation line.
			line, rest = cutLine(rest)
			v = ascii.TrimWS(line)
		}
		switch headName(name) {
		case 'i':
			if !haveID {
				h.CallID, haveID = v, true
			}
		case 's':
			if !haveCSeq {
				haveCSeq = true
				for i, c := range v {
					if c == ' ' || c == '\t' {
						h.CSeqMethod = ascii.TrimWS(v[i+1:])
						break
					}
				}
			}
		case 'c':
			if !haveCT {
				h.ContentType, haveCT = v, true
			}
		case 'l':
			if clen == -1 {
				clen = -2 // seen, not a number
				if n, ok := parseUint(v, MaxBodySize<<4); ok {
					clen = n
				}
			}
		}
	}
	h.Body = rest
	if clen >= 0 && clen <= len(rest) {
		h.Body = rest[:clen]
	}
	return true
}

// HasSDP reports whether the message carries an SDP body: a non-empty
// body with a Content-Type [IsSDP] accepts.
func (h *Head) HasSDP() bool { return len(h.Body) > 0 && IsSDP(h.ContentType) }

// EndsCall reports whether the message ends its call's media: BYE and
// CANCEL, a final error response (>= 300) to INVITE other than 491 Request
// Pending, and 481 Call/Transaction Does Not Exist to anything.
func (h *Head) EndsCall() bool {
	switch {
	case h.IsRequest:
		return ascii.EqualFold(h.Method, "BYE") || ascii.EqualFold(h.Method, "CANCEL")
	case h.StatusCode == 481:
		return true
	default:
		return h.StatusCode >= 300 && h.StatusCode != 491 && ascii.EqualFold(h.CSeqMethod, "INVITE")
	}
}

// IsSDP reports whether a Content-Type value names application/sdp
// (RFC 8866 §5): the media type in any case, then nothing, parameters
// (";"), or whitespace. "application/sdpfoo" is not SDP.
func IsSDP(contentType []byte) bool {
	const want = "application/sdp"
	ct := ascii.TrimLeftWS(contentType)
	if !ascii.HasPrefixFold(ct, want) {
		return false
	}
	rest := ct[len(want):]
	return len(rest) == 0 || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t'
}

// cutLine splits b after its first line; the line loses its CRLF or LF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	return ascii.TrimCR(b[:i]), b[i+1:]
}

// headName tells which of the headers Scan reads name is, by its compact
// letter ('i' Call-ID, 'c' Content-Type, 'l' Content-Length; 's' CSeq,
// which has none), or 0. Case is ignored; the length picks the one long
// form to compare.
func headName(name []byte) byte {
	switch len(name) {
	case 1:
		switch c := ascii.Lower(name[0]); c {
		case 'i', 'c', 'l':
			return c
		}
	case 4:
		if ascii.EqualFold(name, "cseq") {
			return 's'
		}
	case 7:
		if ascii.EqualFold(name, "call-id") {
			return 'i'
		}
	case 12:
		if ascii.EqualFold(name, "content-type") {
			return 'c'
		}
	case 14:
		if ascii.EqualFold(name, "content-length") {
			return 'l'
		}
	}
	return 0
}
