package proto

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xhep/xhep/hep"
)

func TestTable(t *testing.T) {
	tests := []struct {
		typ   hep.ProtoType
		class TableClass
		want  string
	}{
		{hep.ProtoSIP, Call, "hep_proto_1_call"},
		{hep.ProtoSIP, Registration, "hep_proto_1_registration"},
		{hep.ProtoSIP, Default, "hep_proto_1_default"},
		{hep.ProtoRTCP, Default, "hep_proto_5_default"},
		{hep.ProtoDNS, Call, "hep_proto_53_default"}, // not split: default
		{hep.ProtoLog, Default, "hep_proto_100_default"},
		{255, Registration, "hep_proto_255_default"},
		{0, NumTableClasses + 3, "hep_proto_0_default"},
	}
	for _, tt := range tests {
		got := Table(tt.typ, tt.class)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Table(%d, %v) (-want +got):\n%s", tt.typ, tt.class, diff)
		}
		n, c, ok := ParseTable(got)
		if !ok || n != int(tt.typ) || Table(hep.ProtoType(n), c) != got {
			t.Errorf("ParseTable(%q) = %d, %v, %v: does not give the name back", got, n, c, ok)
		}
	}
}

func TestParseTable(t *testing.T) {
	type res struct {
		N     int
		Class string
		OK    bool
	}
	tests := []struct {
		name string
		want res
	}{
		{"hep_proto_1_call", res{1, "call", true}},
		{"hep_proto_999_default", res{999, "default", true}},
		{"hep_proto_0_registration", res{0, "registration", true}},
		{"hep_proto_007_default", res{7, "default", true}},
		{"hep_proto_1000_default", res{0, "default", false}},
		{"hep_proto__default", res{0, "default", false}},
		{"hep_proto_1_calls", res{0, "default", false}},
		{"hep_proto_1_call_users", res{0, "default", false}},
		{"hep_proto_1_", res{0, "default", false}},
		{"hep_proto_1", res{0, "default", false}},
		{"hep_proto_a_default", res{0, "default", false}},
		{"hep_proto_1_default; DROP TABLE x", res{0, "default", false}},
		{"HEP_PROTO_1_call", res{0, "default", false}},
		{"", res{0, "default", false}},
	}
	for _, tt := range tests {
		n, c, ok := ParseTable(tt.name)
		if diff := cmp.Diff(tt.want, res{n, c.String(), ok}); diff != "" {
			t.Errorf("ParseTable(%q) (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestRegistry pins what the rest of the code reads from the registry:
// the agent classes and the HEP types they are sent as, their TCP
// framers, the SIP split and schema, and the standard tables.
func TestRegistry(t *testing.T) {
	type class struct {
		Name   string
		Type   hep.ProtoType
		Framer Framer
	}
	var got []class
	for c := ClassUnknown + 1; c < NumClasses; c++ {
		d := ByClass(c)
		got = append(got, class{c.String(), d.Type, d.Framer})
	}
	want := []class{{"sip", hep.ProtoSIP, FramerSIP}, {"rtcp", hep.ProtoRTCP, FramerNone}, {"dns", hep.ProtoDNS, FramerLength}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}
	if ByClass(ClassUnknown) != nil || ByClass(NumClasses) != nil {
		t.Error("ByClass of ClassUnknown or out of range is not nil")
	}
	if s := ClassUnknown.String(); s != "unknown" {
		t.Errorf("ClassUnknown.String() = %q", s)
	}
	wantStd := []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default",
		"hep_proto_5_default", "hep_proto_53_default", "hep_proto_100_default", "hep_proto_34_default", "hep_proto_54_default"}
	if diff := cmp.Diff(wantStd, StandardTables()); diff != "" {
		t.Errorf("StandardTables (-want +got):\n%s", diff)
	}
	for n := range 256 {
		d := Of(hep.ProtoType(n))
		if d.Type != hep.ProtoType(n) {
			t.Errorf("Of(%d).Type = %d", n, d.Type)
		}
		wantSchema := SchemaGeneric
		if n == int(hep.ProtoSIP) {
			wantSchema = SchemaSIP
		}
		if d.Schema != wantSchema || SchemaOf(d.Table(Call)) != wantSchema {
			t.Errorf("type %d: schema %d, of its table %d, want %d", n, d.Schema, SchemaOf(d.Table(Call)), wantSchema)
		}
		if d.Split != (n == int(hep.ProtoSIP)) {
			t.Errorf("type %d: Split = %v", n, d.Split)
		}
	}
	// The JSON event types are stored as sent: every type of 0x32-0x3d
	// but DNS (53) and ISUP (54), which have decoders, and the RTP
	// reports (34).
	for n := range 256 {
		json := n == 34 || n >= 0x32 && n <= 0x3d && n != int(hep.ProtoDNS) && n != int(hep.ProtoM3UAJSON)
		if got := Of(hep.ProtoType(n)).Payload == PayloadJSON; got != json {
			t.Errorf("type %d: PayloadJSON = %v, want %v", n, got, json)
		}
	}
	if SchemaOf("hep_proto_1_call_users") != SchemaGeneric || SchemaOf("hep_proto_999_call") != SchemaGeneric {
		t.Error("SchemaOf of a name that is not a table, or above 255, is not generic")
	}
}

func TestNoAllocs(t *testing.T) {
	var s string
	n := testing.AllocsPerRun(100, func() {
		s = Of(hep.ProtoSIP).Table(Registration)
		s = Table(200, Default)
		_ = ByClass(ClassDNS).Type.String()
	})
	if n != 0 {
		t.Errorf("lookups allocate %.0f times", n)
	}
	_ = s
}

// TestCheck: the registry's consistency rules refuse what would make the
// agent or the collector disagree with it (init panics on the real one).
func TestCheck(t *testing.T) {
	base := func() []Desc { return append([]Desc(nil), entries...) }
	tests := []struct {
		name string
		mod  func([]Desc) []Desc
		want string // error text; "" for none
	}{
		{"the registry", func(e []Desc) []Desc { return e }, ""},
		{"two entries for a type", func(e []Desc) []Desc { return append(e, Desc{Type: hep.ProtoLog}) }, "proto: two entries for HEP type 100"},
		{"class out of range", func(e []Desc) []Desc { return append(e, Desc{Type: 200, Class: NumClasses}) }, "proto: HEP type 200: class 4 out of range"},
		{"class sent as two types", func(e []Desc) []Desc { return append(e, Desc{Type: 200, Class: ClassDNS}) }, "proto: HEP type 200: class 3 is sent as another type already"},
		{"class without entry", func(e []Desc) []Desc {
			var out []Desc
			for _, d := range e {
				if d.Class != ClassRTCP {
					out = append(out, d)
				}
			}
			return out
		}, "proto: no entry for class 2"},
		{"split without SIP schema", func(e []Desc) []Desc { return append(e, Desc{Type: 200, Split: true}) }, "proto: HEP type 200: split into call/registration without the SIP schema"},
		{"framer without class", func(e []Desc) []Desc { return append(e, Desc{Type: 200, Framer: FramerLength}) }, "proto: HEP type 200: a TCP framer but no agent class"},
	}
	for _, tt := range tests {
		got := ""
		if err := check(tt.mod(base())); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: check = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseTableClass(t *testing.T) {
	for c := range NumTableClasses {
		if got, ok := ParseTableClass(c.String()); !ok || got != c {
			t.Errorf("ParseTableClass(%q) = %v, %v", c.String(), got, ok)
		}
	}
	for _, s := range []string{"", "Call", "calls", "defaults"} {
		if _, ok := ParseTableClass(s); ok {
			t.Errorf("ParseTableClass(%q) ok", s)
		}
	}
}
