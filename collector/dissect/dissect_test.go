package dissect

import (
	"encoding/json"
	"errors"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// invite is a 600-byte-class INVITE with SDP, CRLF line ends.
var invite = crlf(`INVITE sip:bob@biloxi.example.com:5062 SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-first
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: "Alice \"A\"" <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
P-Asserted-Identity: <sip:+15551234@atlanta.example.com>
X-CID: aleg-call-id@b2bua
User-Agent: xhep-test/1.0
Content-Type: application/sdp
Content-Length: 150

v=0
o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com
s=-
c=IN IP4 192.0.2.101
t=0 0
m=audio 49172 RTP/AVP 0 8
a=rtpmap:0 PCMU/8000
`)

func crlf(s string) []byte {
	s = strings.ReplaceAll(s, "\n", "\r\n")
	// The SDP body is 150 bytes with CRLF; keep Content-Length honest.
	return []byte(s)
}

// encode builds a HEP3 message the way an agent sends it and returns its bytes.
func encode(t testing.TB, proto hep.ProtoType, payload []byte, mod func(*hep.Message)) []byte {
	t.Helper()
	m := hep.Message{
		IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5062,
		TsSec: 1700000000, TsUsec: 123456,
		Proto: proto, NodeID: 2001, Payload: payload,
	}
	if mod != nil {
		mod(&m)
	}
	b, err := m.AppendTo(nil)
	if err != nil {
		t.Fatalf("encode HEP: %v", err)
	}
	return b
}

type result struct {
	Table          string
	GID            uint32
	HepHeader      map[string]any
	ProtocolHeader map[string]any
	Payload        any
	Raw            string
	Reason         string
}

// dissect decodes b as HEP and dissects it, checking that every JSON
// document is valid UTF-8 JSON.
func dissect(t *testing.T, d *Dissector, b []byte) result {
	t.Helper()
	var m hep.Message
	if err := m.DecodeFromBytes(b); err != nil {
		t.Fatalf("decode HEP: %v", err)
	}
	var row store.Row
	err := d.Dissect(&m, &row)
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatalf("Dissect returned %v, not a PayloadError", err)
	}
	r := result{Table: row.Table, GID: row.GID, Raw: string(row.Raw), Reason: Reason(err)}
	for _, doc := range []struct {
		name string
		b    []byte
		v    any
	}{{"hep_header", row.HepHeader, &r.HepHeader}, {"protocol_header", row.ProtocolHeader, &r.ProtocolHeader}, {"payload", row.Payload, &r.Payload}} {
		if !json.Valid(doc.b) || !utf8.Valid(doc.b) {
			t.Fatalf("%s is not valid UTF-8 JSON: %q", doc.name, doc.b)
		}
		if err := json.Unmarshal(doc.b, doc.v); err != nil {
			t.Fatalf("%s: %v", doc.name, err)
		}
	}
	if want := time.Unix(1700000000, 123456000).UTC(); !row.CreateDate.Equal(want) {
		t.Errorf("CreateDate = %v, want %v", row.CreateDate, want)
	}
	return r
}

