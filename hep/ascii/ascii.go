package ascii

// Text is the input every helper accepts: raw bytes or a string literal.
type Text interface{ ~[]byte | ~string }

// lowerTable maps 'A'..'Z' to 'a'..'z' and every other byte to itself.
var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c - 'A' + 'a')
	}
	return t
}()

// Lower returns c in lower case if it is an ASCII upper-case letter, else c.
func Lower(c byte) byte { return lowerTable[c] }

// EqualFold reports whether a and b are equal ignoring ASCII case.
func EqualFold[A, B Text](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c, d := a[i], b[i]
		if c == d {
			continue
		}
		// Equal but for case only if they differ in bit 0x20 and are letters.
		if c |= 0x20; c != d|0x20 || c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// HasPrefixFold reports whether b begins with prefix, ignoring ASCII case.
func HasPrefixFold[A, B Text](b A, prefix B) bool {
	return len(b) >= len(prefix) && EqualFold(b[:len(prefix)], prefix)
}

// ContainsFold reports whether s occurs in b, ignoring ASCII case.
func ContainsFold[A, B Text](b A, s B) bool {
	n := len(s)
	if n == 0 {
		return true
	}
	first := lowerTable[s[0]]
	for i := 0; i+n <= len(b); i++ {
		if lowerTable[b[i]] == first && EqualFold(b[i:i+n], s) {
			return true
		}
	}
	return false
}

// IsWS reports whether c is SP, HTAB, CR or LF: the whitespace [TrimWS]
// removes (RFC 3261 LWS once lines are joined, RFC 5234 WSP plus line
// ends).
func IsWS(c byte) bool { return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n') }

// TrimWS returns b without leading and trailing SP, HTAB, CR and LF. It
// returns b itself, inlined, when there is nothing to trim (the common
// case); the loops run otherwise.
func TrimWS[T Text](b T) T {
	if n := len(b); n > 0 && min(b[0], b[n-1]) <= ' ' {
		return trimWSSlow(b)
	}
	return b
}

func trimWSSlow[T Text](b T) T {
	i, j := 0, len(b)
	for i < j && IsWS(b[i]) {
		i++
	}
	for j > i && IsWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

// TrimLeftWS returns b without leading SP, HTAB, CR and LF.
func TrimLeftWS[T Text](b T) T {
	if len(b) == 0 || b[0] > ' ' {
		return b
	}
	i := 0
	for i < len(b) && IsWS(b[i]) {
		i++
	}
	return b[i:]
}

// TrimRightWS returns b without trailing SP, HTAB, CR and LF.
func TrimRightWS[T Text](b T) T {
	if len(b) == 0 || b[len(b)-1] > ' ' {
		return b
	}
	j := len(b)
	for j > 0 && IsWS(b[j-1]) {
		j--
	}
	return b[:j]
}

// TrimOWS returns b without leading and trailing SP and HTAB only (HTTP's
// OWS, RFC 9110 §5.6.3): line ends are kept.
func TrimOWS[T Text](b T) T {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	return b[i:j]
}

// TrimCR returns b without one CR at its end: a line cut at its LF loses
// the CR of its CRLF. A second CR is content (RFC 3261 §7: the line end is
// CRLF) and stays.
func TrimCR[T Text](b T) T {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
