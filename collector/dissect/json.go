package dissect

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// jw appends a JSON object to b by hand, so building a row does not
// allocate (no encoding/json, no reflection). Keys are constants of this
// package and are written unescaped; string values go through
// appendString. A nested object or array is opened after key.
type jw struct {
	b     []byte
	first bool // the next member is the first of its object or array
}

func (w *jw) reset(b []byte) { w.b = b[:0]; w.first = true }

func (w *jw) open()  { w.sep(); w.b = append(w.b, '{'); w.first = true }
func (w *jw) close() { w.b = append(w.b, '}'); w.first = false }

func (w *jw) openArray()  { w.b = append(w.b, '['); w.first = true }
func (w *jw) closeArray() { w.b = append(w.b, ']'); w.first = false }

// sep writes the comma before every member but the first.
func (w *jw) sep() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
}

// key writes ,"k": — k must not need escaping. The value that follows
// takes no comma (first stays true until it is written).
func (w *jw) key(k string) {
	b := w.b
	if len(b)+len(k)+4 > cap(b) {
		b = slices.Grow(b, len(k)+4)
	}
	n := len(b)
	if !w.first {
		b = b[:n+1]
		b[n] = ','
		n++
	}
	b = b[:n+len(k)+3]
	b[n] = '"'
	copy(b[n+1:], k)
	b[n+1+len(k)] = '"'
	b[n+2+len(k)] = ':'
	w.b = b
	w.first = true
}

func (w *jw) str(k string, v []byte) {
	w.key(k)
	w.first = false
	w.b = appendString(w.b, v)
}

// strNE writes the member only when v is not empty.
func (w *jw) strNE(k string, v []byte) {
	if len(v) > 0 {
		w.str(k, v)
	}
}

func (w *jw) int(k string, v int64) {
	w.key(k)
	w.first = false
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jw) uint(k string, v uint64) {
	w.key(k)
	w.first = false
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jw) bool(k string, v bool) {
	w.key(k)
	w.first = false
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jw) addr(k string, a netip.Addr) {
	w.key(k)
	w.first = false
	w.b = append(w.b, '"')
	if a.IsValid() {
		w.b = a.AppendTo(w.b)
	}
	w.b = append(w.b, '"')
}

// The append* helpers write one member of an object whose layout is fixed:
// pre is the constant text before the value, its separator and key
// included (`{"callid":` for the first member, `,"method":` for the
// others), so a member costs one append and the value's.

func appendU(b []byte, pre string, v uint64) []byte {
	return strconv.AppendUint(append(b, pre...), v, 10)
}

func appendI(b []byte, pre string, v int64) []byte {
	return strconv.AppendInt(append(b, pre...), v, 10)
}

func appendS(b []byte, pre string, v []byte) []byte {
	return appendString(append(b, pre...), v)
}

// appendSNE writes the member only when v is not empty.
func appendSNE(b []byte, pre string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return appendString(append(b, pre...), v)
}

func appendA(b []byte, pre string, a netip.Addr) []byte {
	b = append(b, pre...)
	b = append(b, '"')
	if a.IsValid() {
		b = a.AppendTo(b)
	}
	return append(b, '"')
}

// safe marks the bytes that go into a JSON string unchanged: ASCII from
// 0x20 on except '"' and '\\' (DEL needs no escape in JSON).
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Control characters, '"' and
// '\\' are escaped; bytes that are not valid UTF-8 become U+FFFD, so the
// result is always valid JSON text that MariaDB's JSON_VALID accepts (the
// raw column keeps the original bytes).
func appendString(b []byte, s []byte) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the inside of a JSON string: s escaped as
// appendString does, without the quotes.
func appendEscaped(b []byte, s []byte) []byte {
	// Fast path: most values need no escape at all and are copied whole
	// after one scan, 8 bytes at a time, then byte by byte for the tail.
	i := 0
	for i+8 <= len(s) && safeWord(binary.LittleEndian.Uint64(s[i:])) {
		i += 8
	}
	if i+8 > len(s) && len(s) >= 8 && safeWord(binary.LittleEndian.Uint64(s[len(s)-8:])) {
		return append(b, s...) // the tail, as the last 8 bytes (overlapping)
	}
	for i < len(s) && safe[s[i]] {
		i++
	}
	if i == len(s) {
		return append(b, s...)
	}
	return appendEscapedFrom(b, s, i)
}

// appendEscapedFrom is appendEscaped's slow path: s[:i] is known safe.
func appendEscapedFrom(b []byte, s []byte, i int) []byte {
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
				b = append(b, `\ufffd`...)
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

// AppendJSONString appends s as a JSON string, escaped as the rows'
// documents are: control characters, '"' and '\\' escaped, bytes that are
// not valid UTF-8 as U+FFFD. The result is always valid JSON.
func AppendJSONString(dst, s []byte) []byte { return appendString(dst, s) }

// appendStringS is appendString for a string, without copying it (the
// bytes are only read).
func appendStringS(b []byte, s string) []byte {
	return appendString(b, unsafe.Slice(unsafe.StringData(s), len(s)))
}