func newDissector(t testing.TB, cfg Config) *Dissector {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestHepHeader(t *testing.T) {
	d := newDissector(t, Config{})
	b := encode(t, hep.ProtoLog, []byte("hello"), func(m *hep.Message) {
		m.CorrelationID = []byte("a84b4c76e66710@pc33")
		m.NodeName = []byte("edge-1")
		m.VLAN = 42
		m.Set(hep.ChunkVLAN)
		m.MOS = 410
		m.TransactionType = []byte("call")
	})
	got := dissect(t, d, b).HepHeader
	want := map[string]any{
		"protocolFamily": 2.0, "protocol": 17.0, "srcIp": "192.0.2.1", "dstIp": "192.0.2.2",
		"srcPort": 5060.0, "dstPort": 5062.0, "timeSeconds": 1700000000.0, "timeUseconds": 123456.0,
		"payloadType": 100.0, "captureId": 2001.0, "captureName": "edge-1",
		"correlation_id": "a84b4c76e66710@pc33", "vlan": 42.0, "mos": 410.0,
		"transaction_type": "call", "hepVersion": 3.0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hep_header (-want +got):\n%s", diff)
	}
}

func TestSIPInvite(t *testing.T) {
	d := newDissector(t, Config{})
	r := dissect(t, d, encode(t, hep.ProtoSIP, invite, nil))
	if r.Table != "hep_proto_1_call" || r.Reason != "" || r.GID != 2001 || r.Raw != string(invite) {
		t.Errorf("table %q reason %q gid %d raw equal %v", r.Table, r.Reason, r.GID, r.Raw == string(invite))
	}
	want := map[string]any{
		"callid": "a84b4c76e66710@pc33.atlanta.example.com", "callid_aleg": "aleg-call-id@b2bua",
		"method": "INVITE", "status": 0.0, "cseq": "314159 INVITE", "cseq_method": "INVITE", "cseq_num": 314159.0,
		"ruri_user": "bob", "ruri_domain": "biloxi.example.com", "ruri_port": 5062.0,
		"from_user": "alice", "from_domain": "atlanta.example.com", "from_tag": "1928301774",
		"to_user": "bob", "to_domain": "biloxi.example.com", "to_tag": "",
		"pid_user": "+15551234", "contact_user": "alice",
		"via_1": "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport", "via_1_branch": "z9hG4bK776asdhds",
		"via_count": 2.0, "user_agent": "xhep-test/1.0", "content_type": "application/sdp", "content_length": 150.0,
		"transaction": "call",
	}
	if diff := cmp.Diff(want, r.ProtocolHeader); diff != "" {
		t.Errorf("protocol_header (-want +got):\n%s", diff)
	}
	p := r.Payload.(map[string]any)
	if p["start_line"] != "INVITE sip:bob@biloxi.example.com:5062 SIP/2.0" {
		t.Errorf("start_line = %q", p["start_line"])
	}
	if _, ok := p["headers"]; ok {
		t.Errorf("payload has headers; they are in raw only")
	}
	if p["body_length"] != 150.0 {
		t.Errorf("body_length = %v, want 150", p["body_length"])
	}
	wantSDP := map[string]any{"conn": "192.0.2.101", "media": []any{map[string]any{
		"type": "audio", "port": 49172.0, "proto": "RTP/AVP", "conn": "192.0.2.101", "rtcp_mux": false,
		"codecs": []any{map[string]any{"pt": 0.0, "name": "PCMU", "rate": 8000.0}, map[string]any{"pt": 8.0, "name": "PCMA", "rate": 8000.0}},
	}}}
	if diff := cmp.Diff(wantSDP, p["sdp"]); diff != "" {
		t.Errorf("sdp (-want +got):\n%s", diff)
	}
}

func TestRouting(t *testing.T) {
	d := newDissector(t, Config{})
	sipMsg := func(first, cseq string) []byte {
		return crlf(first + "\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c1\nCSeq: " + cseq + "\nContent-Length: 0\n\n")
	}
	tests := []struct {
		name   string
		proto  hep.ProtoType
		body   []byte
		table  string
		reason string
	}{
		{"INVITE", hep.ProtoSIP, sipMsg("INVITE sip:b@h SIP/2.0", "1 INVITE"), "hep_proto_1_call", ""},
		{"200 to INVITE", hep.ProtoSIP, sipMsg("SIP/2.0 200 OK", "1 INVITE"), "hep_proto_1_call", ""},
		{"ACK", hep.ProtoSIP, sipMsg("ACK sip:b@h SIP/2.0", "1 ACK"), "hep_proto_1_call", ""},
		{"BYE", hep.ProtoSIP, sipMsg("BYE sip:b@h SIP/2.0", "2 BYE"), "hep_proto_1_call", ""},
		{"CANCEL", hep.ProtoSIP, sipMsg("CANCEL sip:b@h SIP/2.0", "1 CANCEL"), "hep_proto_1_call", ""},
		{"UPDATE", hep.ProtoSIP, sipMsg("UPDATE sip:b@h SIP/2.0", "3 UPDATE"), "hep_proto_1_call", ""},
		{"PRACK", hep.ProtoSIP, sipMsg("PRACK sip:b@h SIP/2.0", "3 PRACK"), "hep_proto_1_call", ""},
		{"REFER", hep.ProtoSIP, sipMsg("REFER sip:b@h SIP/2.0", "3 REFER"), "hep_proto_1_call", ""},
		{"INFO", hep.ProtoSIP, sipMsg("INFO sip:b@h SIP/2.0", "3 INFO"), "hep_proto_1_call", ""},
		{"REGISTER", hep.ProtoSIP, sipMsg("REGISTER sip:h SIP/2.0", "1 REGISTER"), "hep_proto_1_registration", ""},
		{"401 to REGISTER", hep.ProtoSIP, sipMsg("SIP/2.0 401 Unauthorized", "1 REGISTER"), "hep_proto_1_registration", ""},
		{"OPTIONS", hep.ProtoSIP, sipMsg("OPTIONS sip:h SIP/2.0", "1 OPTIONS"), "hep_proto_1_default", ""},
		{"MESSAGE", hep.ProtoSIP, sipMsg("MESSAGE sip:h SIP/2.0", "1 MESSAGE"), "hep_proto_1_default", ""},
		{"not SIP", hep.ProtoSIP, []byte("\x00\x01\x02garbage"), "hep_proto_1_default", "sip_malformed"},
		{"empty SIP", hep.ProtoSIP, nil, "hep_proto_1_default", "sip_empty"},
		{"bad CSeq", hep.ProtoSIP, sipMsg("INVITE sip:b@h SIP/2.0", "x INVITE"), "hep_proto_1_default", "sip_bad_cseq"},
		{"log", hep.ProtoLog, []byte("SYSLOG: Processing OPTIONS"), "hep_proto_100_default", ""},
		{"JSON event", 0x3c, []byte(`{"cdr":{"duration":12}}`), "hep_proto_60_default", ""},
		{"bad JSON", 0x32, []byte(`{"cdr":`), "hep_proto_50_default", "json_invalid"},
		{"JSON not UTF-8", 0x3d, []byte("{\"x\":\"\xff\"}"), "hep_proto_61_default", "json_invalid_utf8"},
		{"other type", hep.ProtoMGCP, []byte("RSIP 1 *@gw MGCP 1.0"), "hep_proto_6_default", ""},
		{"type 200", 200, []byte{0, 1, 2}, "hep_proto_200_default", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dissect(t, d, encode(t, tt.proto, tt.body, nil))
			if diff := cmp.Diff([]string{tt.table, tt.reason}, []string{r.Table, r.Reason}); diff != "" {
				t.Errorf("table, reason (-want +got):\n%s", diff)
			}
			if r.Raw != string(tt.body) {
				t.Errorf("raw = %q, want the payload", r.Raw)
			}
			if tt.reason != "" {
				if p, ok := r.Payload.(map[string]any); !ok || p["error"] == nil {
					t.Errorf("payload %v has no error", r.Payload)
				}
			}
		})
	}
}

