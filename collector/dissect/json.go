package dissect

import (
	"net/netip"
	"slices"
	"strconv"
	"unsafe"

	"github.com/xhep/xhep/hep/jsonw"
)

// jw appends a JSON object to b by hand, so building a row does not
// allocate (no encoding/json, no reflection). Keys are constants of this
// package and are written unescaped; string values go through
// [jsonw.AppendString]. A nested object is opened after key.
type jw struct {
	b     []byte
	first bool // the next member is the first of its object or array
}

func (w *jw) reset(b []byte) { w.b = b[:0]; w.first = true }

func (w *jw) open()  { w.sep(); w.b = append(w.b, '{'); w.first = true }
func (w *jw) close() { w.b = append(w.b, '}'); w.first = false }

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
	w.b = jsonw.AppendString(w.b, v)
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

// The append* helpers write one member of an object whose layout is fixed:
// pre is the constant text before the value, its separator and key
// included (`{"callid":` for the first member, `,"method":` for the
// others), so a member costs one append and the value's. Numbers are
// written the same way by [jsonw.AppendUint] and [jsonw.AppendInt].

func appendS(b []byte, pre string, v []byte) []byte {
	return jsonw.AppendField(b, pre, v)
}

// appendSNE writes the member only when v is not empty.
func appendSNE(b []byte, pre string, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return jsonw.AppendField(b, pre, v)
}

func appendA(b []byte, pre string, a netip.Addr) []byte {
	return jsonw.AppendAddr(b, pre, a)
}

// AppendJSONString appends s as a JSON string, escaped as the rows'
// documents are: control characters, '"' and '\\' escaped, bytes that are
// not valid UTF-8 as U+FFFD. The result is always valid JSON. It is
// [jsonw.AppendString].
func AppendJSONString(dst, s []byte) []byte { return jsonw.AppendString(dst, s) }

// appendStringS is [jsonw.AppendString] for a string, without copying it (the
// bytes are only read).
func appendStringS(b []byte, s string) []byte {
	return jsonw.AppendString(b, unsafe.Slice(unsafe.StringData(s), len(s)))
}
