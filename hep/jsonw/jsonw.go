package jsonw

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"unicode/utf8"
)

// safe marks the bytes that go into a JSON string unchanged: ASCII from
// 0x20 on except '"' and '\\' (DEL needs no escape in JSON).
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// The ways of writing U+FFFD for a byte that is not valid UTF-8.
const (
	replEscape = `\ufffd`
	replUTF8   = "\uFFFD"
)

// AppendString appends s as a JSON string. Control characters, '"' and
// '\\' are escaped; bytes that are not valid UTF-8 become U+FFFD (written
// \ufffd), so the result is always valid JSON text that MariaDB's
// JSON_VALID accepts.
func AppendString(dst, s []byte) []byte {
	return appendQuoted(dst, s, replEscape)
}

// AppendField appends pre, the constant text before the value (separator
// and key included: `,"from_user":`), and s as [AppendString] does. It is
// inlined, so the compiler copies a constant pre without a call.
func AppendField(dst []byte, pre string, s []byte) []byte {
	return appendQuoted(append(dst, pre...), s, replEscape)
}

// AppendStringUTF8 is [AppendString] but writes the U+FFFD that replaces
// a byte that is not valid UTF-8 as its UTF-8 bytes, not as an escape:
// decoding the result and appending it again gives the same bytes.
func AppendStringUTF8(dst, s []byte) []byte {
	return appendQuoted(dst, s, replUTF8)
}

// AppendEscaped appends the inside of a JSON string: s escaped as
// [AppendString] does, without the quotes.
func AppendEscaped(dst, s []byte) []byte {
	return appendEscaped(dst, s, replEscape)
}

// appendQuoted appends s as a JSON string.
func appendQuoted(b []byte, s []byte, repl string) []byte {
	return append(appendEscaped(append(b, '"'), s, repl), '"')
}

// appendEscaped appends s escaped. Most values need no escape at all:
// they are tested and copied in one pass, 8 bytes at a time, into room
// reserved once (with 8 bytes to spare, so a word may be stored whole).
// No call is made on this path.
func appendEscaped(b []byte, s []byte, repl string) []byte {
	n := len(b)
	if cap(b)-n < len(s)+8 {
		b = slices.Grow(b, len(s)+8)
	}
	d := b[n : n+len(s)+8]
	i := 0
	if len(s) < 8 && cap(s) >= 8 {
		// A short value inside a larger buffer (a field of a packet):
		// one load within its capacity, the bytes past its end tested as
		// 'a' and stored as they are, to be overwritten.
		mask := uint64(1)<<(8*len(s)) - 1
		x := binary.LittleEndian.Uint64(s[:8])
		if safeWord(x&mask | lo7*'a'&^mask) {
			binary.LittleEndian.PutUint64(d, x)
			return b[:n+len(s)]
		}
	}
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if !safeWord(x) {
			break
		}
		binary.LittleEndian.PutUint64(d[i:], x)
	}
	if i < len(s) && len(s) >= 8 && i+8 > len(s) {
		// The tail as the last 8 bytes, overlapping those copied.
		if x := binary.LittleEndian.Uint64(s[len(s)-8:]); safeWord(x) {
			binary.LittleEndian.PutUint64(d[len(s)-8:], x)
			return b[:n+len(s)]
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if !safe[c] {
			return appendEscapedFrom(b[:n], s, i, repl)
		}
		d[i] = c
	}
	return b[:n+len(s)]
}

// appendEscapedFrom is appendEscaped's slow path: s[:i] is known safe.
func appendEscapedFrom(b []byte, s []byte, i int, repl string) []byte {
	start := 0
	for i < len(s) {
		// Skip 8 safe bytes at a time (SWAR): none >= 0x80, < 0x20, '"' or '\\'.
		for i+8 <= len(s) && safeWord(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if safe[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, repl...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(b, s[start:]...)
}

const (
	lo7 = 0x0101010101010101
	hi7 = 0x8080808080808080
)

// safeWord reports whether the 8 bytes of x are all safe (see safe). A
// byte with its top bit set fails; when there is none, no byte subtraction
// below borrows unless some byte is below 0x20 or equals '"' or '\\', so
// a top bit in any term marks an unsafe byte (hasLess without its ^x mask,
// three tests folded into one).
func safeWord(x uint64) bool {
	return (x|(x-lo7*0x20)|((x^(lo7*'"'))-lo7)|((x^(lo7*'\\'))-lo7))&hi7 == 0
}

// AppendUint appends pre, the constant text before the value (separator
// and key included: `,"ssrc":`), and v in decimal. It is inlined, so the
// compiler copies a constant pre without a call.
func AppendUint(dst []byte, pre string, v uint64) []byte {
	return appendUint(append(dst, pre...), v)
}

// AppendInt appends pre and v in decimal (see [AppendUint]).
func AppendInt(dst []byte, pre string, v int64) []byte {
	return appendInt(append(dst, pre...), v)
}

func appendInt(b []byte, v int64) []byte {
	if v < 0 {
		return strconv.AppendInt(b, v, 10)
	}
	return appendUint(b, uint64(v))
}

// appendUint appends v in decimal, written in place two digits at a time
// from the end (strconv formats into a buffer of its own and copies).
func appendUint(b []byte, v uint64) []byte {
	if v < 10 {
		return append(b, byte('0'+v))
	}
	if v < 100 {
		return append(b, digits2[2*v], digits2[2*v+1])
	}
	// The number of digits from the bit length: log10(2) ~ 1233/4096,
	// corrected by one compare.
	t := bits.Len64(v) * 1233 >> 12
	n := t + 1
	if v < pow10[t] {
		n--
	}
	k := len(b)
	if cap(b)-k < n {
		b = slices.Grow(b, n)
	}
	b = b[:k+n]
	d := b[k:]
	i := n
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		d[i], d[i+1] = digits2[r], digits2[r+1]
		v = q
	}
	if v >= 10 {
		d[0], d[1] = digits2[2*v], digits2[2*v+1]
	} else {
		d[0] = byte('0' + v)
	}
	return b
}

// pow10[n] is the smallest number of n+1 digits.
var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

const digits2 = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// AppendAddr appends pre and a as a JSON string ("" for the zero Addr),
// as netip.Addr.AppendTo writes it (see [AppendUint]).
func AppendAddr(dst []byte, pre string, a netip.Addr) []byte {
	return appendAddr(append(dst, pre...), a)
}

// appendAddr writes an IPv4 address digit by digit in place; others go
// through AppendTo.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if !a.Is4() {
		dst = append(dst, '"')
		if a.IsValid() {
			dst = a.AppendTo(dst)
		}
		return append(dst, '"')
	}
	n := len(dst)
	if cap(dst)-n < 17 {
		dst = slices.Grow(dst, 17)
	}
	d := dst[n : n+17]
	d[0] = '"'
	k := 1
	for i, o := range a.As4() {
		if i > 0 {
			d[k] = '.'
			k++
		}
		switch {
		case o >= 100:
			d[k], d[k+1], d[k+2] = '0'+o/100, '0'+o/10%10, '0'+o%10
			k += 3
		case o >= 10:
			d[k], d[k+1] = '0'+o/10, '0'+o%10
			k += 2
		default:
			d[k] = '0' + o
			k++
		}
	}
	d[k] = '"'
	return dst[:n+k+1]
}

// AppendBool appends pre and v as true or false (see [AppendUint]).
func AppendBool(dst []byte, pre string, v bool) []byte {
	return strconv.AppendBool(append(dst, pre...), v)
}

// AppendHex appends b as lowercase hex digits, two a byte.
func AppendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}