func TestLogAndJSONPayloads(t *testing.T) {
	d := newDissector(t, Config{})
	r := dissect(t, d, encode(t, hep.ProtoLog, []byte("line \"one\"\n\ttab \xc3\xa9 \xff end"), nil))
	want := map[string]any{"message": "line \"one\"\n\ttab é \ufffd end"}
	if diff := cmp.Diff(want, r.Payload); diff != "" {
		t.Errorf("log payload (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{}, r.ProtocolHeader); diff != "" {
		t.Errorf("log protocol_header (-want +got):\n%s", diff)
	}
	r = dissect(t, d, encode(t, 0x3c, []byte(`[1,{"a":"b"}]`), nil))
	if diff := cmp.Diff([]any{1.0, map[string]any{"a": "b"}}, r.Payload); diff != "" {
		t.Errorf("JSON payload (-want +got):\n%s", diff)
	}
}

func TestALegHeaders(t *testing.T) {
	msg := func(hdr string) []byte {
		return crlf("BYE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: bleg\nCSeq: 2 BYE\n" + hdr + "Content-Length: 0\n\n")
	}
	tests := []struct {
		name    string
		headers []string
		hdr     string
		want    any
	}{
		{"default X-CID", nil, "X-CID: aleg1\n", "aleg1"},
		{"default, lower case", nil, "x-cid: aleg2\n", "aleg2"},
		{"default, absent", nil, "X-Other: x\n", nil},
		{"plain name", []string{"X-Leg-ID"}, "X-Leg-ID: aleg3\n", "aleg3"},
		{"plain name misses X-CID", []string{"X-Leg-ID"}, "X-CID: aleg\n", nil},
		{"alternation", []string{"X-CID|X-Leg-ID"}, "x-leg-id: aleg4\n", "aleg4"},
		{"prefix regex", []string{"^x-b2b-.*"}, "X-B2B-Call: aleg5\n", "aleg5"},
		{"regex is anchored", []string{"b2b"}, "X-B2B-Call: aleg\n", nil},
		{"first match wins", []string{"X-A", "X-B"}, "X-B: second\nX-A: first\n", "second"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDissector(t, Config{ALegHeaders: tt.headers}).Clone()
			for range 2 { // the second pass goes through the name cache
				r := dissect(t, d, encode(t, hep.ProtoSIP, msg(tt.hdr), nil))
				if diff := cmp.Diff(tt.want, r.ProtocolHeader["callid_aleg"]); diff != "" {
					t.Errorf("callid_aleg (-want +got):\n%s", diff)
				}
			}
		})
	}
	if _, err := New(Config{ALegHeaders: []string{"X-(CID"}}); err == nil {
		t.Error("New accepted a bad regular expression")
	}
}

