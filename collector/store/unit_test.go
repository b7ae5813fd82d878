package store

import (
	"github.com/xhep/xhep/collector/store/mysql"

	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidTable(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"hep_proto_1_call", true},
		{"hep_proto_999_default", true},
		{"hep_proto_0_registration", true},
		{"hep_proto_1000_default", false},
		{"hep_proto__default", false},
		{"hep_proto_1_calls", false},
		{"hep_proto_1_", false},
		{"hep_proto_1", false},
		{"hep_proto_a_default", false},
		{"hep_proto_1_default; DROP TABLE x", false},
		{"HEP_PROTO_1_call", false},
		{"xhep_proto_1_call", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validTable(tt.name); got != tt.want {
			t.Errorf("validTable(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseRetention(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in      string
		want    map[string]time.Duration
		wantErr bool
	}{
		{"call=14d,registration=3d,default=7d", map[string]time.Duration{"call": 14 * day, "registration": 3 * day, "default": 7 * day}, false},
		{" call = 1d , default=36h", map[string]time.Duration{"call": day, "default": 36 * time.Hour}, false},
		{"", map[string]time.Duration{}, false},
		{"rtcp=3d", nil, true},
		{"call", nil, true},
		{"call=xd", nil, true},
		{"call=0d", nil, true},
		{"call=-1h", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseRetention(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadRetention) {
				t.Errorf("ParseRetention(%q) error = %v, want ErrBadRetention", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRetention(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRetention(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`{"a":"b\"c"}`, `{"a":"b\\"c"}`},
		{"a\tb\nc\x00d\\e\r", `a\tb\nc\0d\\e` + "\r"},
	}
	for _, tt := range tests {
		got := string(mysql.AppendEscaped(nil, []byte(tt.in)))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("appendEscaped(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// rowOf is a comparable copy of a decoded row.
type rowOf struct {
	Micros          int64
	GID             uint32
	HH, PH, PL, Raw string
}

func decodeAll(t *testing.T, rec []byte) (recordHeader, []rowOf) {
	t.Helper()
	h, err := checkRecord(rec)
	if err != nil {
		t.Fatalf("checkRecord: %v", err)
	}
	var out []rowOf
	body := h.body
	var v rowView
	for range h.rows {
		body, _ = nextRow(body, &v)
		out = append(out, rowOf{v.Micros, v.GID, string(v.HepHeader), string(v.ProtoHeader), string(v.Payload), string(v.Raw)})
	}
	return h, out
}

func TestBatchRecordRoundTrip(t *testing.T) {
	tb := &table{name: "hep_proto_1_call"}
	b := &batch{}
	b.reset(tb, 0x0102030405060708)
	rows := []Row{
		{CreateDate: time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC), GID: 7, HepHeader: []byte(`{"a":1}`), ProtocolHeader: []byte(`{}`), Payload: []byte(`{"p":"x"}`), Raw: []byte("INVITE\x00\xff")},
		{CreateDate: time.Unix(0, 0), GID: 0, HepHeader: []byte(`{}`), ProtocolHeader: []byte(`{}`), Payload: []byte(`{}`)},
	}
	for i := range rows {
		b.add(&rows[i], rows[i].CreateDate.UnixMicro())
	}
	// The record, written out: version 1, id 08 07 .. 01, name length 16,
	// name, row count 2, then the rows.
	if b.buf[0] != 1 || b.buf[1] != 0x08 || b.buf[9] != 16 || string(b.buf[10:26]) != "hep_proto_1_call" || b.buf[26] != 2 {
		t.Fatalf("record head % x", b.buf[:30])
	}
	h, got := decodeAll(t, b.buf)
	want := []rowOf{
		{rows[0].CreateDate.UnixMicro(), 7, `{"a":1}`, `{}`, `{"p":"x"}`, "INVITE\x00\xff"},
		{0, 0, `{}`, `{}`, `{}`, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if h.id != 0x0102030405060708 || h.table != "hep_proto_1_call" {
		t.Errorf("header id %x table %q", h.id, h.table)
	}
}

func TestCheckRecordErrors(t *testing.T) {
	tb := &table{name: "hep_proto_1_call"}
	b := &batch{}
	b.reset(tb, 1)
	b.add(&Row{HepHeader: []byte(`{}`)}, 0)
	good := append([]byte(nil), b.buf...)
	tests := []struct {
		name string
		rec  []byte
	}{
		{"empty", nil},
		{"short", good[:5]},
		{"version", append([]byte{2}, good[1:]...)},
		{"truncated row", good[:len(good)-3]},
		{"trailing", append(append([]byte(nil), good...), 0)},
		{"bad table", func() []byte { r := append([]byte(nil), good...); r[10] = 'X'; return r }()},
		{"huge field", func() []byte { r := append([]byte(nil), good...); r[len(good)-1] = 0xff; return r }()},
	}
	for _, tt := range tests {
		if _, err := checkRecord(tt.rec); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: error %v, want ErrBadRecord", tt.name, err)
		}
	}
	if _, err := checkRecord(good); err != nil {
		t.Errorf("good record: %v", err)
	}
}

// FuzzCheckRecord feeds arbitrary spill records to the decoder: it must
// return an error or rows whose re-encoding is the same record.
func FuzzCheckRecord(f *testing.F) {
	tb := &table{name: "hep_proto_5_default"}
	b := &batch{}
	b.reset(tb, 42)
	b.add(&Row{HepHeader: []byte(`{"srcIp":"10.0.0.1"}`), ProtocolHeader: []byte(`{}`), Payload: []byte(`{"x":1}`), Raw: []byte{0x80, 0xc9, 0, 1}}, 1700000000000000)
	f.Add(append([]byte(nil), b.buf...))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 16})
	f.Fuzz(func(t *testing.T, rec []byte) {
		h, err := checkRecord(rec)
		if err != nil {
			return
		}
		re := &batch{}
		re.reset(&table{name: h.table}, h.id)
		body := h.body
		var v rowView
		for range h.rows {
			body, _ = nextRow(body, &v)
			re.add(&Row{GID: v.GID, HepHeader: v.HepHeader, ProtocolHeader: v.ProtoHeader, Payload: v.Payload, Raw: v.Raw}, v.Micros)
		}
		if h.rows == 0 {
			// add never ran: the count field is the one written by reset.
			if string(re.buf) != string(rec) {
				t.Fatalf("re-encoded empty record differs")
			}
			return
		}
		if diff := cmp.Diff(rec, re.buf); diff != "" {
			t.Fatalf("re-encoding (-in +out):\n%s", diff)
		}
	})
}

func TestClampMicros(t *testing.T) {
	tests := []struct {
		in   time.Time
		want int64
	}{
		{time.Time{}, minMicros},
		{time.Unix(0, 0), 0},
		{time.Date(2092, 5, 6, 7, 8, 9, 123456789, time.UTC), time.Date(2092, 5, 6, 7, 8, 9, 123456000, time.UTC).UnixMicro()},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), maxMicros},
	}
	for _, tt := range tests {
		if got := clampMicros(tt.in); got != tt.want {
			t.Errorf("clampMicros(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
