package dns

import (
	"encoding/binary"
	"errors"
)

// Limits.
const (
	// MaxRecords bounds each section kept in a Msg; records beyond it are
	// skipped and counted in Msg.Dropped.
	MaxRecords = 256
	// maxPointers bounds the compression pointers followed in one name.
	maxPointers = 64
	// maxNameWire is the longest a name may be on the wire (RFC 1035 §3.1).
	maxNameWire = 255
)

// Errors returned by [Msg.DecodeFromBytes] and [Msg.DecodeJSON]; the
// binary decoder returns them unwrapped.
var (
	ErrTruncated = errors.New("dns: truncated message")
	ErrName      = errors.New("dns: malformed name")
	ErrPointer   = errors.New("dns: bad compression pointer")
	ErrJSON      = errors.New("dns: invalid DNS JSON")
)

// RR types with decoded data in JSON.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypePTR   = 12
	TypeMX    = 15
	TypeTXT   = 16
	TypeAAAA  = 28
	TypeSRV   = 33
	TypeNAPTR = 35
	TypeOPT   = 41
)

// Question is one entry of the question section.
type Question struct {
	Name  []byte // dotted, without the trailing dot ("." for the root)
	Type  uint16
	Class uint16
}

// RR is one resource record.
type RR struct {
	Name  []byte // dotted, as Question.Name
	Type  uint16
	Class uint16 // for OPT: the requestor's UDP payload size
	TTL   uint32 // for OPT: extended rcode, version and flags
	Data  []byte // raw RDATA; names inside it may be compressed (see Msg)
	off   int    // offset of Data in the message, for name decompression
}

// Msg is a decoded DNS message (RFC 1035 §4).
//
// Ownership: after [Msg.DecodeFromBytes] RR.Data aliases the input, and
// Name fields point into a buffer the Msg owns and reuses. Msg also keeps
// a reference to the input so that [Msg.AppendJSON] can decompress names
// inside RDATA: the input must stay unchanged until the JSON is written.
// The next decode overwrites everything. Slices keep their capacity, so
// decoding does not allocate in steady state. A Msg is not safe for
// concurrent use.
type Msg struct {
	ID                     uint16
	QR                     bool
	Opcode                 uint8
	AA, TC, RD, RA, AD, CD bool
	Z                      bool // the reserved header bit
	Rcode                  uint8
	Questions              []Question
	Answers                []RR
	Authority              []RR
	Additional             []RR
	Dropped                int // records beyond MaxRecords, per all sections

	raw      []byte // the decoded message (nil after DecodeJSON)
	names    []byte // storage for Name fields
	fromJSON bool
}

func (m *Msg) reset() {
	q, an, ns, ar, names := m.Questions[:0], m.Answers[:0], m.Authority[:0], m.Additional[:0], m.names[:0]
	*m = Msg{Questions: q, Answers: an, Authority: ns, Additional: ar, names: names}
}

// DecodeFromBytes decodes the DNS message b, resetting m first. b is the
// message itself: the two-byte length prefix DNS over TCP adds (RFC 1035
// §4.2.2) is not handled here and must be removed by the caller.
//
// Header (12 bytes):
//
//	 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	|                      ID                       |
//	|QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
//	|                    QDCOUNT                    |
//	|                    ANCOUNT                    |
//	|                    NSCOUNT                    |
//	|                    ARCOUNT                    |
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//
// then QDCOUNT questions (name, type, class) and ANCOUNT + NSCOUNT +
// ARCOUNT resource records (name, type, class, TTL (32 bits), RDLENGTH,
// RDATA). Names are length-prefixed labels ending in a zero byte, or in a
// two-byte pointer 11xxxxxx xxxxxxxx to an earlier offset (RFC 1035
// §4.1.4). Pointers must point before the name that uses them, at most 64
// are followed, and a name may not exceed 255 bytes: loops and bombs are
// [ErrPointer] or [ErrName].
//
// The first error ends decoding and is returned; what was decoded before
// it stays in m. DecodeFromBytes never panics.
func (m *Msg) DecodeFromBytes(b []byte) error {
	m.reset()
	m.raw = b
	if len(b) < 12 {
		return ErrTruncated
	}
	m.ID = binary.BigEndian.Uint16(b)
	f := binary.BigEndian.Uint16(b[2:])
	m.QR = f&0x8000 != 0
	m.Opcode = uint8(f>>11) & 0xf
	m.AA = f&0x0400 != 0
	m.TC = f&0x0200 != 0
	m.RD = f&0x0100 != 0
	m.RA = f&0x0080 != 0
	m.Z = f&0x0040 != 0
	m.AD = f&0x0020 != 0
	m.CD = f&0x0010 != 0
	m.Rcode = uint8(f & 0xf)
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := 12
	for i := 0; i < qd; i++ {
		name, next, err := m.readName(b, off)
		if err != nil {
			return err
		}
		if next+4 > len(b) {
			return ErrTruncated
		}
		q := Question{Name: name, Type: binary.BigEndian.Uint16(b[next:]), Class: binary.BigEndian.Uint16(b[next+2:])}
		off = next + 4
		if len(m.Questions) < MaxRecords {
			m.Questions = append(m.Questions, q)
		} else {
			m.Dropped++
			m.names = m.names[:len(m.names)-len(name)] // keep the name buffer bounded
		}
	}
	var err error
	if off, err = m.readRRs(b, off, an, &m.Answers); err != nil {
		return err
	}
	if off, err = m.readRRs(b, off, ns, &m.Authority); err != nil {
		return err
	}
	if _, err = m.readRRs(b, off, ar, &m.Additional); err != nil {
		return err
	}
	return nil
}

