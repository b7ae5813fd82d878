package dns

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/xhep/xhep/hep/internal/pcaptest"
)

const queryDump = `
12 34 01 00 00 01 00 00 00 00 00 00     // id 0x1234, RD, 1 question
03 73 69 70 07 65 78 61 6d 70 6c 65     // "sip" "example"
03 63 6f 6d 00                          // "com" root
00 01 00 01                             // type A, class IN
`

const srvDump = `
be ef 85 80 00 01 00 01 00 00 00 01     // id 0xbeef, QR AA RD RA, 1 question, 1 answer, 1 additional
04 5f 73 69 70 04 5f 75 64 70           // @12 "_sip" "_udp"
07 65 78 61 6d 70 6c 65 03 63 6f 6d 00  // @22 "example" "com" root
00 21 00 01                             // type SRV, class IN
c0 0c 00 21 00 01 00 00 0e 10 00 0d     // @39 answer: name -> @12, SRV, IN, TTL 3600, rdlength 13
00 0a 00 3c 13 c4                       // priority 10, weight 60, port 5060
04 73 69 70 31 c0 16                    // @57 target "sip1" -> @22 (sip1.example.com)
c0 39 00 01 00 01 00 00 0e 10 00 04     // @64 additional: name -> @57, A, IN, TTL 3600, rdlength 4
c0 00 02 0a                             // 192.0.2.10
`

const naptrDump = `
00 01 81 80 00 01 00 01 00 00 00 00     // id 1, QR RD RA, 1 question, 1 answer
07 65 78 61 6d 70 6c 65 03 63 6f 6d 00  // @12 "example" "com" root
00 23 00 01                             // type NAPTR, class IN
c0 0c 00 23 00 01 00 00 00 3c 00 1b     // answer: name -> @12, NAPTR, IN, TTL 60, rdlength 27
00 64 00 0a                             // order 100, preference 10
01 53                                   // flags "S"
07 53 49 50 2b 44 32 55                 // service "SIP+D2U"
00                                      // regexp ""
04 5f 73 69 70 04 5f 75 64 70 c0 0c     // replacement "_sip" "_udp" -> @12
`

const anyDump = `
00 02 81 80 00 01 00 06 00 00 00 00     // id 2, QR RD RA, 1 question, 6 answers
07 65 78 61 6d 70 6c 65 03 63 6f 6d 00  // @12 "example" "com" root
00 ff 00 01                             // type ANY, class IN
c0 0c 00 01 00 01 00 00 01 2c 00 04     // A, TTL 300
c0 00 02 01                             //   192.0.2.1
c0 0c 00 1c 00 01 00 00 01 2c 00 10     // AAAA, TTL 300
20 01 0d b8 00 00 00 00                 //   2001:db8::1
00 00 00 00 00 00 00 01
c0 0c 00 0f 00 01 00 00 01 2c 00 09     // MX, TTL 300
00 0a 04 6d 61 69 6c c0 0c              //   preference 10, "mail" -> @12
c0 0c 00 10 00 01 00 00 01 2c 00 0c     // TXT, TTL 300
05 68 65 6c 6c 6f 05 77 22 72 6c 64     //   "hello", "w\"rld"
03 77 77 77 c0 0c 00 05 00 01           // "www" -> @12, CNAME, IN
00 00 01 2c 00 02 c0 0c                 //   TTL 300, rdlength 2, -> @12
c0 0c 00 63 00 01 00 00 01 2c 00 03     // type 99, TTL 300
02 68 69                                //   raw data
`