func TestHEPv2AndCompressed(t *testing.T) {
	d := newDissector(t, Config{})
	// Compressed payload chunk (0x10): dissected as the plain payload.
	r := dissect(t, d, encode(t, hep.ProtoSIP, invite, func(m *hep.Message) { m.Compress = true }))
	if r.Table != "hep_proto_1_call" || r.ProtocolHeader["callid"] != "a84b4c76e66710@pc33.atlanta.example.com" || r.Raw != string(invite) {
		t.Errorf("compressed: table %q callid %v", r.Table, r.ProtocolHeader["callid"])
	}
	if r.HepHeader["compressed"] != true {
		t.Errorf("compressed: hep_header %v lacks compressed", r.HepHeader)
	}
	// HEP v2 (IPv4):
	//
	//	version 2 | length 28 | family 2 | proto 17 | src port | dst port |
	//	src ip 4 | dst ip 4 | ts sec u32 LE | ts usec u32 LE | node id u16 LE | 2 bytes padding | payload
	v2 := []byte{2, 28, 2, 17, 0x13, 0xc4, 0x13, 0xc6, 192, 0, 2, 1, 192, 0, 2, 2}
	v2 = append(v2, 0x00, 0xf1, 0x53, 0x65) // 1700000000 little-endian
	v2 = append(v2, 0x40, 0xe2, 0x01, 0x00) // 123456 little-endian
	v2 = append(v2, 0xd1, 0x07, 0, 0)       // node 2001
	v2 = append(v2, invite...)
	var m hep.Message
	if err := m.DecodeFromBytes(v2); err != nil {
		t.Skipf("HEP v2 layout differs from this test's: %v", err)
	}
	r = dissect(t, d, v2)
	if r.Table != "hep_proto_1_call" || r.HepHeader["hepVersion"] != 2.0 || r.HepHeader["srcPort"] != 5060.0 {
		t.Errorf("v2: table %q hep_header %v", r.Table, r.HepHeader)
	}
}

// options600 is a 600-byte OPTIONS without a body, the size the target
// figure is stated for.
var options600 = func() []byte {
	m := crlf("OPTIONS sip:proxy.biloxi.example.com SIP/2.0\nVia: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKhjhs8ass877;rport\nMax-Forwards: 70\nTo: <sip:proxy.biloxi.example.com>\nFrom: Alice <sip:alice@atlanta.example.com>;tag=1928301774\nCall-ID: a84b4c76e66710@pc33.atlanta.example.com\nCSeq: 63104 OPTIONS\nContact: <sip:alice@pc33.atlanta.example.com>\nAccept: application/sdp\nUser-Agent: xhep-test/1.0\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, UPDATE\nContent-Length: 0\n")
	// One X-Pad header brings it to 600 bytes with the final blank line.
	m = append(m, "X-Pad: "+strings.Repeat("x", 598-len(m)-9)+"\r\n"...)
	return append(m, "\r\n"...)
}()

