package dns

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/xhep/xhep/hep/jsonw"
)

// AppendJSON appends m as JSON to dst and returns the extended slice. The
// keys follow heplify's DNS JSON (sipcapture/heplify decoder/dns.go), with
// the sections and RDATA decoding it lacks added:
//
//	{"id":N,"qr":B,"opcode":N,"aa":B,"tc":B,"rd":B,"ra":B,"z":N,"ad":B,"cd":B,
//	 "rescode":N,"qdc":N,"anc":N,"nsc":N,"arc":N,
//	 "questions":[{"name":S,"type":N,"class":N}],
//	 "answers":[RR...],"authorities":[RR...],"additionals":[RR...]}
//
// where an RR is {"name":S,"type":N,"class":N,"ttl":N,...} plus its data:
//
//	A, AAAA        "ip":S
//	NS, CNAME, PTR "ns":S, "cname":S, "ptr":S
//	MX             "preference":N,"mx":S
//	SRV            "priority":N,"weight":N,"port":N,"target":S
//	NAPTR          "order":N,"preference":N,"flags":S,"service":S,"regexp":S,"replacement":S
//	TXT            "txt":[S...]
//	SOA            "mname":S,"rname":S,"serial":N,"refresh":N,"retry":N,"expire":N,"minimum":N
//	other          "data":HEX (raw RDATA; also for RDATA that does not parse)
//
// questions and answers are always present (possibly []), authorities and
// additionals only when not empty. The counts are those of the decoded
// sections. After [Msg.DecodeJSON] records have no data keys. Strings are
// written by [jsonw.AppendString] (bytes that are not valid UTF-8 become
// \ufffd). AppendJSON does not allocate when dst has room.
func (m *Msg) AppendJSON(dst []byte) []byte {
	dst = jsonw.AppendUint(dst, `{"id":`, uint64(m.ID))
	dst = jsonw.AppendBool(dst, `,"qr":`, m.QR)
	dst = jsonw.AppendUint(dst, `,"opcode":`, uint64(m.Opcode))
	dst = jsonw.AppendBool(dst, `,"aa":`, m.AA)
	dst = jsonw.AppendBool(dst, `,"tc":`, m.TC)
	dst = jsonw.AppendBool(dst, `,"rd":`, m.RD)
	dst = jsonw.AppendBool(dst, `,"ra":`, m.RA)
	z := uint64(0)
	if m.Z {
		z = 1
	}
	dst = jsonw.AppendUint(dst, `,"z":`, z)
	dst = jsonw.AppendBool(dst, `,"ad":`, m.AD)
	dst = jsonw.AppendBool(dst, `,"cd":`, m.CD)
	dst = jsonw.AppendUint(dst, `,"rescode":`, uint64(m.Rcode))
	dst = jsonw.AppendUint(dst, `,"qdc":`, uint64(len(m.Questions)))
	dst = jsonw.AppendUint(dst, `,"anc":`, uint64(len(m.Answers)))
	dst = jsonw.AppendUint(dst, `,"nsc":`, uint64(len(m.Authority)))
	dst = jsonw.AppendUint(dst, `,"arc":`, uint64(len(m.Additional)))
	dst = append(dst, `,"questions":[`...)
	for i := range m.Questions {
		q := &m.Questions[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = jsonw.AppendString(dst, q.Name)
		dst = jsonw.AppendUint(dst, `,"type":`, uint64(q.Type))
		dst = jsonw.AppendUint(dst, `,"class":`, uint64(q.Class))
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	dst = m.appendRRs(dst, `,"answers":[`, m.Answers)
	if len(m.Authority) > 0 {
		dst = m.appendRRs(dst, `,"authorities":[`, m.Authority)
	}
	if len(m.Additional) > 0 {
		dst = m.appendRRs(dst, `,"additionals":[`, m.Additional)
	}
	return append(dst, '}')
}

func (m *Msg) appendRRs(dst []byte, key string, rrs []RR) []byte {
	dst = append(dst, key...)
	for i := range rrs {
		rr := &rrs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = jsonw.AppendString(dst, rr.Name)
		dst = jsonw.AppendUint(dst, `,"type":`, uint64(rr.Type))
		dst = jsonw.AppendUint(dst, `,"class":`, uint64(rr.Class))
		dst = jsonw.AppendUint(dst, `,"ttl":`, uint64(rr.TTL))
		if !m.fromJSON {
			mark := len(dst)
			var ok bool
			if dst, ok = m.appendRData(dst, rr); !ok {
				dst = append(dst[:mark], `,"data":"`...)
				dst = jsonw.AppendHex(dst, rr.Data)
				dst = append(dst, '"')
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendRData appends the decoded data keys of rr and reports whether its
// RDATA parsed.
func (m *Msg) appendRData(dst []byte, rr *RR) ([]byte, bool) {
	d := rr.Data
	end := rr.off + len(d)
	// Names inside RDATA are decoded against the whole message (they may
	// be compressed) but must end inside the RDATA.
	name := func(dst []byte, key string, off int) ([]byte, int, bool) {
		dst = append(dst, key...)
		dst = append(dst, '"')
		dst, next, err := appendName(dst, m.raw, off, true)
		if err != nil || next > end {
			return dst, 0, false
		}
		return append(dst, '"'), next, true
	}
	var ok bool
	switch rr.Type {
	case TypeA, TypeAAAA:
		var a netip.Addr
		switch {
		case rr.Type == TypeA && len(d) == 4:
			a = netip.AddrFrom4([4]byte(d))
		case rr.Type == TypeAAAA && len(d) == 16:
			a = netip.AddrFrom16([16]byte(d))
		default:
			return dst, false
		}
		dst = append(dst, `,"ip":"`...)
		dst = a.AppendTo(dst)
		return append(dst, '"'), true
	case TypeNS, TypeCNAME, TypePTR:
		key := `,"ns":`
		if rr.Type == TypeCNAME {
			key = `,"cname":`
		} else if rr.Type == TypePTR {
			key = `,"ptr":`
		}
		var next int
		dst, next, ok = name(dst, key, rr.off)
		return dst, ok && next == end
	case TypeMX:
		if len(d) < 3 {
			return dst, false
		}
		dst = jsonw.AppendUint(dst, `,"preference":`, uint64(binary.BigEndian.Uint16(d)))
		var next int
		dst, next, ok = name(dst, `,"mx":`, rr.off+2)
		return dst, ok && next == end
	case TypeSRV:
		if len(d) < 7 {
			return dst, false
		}
		dst = jsonw.AppendUint(dst, `,"priority":`, uint64(binary.BigEndian.Uint16(d)))
		dst = jsonw.AppendUint(dst, `,"weight":`, uint64(binary.BigEndian.Uint16(d[2:])))
		dst = jsonw.AppendUint(dst, `,"port":`, uint64(binary.BigEndian.Uint16(d[4:])))
		var next int
		dst, next, ok = name(dst, `,"target":`, rr.off+6)
		return dst, ok && next == end
	case TypeNAPTR:
		// order, preference, flags, service, regexp (character-strings),
		// replacement (name).
		if len(d) < 4 {
			return dst, false
		}
		dst = jsonw.AppendUint(dst, `,"order":`, uint64(binary.BigEndian.Uint16(d)))
		dst = jsonw.AppendUint(dst, `,"preference":`, uint64(binary.BigEndian.Uint16(d[2:])))
		p := 4
		for _, key := range [...]string{`,"flags":`, `,"service":`, `,"regexp":`} {
			if p >= len(d) || p+1+int(d[p]) > len(d) {
				return dst, false
			}
			dst = append(dst, key...)
			dst = jsonw.AppendString(dst, d[p+1:p+1+int(d[p])])
			p += 1 + int(d[p])
		}
		var next int
		dst, next, ok = name(dst, `,"replacement":`, rr.off+p)
		return dst, ok && next == end
	case TypeTXT:
		dst = append(dst, `,"txt":[`...)
		for p := 0; p < len(d); {
			n := int(d[p])
			if p+1+n > len(d) {
				return dst, false
			}
			if p > 0 {
				dst = append(dst, ',')
			}
			dst = jsonw.AppendString(dst, d[p+1:p+1+n])
			p += 1 + n
		}
		return append(dst, ']'), true
	case TypeSOA:
		var next int
		if dst, next, ok = name(dst, `,"mname":`, rr.off); !ok {
			return dst, false
		}
		if dst, next, ok = name(dst, `,"rname":`, next); !ok || end-next != 20 {
			return dst, false
		}
		t := m.raw[next:end]
		for i, key := range [...]string{`,"serial":`, `,"refresh":`, `,"retry":`, `,"expire":`, `,"minimum":`} {
			dst = jsonw.AppendUint(dst, key, uint64(binary.BigEndian.Uint32(t[4*i:])))
		}
		return dst, true
	}
	return dst, false
}

// jsonMsg is DNS JSON as heplify sends it (and as AppendJSON writes it).
type jsonMsg struct {
	ID        *json.Number `json:"id"`
	QR        bool         `json:"qr"`
	Opcode    json.Number  `json:"opcode"`
	AA        bool         `json:"aa"`
	TC        bool         `json:"tc"`
	RD        bool         `json:"rd"`
	RA        bool         `json:"ra"`
	AD        bool         `json:"ad"`
	CD        bool         `json:"cd"`
	Rescode   json.Number  `json:"rescode"`
	Rcode     json.Number  `json:"rcode"`
	Questions []jsonRR     `json:"questions"`
	Answers   []jsonRR     `json:"answers"`
	Auth      []jsonRR     `json:"authorities"`
	Add       []jsonRR     `json:"additionals"`
}

type jsonRR struct {
	Name  string      `json:"name"`
	Type  json.Number `json:"type"`
	Class json.Number `json:"class"`
	TTL   json.Number `json:"ttl"`
}

// DecodeJSON reads DNS JSON (heplify's shape, which AppendJSON also
// writes) into m, for the collector's passthrough of JSON DNS: it
// validates the message and extracts the header, the questions (so
// Questions[0] gives qname and qtype) and the records' name, type, class
// and TTL; RR.Data stays nil. An input that is not a JSON object with a
// numeric "id" returns ErrJSON (wrapped with the reason). DecodeJSON
// allocates; names are copied into m.
func (m *Msg) DecodeJSON(b []byte) error {
	m.reset()
	m.fromJSON = true
	var j jsonMsg
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&j); err != nil {
		return fmt.Errorf("%w: %v", ErrJSON, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrJSON)
	}
	if j.ID == nil {
		return fmt.Errorf("%w: no id", ErrJSON)
	}
	var c conv
	m.ID = uint16(c.num(*j.ID, 0xffff, "id"))
	m.QR, m.AA, m.TC, m.RD, m.RA, m.AD, m.CD = j.QR, j.AA, j.TC, j.RD, j.RA, j.AD, j.CD
	m.Opcode = uint8(c.num(j.Opcode, 15, "opcode"))
	rc := j.Rescode
	if rc == "" {
		rc = j.Rcode
	}
	m.Rcode = uint8(c.num(rc, 15, "rescode"))
	for _, q := range j.Questions {
		if len(m.Questions) >= MaxRecords {
			m.Dropped++
			continue
		}
		m.Questions = append(m.Questions, Question{
			Name: m.keep(q.Name), Type: uint16(c.num(q.Type, 0xffff, "type")), Class: uint16(c.num(q.Class, 0xffff, "class")),
		})
	}
	for _, s := range [...]struct {
		in  []jsonRR
		out *[]RR
	}{{j.Answers, &m.Answers}, {j.Auth, &m.Authority}, {j.Add, &m.Additional}} {
		for _, r := range s.in {
			if len(*s.out) >= MaxRecords {
				m.Dropped++
				continue
			}
			*s.out = append(*s.out, RR{
				Name: m.keep(r.Name), Type: uint16(c.num(r.Type, 0xffff, "type")),
				Class: uint16(c.num(r.Class, 0xffff, "class")), TTL: uint32(c.num(r.TTL, 1<<32-1, "ttl")),
			})
		}
	}
	return c.err
}

func (m *Msg) keep(s string) []byte {
	start := len(m.names)
	m.names = append(m.names, s...)
	return m.names[start:len(m.names):len(m.names)]
}

// conv converts JSON numbers, remembering the first bad one.
type conv struct{ err error }

func (c *conv) num(n json.Number, max uint64, what string) uint64 {
	if n == "" {
		return 0
	}
	v, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil || v > max {
		if c.err == nil {
			c.err = fmt.Errorf("%w: %s %q", ErrJSON, what, string(n))
		}
		return 0
	}
	return v
}
