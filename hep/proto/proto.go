package proto

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xhep/xhep/hep"
)

// Class is what the agent classified a captured message as (the class of
// an agent/packet.Message): the agent side of a descriptor.
type Class uint8

// Agent classes.
const (
	ClassUnknown Class = iota
	ClassSIP
	ClassRTCP
	ClassDNS
	NumClasses // number of classes, for arrays indexed by Class
)

// String returns the class's name: "sip", "rtcp", "dns" (the name of the
// HEP type it is sent as) or "unknown".
func (c Class) String() string {
	if c > ClassUnknown && c < NumClasses {
		return byClass[c].Type.String()
	}
	if c == ClassUnknown {
		return "unknown"
	}
	return "class?"
}

// Framer is how a TCP stream of the protocol is cut into messages (the
// agent's streamFramer picks a stream's framer kind from the descriptor
// of the class its port or first bytes select).
type Framer uint8

// Framers.
const (
	FramerNone   Framer = iota // not followed over TCP
	FramerSIP                  // SIP start line, headers, Content-Length body (RFC 3261 §18.3); inside WebSocket too (RFC 7118)
	FramerLength               // 2-byte big-endian length prefix (DNS over TCP, RFC 1035 §4.2.2)
)

// Schema is the column set of the protocol's tables: what each storage
// backend indexes beyond the columns every table has.
type Schema uint8

// Schemas.
const (
	SchemaGeneric Schema = iota // addresses, ports, correlation id (and, in ClickHouse, the DNS question)
	SchemaSIP                   // plus Call-ID, A-leg Call-ID, method, status, users, domains, user agent
)

// TableClass is the last part of a table name: SIP splits into call,
// registration and default by CSeq method, every other type has default
// only. It is also the retention class.
type TableClass uint8

// Table classes.
const (
	Default TableClass = iota
	Call
	Registration
	NumTableClasses
)

var tableClassNames = [NumTableClasses]string{Default: "default", Call: "call", Registration: "registration"}

// String returns "default", "call" or "registration".
func (c TableClass) String() string {
	if c < NumTableClasses {
		return tableClassNames[c]
	}
	return "default"
}

// ParseTableClass returns the class named s ("call", "registration",
// "default"); ok is false for any other name.
func ParseTableClass(s string) (TableClass, bool) {
	switch s { // the names of tableClassNames, compared in place
	case "default":
		return Default, true
	case "call":
		return Call, true
	case "registration":
		return Registration, true
	}
	return Default, false
}

// Payload is how the collector writes a row's payload document.
type Payload uint8

// Payload kinds.
const (
	PayloadRaw     Payload = iota // {"length": n}; the bytes in raw
	PayloadJSON                   // the JSON as sent, when it is valid JSON in UTF-8
	PayloadDecoded                // by the type's own decoder, bound in collector/dissect
)

// Desc describes one HEP payload type: everything agent, collector,
// storage and API need to know about it. The table is [entries]; a type
// without an entry gets the zero descriptor (raw payload, default table
// created when first seen).
type Desc struct {
	Type    hep.ProtoType // HEP chunk 0x0b
	Class   Class         // the agent class sent as this type; ClassUnknown when the agent does not send it
	Framer  Framer        // TCP framing of the agent's streams of this class
	Payload Payload       // how the collector writes the payload document
	Schema  Schema        // columns of its tables
	// Split: the collector routes its messages into call, registration
	// and default (SIP by CSeq method); otherwise default only.
	Split bool
	// Standard: its tables are created when the store opens (the API reads
	// them), not when the first message arrives.
	Standard bool
	// Doc is one line for the package documentation and the README.
	Doc string

	tables [NumTableClasses]string
}

// entries is the registry: one entry per HEP payload type with anything
// to say beyond the defaults. Adding a protocol is adding its entry here
// plus its decoder (collector/dissect) — see the package documentation.
var entries = []Desc{
	{Type: hep.ProtoSIP, Class: ClassSIP, Framer: FramerSIP, Payload: PayloadDecoded, Schema: SchemaSIP, Split: true, Standard: true,
		Doc: "SIP; call (CSeq INVITE ACK BYE CANCEL UPDATE PRACK REFER INFO), registration (REGISTER), default"},
	{Type: hep.ProtoRTCP, Class: ClassRTCP, Payload: PayloadDecoded, Standard: true,
		Doc: "RTCP, binary or JSON (the agent sends JSON); correlated by Call-ID in chunk 0x11"},
	{Type: hep.ProtoDNS, Class: ClassDNS, Framer: FramerLength, Payload: PayloadDecoded, Standard: true,
		Doc: "DNS, binary or JSON (the agent sends JSON)"},
	{Type: hep.ProtoLog, Payload: PayloadDecoded, Standard: true,
		Doc: `log lines, stored as {"message": text}`},
	{Type: hep.ProtoMOSFull, Payload: PayloadJSON, Standard: true,
		Doc: "RTP quality reports (rtpagent JSON; the agent's --rtp-stats); the API's flow reads them"},
	// JSON event types (Janus, mediasoup, CDR, ...), stored as sent.
	{Type: hep.ProtoSIPJSON, Payload: PayloadJSON, Doc: "SIP as JSON"},
	{Type: 0x33, Payload: PayloadJSON, Doc: "JSON event"},
	{Type: 0x34, Payload: PayloadJSON, Doc: "JSON event"},
	{Type: hep.ProtoM3UAJSON, Payload: PayloadDecoded, Standard: true,
		Doc: "SS7 ISUP as JSON (heplify-server's type 54); protocol_header: circuit callid, cic, point codes, message, numbers"},
	{Type: hep.ProtoRTSP, Payload: PayloadJSON, Doc: "RTSP as JSON"},
	{Type: hep.ProtoDiameter, Payload: PayloadJSON, Doc: "Diameter as JSON"},
	{Type: hep.ProtoGSMMAP, Payload: PayloadJSON, Doc: "GSM MAP as JSON"},
	{Type: hep.ProtoRTCPPion, Payload: PayloadJSON, Doc: "RTCP from Pion as JSON"},
	{Type: 0x3b, Payload: PayloadJSON, Doc: "JSON event"},
	{Type: hep.ProtoCDR, Payload: PayloadJSON, Doc: "CDR as JSON"},
	{Type: hep.ProtoVerto, Payload: PayloadJSON, Doc: "Verto as JSON"},
}