func (m *Msg) readRRs(b []byte, off, n int, dst *[]RR) (int, error) {
	for i := 0; i < n; i++ {
		name, next, err := m.readName(b, off)
		if err != nil {
			return off, err
		}
		if next+10 > len(b) {
			return off, ErrTruncated
		}
		rdlen := int(binary.BigEndian.Uint16(b[next+8:]))
		if next+10+rdlen > len(b) {
			return off, ErrTruncated
		}
		rr := RR{
			Name:  name,
			Type:  binary.BigEndian.Uint16(b[next:]),
			Class: binary.BigEndian.Uint16(b[next+2:]),
			TTL:   binary.BigEndian.Uint32(b[next+4:]),
			Data:  b[next+10 : next+10+rdlen],
			off:   next + 10,
		}
		off = next + 10 + rdlen
		if len(*dst) < MaxRecords {
			*dst = append(*dst, rr)
		} else {
			m.Dropped++
			m.names = m.names[:len(m.names)-len(name)] // keep the name buffer bounded
		}
	}
	return off, nil
}

// readName decodes the name at off into m.names and returns it and the
// offset after it (after the first pointer, if any).
func (m *Msg) readName(b []byte, off int) ([]byte, int, error) {
	start := len(m.names)
	var err error
	var next int
	m.names, next, err = appendName(m.names, b, off, false)
	if err != nil {
		return nil, 0, err
	}
	return m.names[start:len(m.names):len(m.names)], next, nil
}

// appendName appends the presentation form of the name at b[off:] to dst:
// labels joined by '.', no trailing dot, "." for the root. With escape
// set it writes JSON string content (quotes and backslashes escaped);
// either way '.' inside a label is written "\." and bytes outside
// printable ASCII as "\DDD" (RFC 4343 presentation). It returns dst and
// the offset after the name in b.
func appendName(dst, b []byte, off int, escape bool) ([]byte, int, error) {
	next := -1
	wire := 0
	ptrs := 0
	first := true
	lowest := off // pointers must go strictly below every place visited
	for {
		if off >= len(b) {
			return dst, 0, ErrTruncated
		}
		c := int(b[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if first {
					dst = append(dst, '.')
				}
				if next < 0 {
					next = off + 1
				}
				return dst, next, nil
			}
			if off+1+c > len(b) {
				return dst, 0, ErrTruncated
			}
			wire += 1 + c
			if wire+1 > maxNameWire {
				return dst, 0, ErrName
			}
			if !first {
				dst = append(dst, '.')
			}
			first = false
			for _, ch := range b[off+1 : off+1+c] {
				dst = appendLabelByte(dst, ch, escape)
			}
			off += 1 + c
		case 0xc0:
			if off+2 > len(b) {
				return dst, 0, ErrTruncated
			}
			ptr := int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			if next < 0 {
				next = off + 2
			}
			ptrs++
			if ptr >= lowest || ptrs > maxPointers {
				return dst, 0, ErrPointer
			}
			lowest = ptr
			off = ptr
		default: // 0x40 extended and 0x80 reserved label types
			return dst, 0, ErrName
		}
	}
}

func appendLabelByte(dst []byte, ch byte, escape bool) []byte {
	switch {
	case ch == '.':
		if escape {
			return append(dst, '\\', '\\', '.')
		}
		return append(dst, '\\', '.')
	case ch == '"' || ch == '\\':
		if escape {
			return append(dst, '\\', '\\', '\\', ch)
		}
		return append(dst, '\\', ch)
	case ch < 0x21 || ch > 0x7e:
		if escape {
			dst = append(dst, '\\')
		}
		return append(dst, '\\', '0'+ch/100, '0'+ch/10%10, '0'+ch%10)
	}
	return append(dst, ch)
}
