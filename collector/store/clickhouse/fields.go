package clickhouse

import (
	"strconv"
	"unicode/utf8"
)

// fields reads the top-level values of a flat JSON object (the store's
// hep_header and protocol_header documents) for a fixed list of keys in
// one pass, without allocating: val[i] is the value of keys[i] — a
// string's content unescaped, a number's or literal's text — or nil when
// the key is missing, null, an object or an array (the SQL backends'
// JSON_VALUE gives NULL there too). Unescaped strings live in scratch.
type fields struct {
	keys    []string
	val     [][]byte
	str     []bool // val[i] came from a JSON string
	scratch []byte
}

func newFields(keys ...string) *fields {
	return &fields{keys: keys, val: make([][]byte, len(keys)), str: make([]bool, len(keys)), scratch: make([]byte, 0, 4096)}
}

// parse fills val from doc; a malformed document leaves what was read
// before the error (the row is still stored: its JSON goes as it is).
func (f *fields) parse(doc []byte) {
	for i := range f.val {
		f.val[i], f.str[i] = nil, false
	}
	f.scratch = f.scratch[:0]
	i := skipWS(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return
	}
	i++
	for {
		i = skipWS(doc, i)
		if i >= len(doc) || doc[i] != '"' {
			return
		}
		ks, ke, esc, next := scanString(doc, i)
		if next < 0 {
			return
		}
		key := doc[ks:ke]
		_ = esc // keys the collector writes have no escapes; an escaped key matches nothing
		i = skipWS(doc, next)
		if i >= len(doc) || doc[i] != ':' {
			return
		}
		i = skipWS(doc, i+1)
		if i >= len(doc) {
			return
		}
		slot := -1
		if !esc {
			for k, name := range f.keys {
				if len(name) == len(key) && name == string(key) {
					slot = k
					break
				}
			}
		}
		switch c := doc[i]; {
		case c == '"':
			vs, ve, vesc, vnext := scanString(doc, i)
			if vnext < 0 {
				return
			}
			if slot >= 0 {
				if vesc {
					s0 := len(f.scratch)
					f.scratch = unescape(f.scratch, doc[vs:ve])
					f.val[slot] = f.scratch[s0:len(f.scratch):len(f.scratch)]
				} else {
					f.val[slot] = doc[vs:ve:ve]
				}
				f.str[slot] = true
			}
			i = vnext
		case c == '{' || c == '[':
			next := skipNested(doc, i)
			if next < 0 {
				return
			}
			i = next
		default:
			s := i
			for i < len(doc) && doc[i] != ',' && doc[i] != '}' && doc[i] != ' ' && doc[i] != '\t' && doc[i] != '\n' && doc[i] != '\r' {
				i++
			}
			if slot >= 0 && string(doc[s:i]) != "null" {
				f.val[slot] = doc[s:i:i]
			}
		}
		i = skipWS(doc, i)
		if i >= len(doc) {
			return
		}
		if doc[i] == '}' {
			return
		}
		if doc[i] != ',' {
			return
		}
		i++
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the JSON string starting at b[i] == '"': its content
// is b[s:e], esc whether it holds escapes, next the index after the
// closing quote (-1: unterminated).
func scanString(b []byte, i int) (s, e int, esc bool, next int) {
	s = i + 1
	for j := s; j < len(b); j++ {
		switch b[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return s, j, esc, j + 1
		}
	}
	return 0, 0, false, -1
}

// skipNested skips the object or array at b[i]; -1 if unterminated.
func skipNested(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			_, _, _, next := scanString(b, i)
			if next < 0 {
				return -1
			}
			i = next - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// unescape appends the JSON string content s, unescaped, to dst.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			r, n := hex4(s, i+1)
			if n == 0 {
				dst = append(dst, '\\', 'u')
				continue
			}
			i += 4
			if utf16Surrogate(r) && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2, n2 := hex4(s, i+3); n2 != 0 && r2 >= 0xDC00 && r2 < 0xE000 {
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // " \ / and anything else: the character itself
			dst = append(dst, s[i])
		}
	}
	return dst
}

func utf16Surrogate(r rune) bool { return r >= 0xD800 && r < 0xDC00 }

func hex4(s []byte, i int) (rune, int) {
	if i+4 > len(s) {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	if err != nil {
		return 0, 0
	}
	return rune(v), 4
}

// str returns value i cut to n characters (MySQL's LEFT), or "" as bytes.
func (f *fields) strN(i, n int) []byte {
	v := f.val[i]
	if v == nil {
		return empty
	}
	if len(v) <= n {
		return v
	}
	// Cut at n runes.
	c := 0
	for j := range string(v) {
		if c == n {
			return v[:j]
		}
		c++
	}
	return v
}

var empty = []byte{}

// uint returns value i as an integer when it is all decimal digits and at
// most 18 long (the MySQL columns' rule; a JSON string of digits counts,
// as JSON_VALUE returns it unquoted), else 0.
func (f *fields) uint(i int) uint64 {
	v := f.val[i]
	if len(v) == 0 || len(v) > 18 {
		return 0
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// isTrue reports whether value i is the JSON literal true.
func (f *fields) isTrue(i int) bool { return !f.str[i] && string(f.val[i]) == "true" }