var (
	descs   [256]Desc         // every type; the zero descriptor where there is no entry
	byClass [NumClasses]*Desc // the descriptor each agent class is sent as
)

func init() {
	if err := check(entries); err != nil {
		panic(err)
	}
	for i := range descs {
		descs[i].Type = hep.ProtoType(i)
	}
	for _, e := range entries {
		descs[e.Type] = e
		if e.Class != ClassUnknown {
			byClass[e.Class] = &descs[e.Type]
		}
	}
	for i := range descs {
		for c := range NumTableClasses {
			descs[i].tables[c] = tablePrefix + strconv.Itoa(i) + "_" + c.String()
		}
	}
}

// check reports what makes a registry inconsistent: two entries for one
// HEP type, a class out of range or sent as two types, an agent class
// without an entry, a split into call/registration without the SIP
// schema (the class comes from the SIP dissector), or a framer on a type
// the agent does not send.
func check(entries []Desc) error {
	var seen [256]bool
	var classes [NumClasses]bool
	for _, e := range entries {
		switch {
		case seen[e.Type]:
			return fmt.Errorf("proto: two entries for HEP type %d", e.Type)
		case e.Class >= NumClasses:
			return fmt.Errorf("proto: HEP type %d: class %d out of range", e.Type, e.Class)
		case e.Class != ClassUnknown && classes[e.Class]:
			return fmt.Errorf("proto: HEP type %d: class %d is sent as another type already", e.Type, e.Class)
		case e.Split && e.Schema != SchemaSIP:
			return fmt.Errorf("proto: HEP type %d: split into call/registration without the SIP schema", e.Type)
		case e.Framer != FramerNone && e.Class == ClassUnknown:
			return fmt.Errorf("proto: HEP type %d: a TCP framer but no agent class", e.Type)
		}
		seen[e.Type] = true
		classes[e.Class] = true
	}
	for c := ClassUnknown + 1; c < NumClasses; c++ {
		if !classes[c] {
			return fmt.Errorf("proto: no entry for class %d", c)
		}
	}
	return nil
}

// Of returns the descriptor of HEP type t (the zero descriptor, raw and
// default-only, for a type without an entry). It never allocates.
func Of(t hep.ProtoType) *Desc { return &descs[t] }

// ByClass returns the descriptor an agent class is sent as, nil for
// ClassUnknown or a class out of range.
func ByClass(c Class) *Desc {
	if c >= NumClasses {
		return nil
	}
	return byClass[c]
}

// All returns the descriptors of the registry, in entry order.
func All() []*Desc {
	out := make([]*Desc, len(entries))
	for i, e := range entries {
		out[i] = &descs[e.Type]
	}
	return out
}

// Classes returns the table classes the type's messages are routed into:
// call, registration, default when Split, else default.
func (d *Desc) Classes() []TableClass {
	if d.Split {
		return []TableClass{Call, Registration, Default}
	}
	return []TableClass{Default}
}

// Table returns the name of the type's table of class c
// (hep_proto_<type>_<class>); a class the type is not split into is its
// default table. It never allocates.
func (d *Desc) Table(c TableClass) string {
	if !d.Split || c >= NumTableClasses {
		c = Default
	}
	return d.tables[c]
}

// Tables returns the type's table names, in Classes order.
func (d *Desc) Tables() []string {
	var out []string
	for _, c := range d.Classes() {
		out = append(out, d.tables[c])
	}
	return out
}

// Table returns the name of HEP type t's table of class c: the one place
// table names are built (hep_proto_<type>_<class>).
func Table(t hep.ProtoType, c TableClass) string { return descs[t].Table(c) }

// StandardTables returns the tables created when the store opens: those
// of the Standard entries, in entry order.
func StandardTables() []string {
	var out []string
	for _, d := range All() {
		if d.Standard {
			out = append(out, d.Tables()...)
		}
	}
	return out
}

// tablePrefix starts every table name.
const tablePrefix = "hep_proto_"

// ParseTable splits a table name into its HEP type number and class. It
// accepts exactly ^hep_proto_[0-9]{1,3}_(call|registration|default)$ —
// the only names a backend is ever given; n may exceed 255 (a name no
// HEP type maps to, still valid for a backend).
func ParseTable(name string) (n int, c TableClass, ok bool) {
	rest, ok := strings.CutPrefix(name, tablePrefix)
	if !ok {
		return 0, 0, false
	}
	i := 0
	for i < len(rest) && i < 4 && rest[i] >= '0' && rest[i] <= '9' {
		n = n*10 + int(rest[i]-'0')
		i++
	}
	if i == 0 || i > 3 || i >= len(rest) || rest[i] != '_' {
		return 0, 0, false
	}
	c, ok = ParseTableClass(rest[i+1:])
	if !ok {
		return 0, 0, false
	}
	return n, c, true
}

// SchemaOf returns the schema of a table by its name (generic for a name
// that does not parse or a type number above 255).
func SchemaOf(table string) Schema {
	n, _, ok := ParseTable(table)
	if !ok || n > 255 {
		return SchemaGeneric
	}
	return descs[n].Schema
}