// BenchmarkDissect measures HEP decode + SIP dissect + row build, the
// collector's per-message CPU work, for a 600-byte OPTIONS and a 738-byte
// INVITE with SDP. cpu-ns/op is the thread's CPU time per message, which
// the shared test machine distorts less than wall time.
func BenchmarkDissect(b *testing.B) {
	if len(options600) != 600 {
		b.Fatalf("options600 is %d bytes", len(options600))
	}
	for _, tc := range []struct {
		name string
		sip  []byte
		hdrs []string // Config.SearchHeaders
	}{{"options-600B", options600, nil}, {"invite-sdp-738B", invite, nil},
		{"invite-sdp-738B/search-headers=2", invite, []string{"X-Account", "X-CID"}}} {
		b.Run(tc.name, func(b *testing.B) {
			pkt := encode(b, hep.ProtoSIP, tc.sip, func(m *hep.Message) { m.CorrelationID = []byte("a84b4c76e66710@pc33") })
			d := newDissector(b, Config{SearchHeaders: tc.hdrs})
			var m hep.Message
			var row store.Row
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			n := 0
			for b.Loop() {
				if err := m.DecodeFromBytes(pkt); err != nil {
					b.Fatal(err)
				}
				if err := d.Dissect(&m, &row); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(threadCPU()-cpu0)/float64(n), "cpu-ns/op")
		})
	}
}

// keys returns the top-level keys of the JSON object doc in order.
func keys(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %q", doc)
	}
	var ks []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return ks
}

// TestSIPKeyOrder checks that protocol_header starts with the keys the
// database indexes, in the order JSON_VALUE finds them soonest, and that
// the SIP payload holds no header list.
func TestSIPKeyOrder(t *testing.T) {
	d := newDissector(t, Config{})
	resp := crlf("SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: c1\nCSeq: 1 INVITE\nContent-Length: 0\n\n")
	tests := []struct {
		name    string
		msg     []byte
		want    []string
		payload []string
	}{
		{"request with X-CID", invite, []string{"callid", "callid_aleg", "method", "status", "ruri_user", "from_user", "to_user",
			"cseq", "cseq_method", "cseq_num", "ruri_domain", "ruri_port", "from_domain", "from_tag", "to_domain", "to_tag",
			"pid_user", "contact_user", "via_1", "via_1_branch", "via_count", "user_agent", "content_type", "content_length", "transaction"},
			[]string{"start_line", "body_length", "sdp"}},
		{"response", resp, []string{"callid", "method", "status", "ruri_user", "from_user", "to_user", "reason",
			"cseq", "cseq_method", "cseq_num", "ruri_domain", "from_domain", "from_tag", "to_domain", "to_tag",
			"via_1", "via_1_branch", "via_count", "user_agent", "content_type", "content_length", "transaction"},
			[]string{"start_line", "body_length"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := dissectSIP(t, d, tt.msg)
			if diff := cmp.Diff(tt.want, keys(t, row.ProtocolHeader)); diff != "" {
				t.Errorf("protocol_header keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.payload, keys(t, row.Payload)); diff != "" {
				t.Errorf("payload keys (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSDPContentType: the SDP summary is written for application/sdp only,
// by the same strict test the agent's correlation uses (sip.IsSDP); a
// media type that merely starts with it is not SDP.
func TestSDPContentType(t *testing.T) {
	d := newDissector(t, Config{})
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	tests := []struct {
		ctype   string
		payload []string
	}{
		{"application/sdp", []string{"start_line", "body_length", "sdp"}},
		{"Application/SDP;charset=utf-8", []string{"start_line", "body_length", "sdp"}},
		{"application/sdpfoo", []string{"start_line", "body_length"}},
		{"application/sdp-x", []string{"start_line", "body_length"}},
		{"text/plain", []string{"start_line", "body_length"}},
	}
	for _, tt := range tests {
		t.Run(tt.ctype, func(t *testing.T) {
			msg := "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n" +
				"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Type: " + tt.ctype + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
			row := dissectSIP(t, d, []byte(msg))
			if diff := cmp.Diff(tt.payload, keys(t, row.Payload)); diff != "" {
				t.Errorf("payload keys (-want +got):\n%s", diff)
			}
		})
	}
}

// dissectSIP sends one SIP message through HEP encode, decode and Dissect.
func dissectSIP(t *testing.T, d *Dissector, msg []byte) store.Row {
	t.Helper()
	var m hep.Message
	if err := m.DecodeFromBytes(encode(t, hep.ProtoSIP, msg, nil)); err != nil {
		t.Fatal(err)
	}
	var row store.Row
	if err := d.Dissect(&m, &row); err != nil {
		t.Fatal(err)
	}
	return row
}
