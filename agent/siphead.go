package agent

import "bytes"

// sipHead is the little the pipeline needs from a SIP message: the Call-ID
// (send key, correlation), what ends a call, and the SDP body. Scanning for
// it costs a fraction of a full hep/sip decode (measured by
// BenchmarkPipeline), which the collector does anyway.
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
// Fields alias the scanned bytes.
type sipHead struct {
	request    bool
	method     []byte // request method
	status     int    // response status
	callID     []byte
	cseqMethod []byte
	ctype      []byte
	body       []byte
}

// scan fills h from b and reports whether b starts with a SIP start line.
// Headers it does not know are skipped; folded continuation lines are
// ignored (none of the four headers it reads is folded in practice).
func (h *sipHead) scan(b []byte) bool {
	*h = sipHead{}
	line, rest := cutLine(b)
	if bytes.HasPrefix(line, []byte("SIP/2.0 ")) {
		if len(line) < 11 {
			return false
		}
		st := 0
		for _, c := range line[8:11] {
			if c < '0' || c > '9' {
				return false
			}
			st = st*10 + int(c-'0')
		}
		h.status = st
	} else {
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 || !bytes.HasSuffix(line, []byte(" SIP/2.0")) {
			return false
		}
		h.request, h.method = true, line[:sp]
	}
	clen := -1
	for len(rest) > 0 {
		line, rest = cutLine(rest)
		if len(line) == 0 {
			break // end of headers
		}
		// Only Call-ID/i, CSeq, Content-Type/c and Content-Length/l matter:
		// other lines are skipped on their first byte.
		if c := line[0] | 0x20; c != 'c' && c != 'i' && c != 'l' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name := trimSpace(line[:colon])
		v := trimSpace(line[colon+1:])
		switch {
		case isName(name, "call-id", 'i'):
			h.callID = v
		case isName(name, "cseq", 0):
			if sp := bytes.IndexAny(v, " \t"); sp >= 0 {
				h.cseqMethod = trimSpace(v[sp+1:])
			}
		case isName(name, "content-type", 'c'):
			h.ctype = v
		case isName(name, "content-length", 'l'):
			n := 0
			for _, c := range v {
				if c < '0' || c > '9' || n > 1<<24 {
					n = -1
					break
				}
				n = n*10 + int(c-'0')
			}
			clen = n
		}
	}
	h.body = rest
	if clen >= 0 && clen <= len(rest) {
		h.body = rest[:clen]
	}
	return true
}

// cutLine splits b after its first line; the line loses its CR LF or LF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isName compares a header name with a lower-case long form and its
// compact letter (0 for none), ignoring case.
func isName(name []byte, long string, compact byte) bool {
	if len(name) == 1 {
		return compact != 0 && name[0]|0x20 == compact
	}
	if len(name) != len(long) {
		return false
	}
	for i := range len(name) {
		if name[i]|0x20 != long[i] && name[i] != long[i] {
			return false
		}
	}
	return true
}