const ptrSOADump = `
00 03 81 80 00 01 00 02 00 01 00 00     // id 3, QR RD RA, 1 question, 2 answers, 1 authority
01 31 01 32 01 30 03 31 39 32           // @12 "1" "2" "0" "192"
07 69 6e 2d 61 64 64 72 04 61 72 70 61  // "in-addr" "arpa"
00 00 0c 00 01                          // root, type PTR, class IN
c0 0c 00 0c 00 01 00 00 0e 10 00 0e     // @40 answer: -> @12, PTR, IN, TTL 3600, rdlength 14
04 68 6f 73 74 07 65 78 61 6d 70 6c 65  //   "host" @57 "example"
00                                      //   root
c0 39 00 02 00 01 00 00 0e 10 00 05     // @66 answer: -> @57 (example), NS, IN, TTL 3600, rdlength 5
02 6e 73 c0 39                          //   @78 "ns" -> @57
c0 39 00 06 00 01 00 00 0e 10 00 23     // @83 authority: -> @57, SOA, IN, TTL 3600, rdlength 35
c0 4e                                   //   mname -> @78 (ns.example)
0a 68 6f 73 74 6d 61 73 74 65 72 c0 39  //   rname "hostmaster" -> @57
00 00 00 01 00 00 0e 10 00 00 02 58     //   serial 1, refresh 3600, retry 600
00 09 3a 80 00 00 01 2c                 //   expire 604800, minimum 300
`

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Msg
		wantErr error
	}{
		{
			name: "query",
			in:   queryDump,
			want: Msg{ID: 0x1234, RD: true, Questions: []Question{{Name: []byte("sip.example.com"), Type: TypeA, Class: 1}}},
		},
		{
			name: "srv with compression",
			in:   srvDump,
			want: Msg{ID: 0xbeef, QR: true, AA: true, RD: true, RA: true,
				Questions:  []Question{{Name: []byte("_sip._udp.example.com"), Type: TypeSRV, Class: 1}},
				Answers:    []RR{{Name: []byte("_sip._udp.example.com"), Type: TypeSRV, Class: 1, TTL: 3600, Data: pcaptest.Unhex(t, "00 0a 00 3c 13 c4 04 73 69 70 31 c0 16")}},
				Additional: []RR{{Name: []byte("sip1.example.com"), Type: TypeA, Class: 1, TTL: 3600, Data: []byte{192, 0, 2, 10}}},
			},
		},
		{
			name: "root name, escapes",
			in: `00 03 00 00 00 02 00 00 00 00 00 00   // 2 questions
				00 00 02 00 01                        // root, NS, IN
				03 61 2e 62 02 5c 20 00 00 01 00 01   // "a.b" "\\ " root, A, IN`,
			want: Msg{ID: 3, Questions: []Question{{Name: []byte("."), Type: TypeNS, Class: 1}, {Name: []byte(`a\.b.\\\032`), Type: TypeA, Class: 1}}},
		},
		{
			name:    "pointer to itself",
			in:      "00 04 00 00 00 01 00 00 00 00 00 00 c0 0c 00 01 00 01",
			want:    Msg{ID: 4},
			wantErr: ErrPointer,
		},
		{
			name:    "pointer forward",
			in:      "00 05 00 00 00 01 00 00 00 00 00 00 c0 10 00 01 00 01 00",
			want:    Msg{ID: 5},
			wantErr: ErrPointer,
		},
		{
			name:    "pointer loop through two names",
			in:      "00 06 00 00 00 02 00 00 00 00 00 00 01 61 c0 12 00 01 00 01 01 62 c0 0c 00 01 00 01",
			want:    Msg{ID: 6},
			wantErr: ErrPointer,
		},
		{
			name:    "extended label type",
			in:      "00 07 00 00 00 01 00 00 00 00 00 00 41 00 00 01 00 01",
			want:    Msg{ID: 7},
			wantErr: ErrName,
		},
		{
			name:    "name over 255 bytes",
			in:      "00 08 00 00 00 01 00 00 00 00 00 00" + strings.Repeat(" 3f"+strings.Repeat(" 61", 63), 4) + " 00 00 01 00 01",
			want:    Msg{ID: 8},
			wantErr: ErrName,
		},
		{
			name:    "short header",
			in:      "00 09 00 00 00",
			wantErr: ErrTruncated,
		},
		{
			name:    "rdlength beyond the end",
			in:      "00 0a 80 00 00 00 00 01 00 00 00 00 00 00 01 00 01 00 00 00 01 00 08 c0 00",
			want:    Msg{ID: 10, QR: true},
			wantErr: ErrTruncated,
		},
		{
			name:    "question cut",
			in:      "00 0b 00 00 00 01 00 00 00 00 00 00 00 00 01",
			want:    Msg{ID: 11},
			wantErr: ErrTruncated,
		},
	}
	var m Msg
	opts := []cmp.Option{cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Msg{}, RR{})}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.DecodeFromBytes(pcaptest.Unhex(t, tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, m, opts...); diff != "" {
				t.Errorf("DecodeFromBytes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJSONGolden compares AppendJSON with golden files under testdata
// (regenerate with XHEP_UPDATE_GOLDEN=1 and review the diff).
func TestJSONGolden(t *testing.T) {
	for name, dump := range map[string]string{"query": queryDump, "srv": srvDump, "naptr": naptrDump, "any": anyDump, "ptr_soa": ptrSOADump} {
		t.Run(name, func(t *testing.T) {
			var m Msg
			if err := m.DecodeFromBytes(pcaptest.Unhex(t, dump)); err != nil {
				t.Fatal(err)
			}
			got := m.AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			golden := filepath.Join("testdata", name+".json")
			if os.Getenv("XHEP_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
				t.Errorf("AppendJSON mismatch (-want +got):\n%s", diff)
			}
			// DecodeJSON reads it back: same header and questions.
			var j Msg
			if err := j.DecodeJSON(got); err != nil {
				t.Fatal(err)
			}
			opts := []cmp.Option{cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Msg{}, RR{}), cmpopts.IgnoreFields(RR{}, "Data")}
			if diff := cmp.Diff(m, j, opts...); diff != "" {
				t.Errorf("DecodeJSON(AppendJSON) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadRData(t *testing.T) {
	// An A record with a 3-byte RDATA and a CNAME whose name runs past
	// its RDATA are written as hex.
	in := pcaptest.Unhex(t, `
		00 0c 80 00 00 00 00 02 00 00 00 00   // QR, 2 answers
		00 00 01 00 01 00 00 00 01 00 03      // root A IN TTL 1 rdlength 3
		01 02 03
		00 00 05 00 01 00 00 00 01 00 02      // root CNAME IN TTL 1 rdlength 2
		01 61                                 // "a" without its terminating root
	`)
	var m Msg
	if err := m.DecodeFromBytes(in); err != nil {
		t.Fatal(err)
	}
	got := string(m.AppendJSON(nil))
	for _, want := range []string{`"type":1,"class":1,"ttl":1,"data":"010203"}`, `"type":5,"class":1,"ttl":1,"data":"0161"}`} {
		if !strings.Contains(got, want) {
			t.Errorf("AppendJSON = %s, want it to contain %s", got, want)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	// heplify's shape (z, qdc.. and no ad/cd; types as numbers).
	const heplify = `{"id":4660,"qr":true,"opcode":0,"aa":false,"tc":false,"rd":true,"ra":true,"z":0,` +
		`"rescode":3,"qdc":1,"anc":0,"nsc":0,"arc":0,"questions":[{"name":"nx.example.com","type":1,"class":1}]}`
	var m Msg
	if err := m.DecodeJSON([]byte(heplify)); err != nil {
		t.Fatal(err)
	}
	want := Msg{ID: 4660, QR: true, RD: true, RA: true, Rcode: 3,
		Questions: []Question{{Name: []byte("nx.example.com"), Type: 1, Class: 1}}}
	if diff := cmp.Diff(want, m, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Msg{}, RR{})); diff != "" {
		t.Errorf("DecodeJSON mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"id":1}{}`, `{"id":"x"}`, `{"id":70000}`, `{"id":1,"questions":[{"type":-1}]}`, `{"id":1`} {
		if err := m.DecodeJSON([]byte(bad)); !errors.Is(err, ErrJSON) {
			t.Errorf("DecodeJSON(%q) = %v, want ErrJSON", bad, err)
		}
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	in := pcaptest.Unhex(t, anyDump)
	var m Msg
	dst := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() {
		_ = m.DecodeFromBytes(in)
		dst = m.AppendJSON(dst[:0])
	}); n != 0 {
		t.Errorf("decode + AppendJSON allocates %v times per message", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	in := pcaptest.Unhex(b, srvDump)
	var m Msg
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.DecodeFromBytes(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAppendJSON(b *testing.B) {
	in := pcaptest.Unhex(b, srvDump)
	var m Msg
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := m.DecodeFromBytes(in); err != nil {
			b.Fatal(err)
		}
		dst = m.AppendJSON(dst[:0])
	}
}

// TestRecordLimit: a message with more records than MaxRecords keeps
// MaxRecords, counts the rest and keeps its name storage bounded.
func TestRecordLimit(t *testing.T) {
	const n = MaxRecords + 100
	b := []byte{0, 1, 0x80, 0, 0, 1, n >> 8, n & 0xff, 0, 0, 0, 0}
	b = append(b, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1) // @12 example, A, IN
	for i := 0; i < n; i++ {
		// -> @12, A, IN, TTL 1, rdlength 4, 192.0.2.x
		b = append(b, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 192, 0, 2, byte(i))
	}
	var m Msg
	if err := m.DecodeFromBytes(b); err != nil {
		t.Fatal(err)
	}
	if len(m.Answers) != MaxRecords || m.Dropped != 100 || len(m.names) > (MaxRecords+1)*len("example") {
		t.Errorf("%d answers, %d dropped, name storage %d; want %d, 100, bounded", len(m.Answers), m.Dropped, len(m.names), MaxRecords)
	}
	if string(m.Answers[MaxRecords-1].Name) != "example" {
		t.Errorf("last kept answer name %q", m.Answers[MaxRecords-1].Name)
	}
}
