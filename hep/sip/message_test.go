package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testInvite is a 600-byte-class INVITE with an SDP offer, the benchmark
// and reference message.
const testInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.101:5060>\r\n" +
	"User-Agent: xhep-test/1.0\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 211\r\n" +
	"\r\n" +
	"v=0\r\n" +
	"o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.101\r\n" +
	"t=0 0\r\n" +
	"m=audio 49172 RTP/AVP 0 8 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=sendrecv\r\n"

// msgView is the readable form of a Message the tests compare.
type msgView struct {
	Request                    bool
	Method, RURI, RUser, RHost string
	RPort                      uint16
	Status                     int
	Reason                     string
	FromDisplay, FromUser      string
	FromHost, FromTag          string
	ToUser, ToHost, ToTag      string
	CallID                     string
	CSeq                       uint32
	CSeqMethod                 string
	Via                        []string // transport host port branch
	ViaCount                   int
	Contact                    string
	UserAgent, Server          string
	ContentType                string
	ContentLength              int
	PAI, Diversion, ReasonHdr  string
	Expires                    int
	AuthUser, XCID             string
	RecordRoute                []string
	Headers                    int
	Body                       string
}

func view(m *Message) msgView {
	v := msgView{
		Request: m.IsRequest, Method: string(m.Method), RURI: string(m.RequestURI.Raw),
		RUser: string(m.RequestURI.User), RHost: string(m.RequestURI.Host), RPort: m.RequestURI.Port,
		Status: m.StatusCode, Reason: string(m.Reason),
		FromDisplay: string(m.From.Display), FromUser: string(m.From.URI.User),
		FromHost: string(m.From.URI.Host), FromTag: string(m.From.Tag),
		ToUser: string(m.To.URI.User), ToHost: string(m.To.URI.Host), ToTag: string(m.To.Tag),
		CallID: string(m.CallID), CSeq: m.CSeqNum, CSeqMethod: string(m.CSeqMethod),
		ViaCount: m.ViaCount, Contact: string(m.Contact.URI.Raw),
		UserAgent: string(m.UserAgent), Server: string(m.Server), ContentType: string(m.ContentType),
		ContentLength: m.ContentLength, PAI: string(m.PAssertedIdentity.URI.Raw),
		Diversion: string(m.Diversion.URI.Raw), ReasonHdr: string(m.ReasonHeader),
		Expires: m.Expires, AuthUser: string(m.AuthorizationUser), XCID: string(m.XCID),
		Headers: len(m.Headers), Body: string(m.Body),
	}
	for _, via := range m.Via {
		v.Via = append(v.Via, strings.Join([]string{string(via.Transport), string(via.Host),
			itoa(int(via.Port)), string(via.Branch)}, " "))
	}
	for _, rr := range m.RecordRoute {
		v.RecordRoute = append(v.RecordRoute, string(rr))
	}
	return v
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    msgView
		wantErr error
	}{
		{
			name: "invite with sdp",
			in:   testInvite,
			want: msgView{
				Request: true, Method: "INVITE", RURI: "sip:bob@biloxi.example.com", RUser: "bob", RHost: "biloxi.example.com",
				FromDisplay: "Alice", FromUser: "alice", FromHost: "atlanta.example.com", FromTag: "1928301774",
				ToUser: "bob", ToHost: "biloxi.example.com",
				CallID: "a84b4c76e66710@pc33.atlanta.example.com", CSeq: 314159, CSeqMethod: "INVITE",
				Via:      []string{"UDP pc33.atlanta.example.com 5060 z9hG4bK776asdhds"},
				ViaCount: 1, Contact: "sip:alice@192.0.2.101:5060", UserAgent: "xhep-test/1.0",
				ContentType: "application/sdp", ContentLength: 211, Expires: -1, Headers: 10,
				Body: testInvite[strings.Index(testInvite, "v=0"):],
			},
		},
		{
			// Shape of suricata-verify's sip-compact-form INVITE: compact
			// names, a display name with literal backslash-escaped quotes
			// outside a quoted string, and no SDP here.
			name: "compact forms",
			in: "INVITE sip:97239287044@voip.example.net SIP/2.0\r\n" +
				"v: SIP/2.0/UDP 192.168.1.2:5060;branch=z9hG4bKnp104984053;rport\r\n" +
				"f: \\\"arik\\\" <sip:816666@voip.example.net>;tag=6433ef9\r\n" +
				"t: <sip:97239287044@voip.example.net>\r\n" +
				"i: 105090259-446faf7a@192.168.1.2\r\n" +
				"CSeq: 1 INVITE\r\n" +
				"c: application/sdp\r\n" +
				"m: <sip:816666@192.168.1.2>\r\n" +
				"l: 4\r\n\r\nv=0\r\n",
			want: msgView{
				Request: true, Method: "INVITE", RURI: "sip:97239287044@voip.example.net", RUser: "97239287044", RHost: "voip.example.net",
				FromDisplay: `\"arik\"`, FromUser: "816666", FromHost: "voip.example.net", FromTag: "6433ef9",
				ToUser: "97239287044", ToHost: "voip.example.net",
				CallID: "105090259-446faf7a@192.168.1.2", CSeq: 1, CSeqMethod: "INVITE",
				Via: []string{"UDP 192.168.1.2 5060 z9hG4bKnp104984053"}, ViaCount: 1,
				Contact: "sip:816666@192.168.1.2", ContentType: "application/sdp", ContentLength: 4,
				Expires: -1, Headers: 8, Body: "v=0\r",
			},
		},
		{
			name: "bare LF, odd case, folding, multi-value Via, escaped quotes, IPv6",
			in: "SIP/2.0 200 OK\n" +
				"vIA: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK1, SIP / 2.0 / UDP 10.0.0.1;BRANCH=\"z9hG4bK2\"\n" +
				"VIA: SIP/2.0/WSS abc.invalid;branch=z9hG4bK3\n" +
				"fROM: \"Bob \\\"the\\\" Builder\" <sips:bob@[2001:db8::2]:5061>;TAG=aa\n" +
				"to: sip:carol@example.com;tag=bb\n" +
				"call-id: abc\n" +
				"cseq: 2 REGISTER\n" +
				"Subject: first line\n" +
				"  second line\n" +
				"\tthird line\n" +
				"SERVER: pbx\n" +
				"eXpIrEs: 3600\n" +
				"\n",
			want: msgView{
				Status: 200, Reason: "OK",
				FromDisplay: `Bob \"the\" Builder`, FromUser: "bob", FromHost: "2001:db8::2", FromTag: "aa",
				ToUser: "carol", ToHost: "example.com", ToTag: "bb",
				CallID: "abc", CSeq: 2, CSeqMethod: "REGISTER",
				Via: []string{
					"TCP 2001:db8::1 5061 z9hG4bK1",
					"UDP 10.0.0.1 0 z9hG4bK2",
					"WSS abc.invalid 0 z9hG4bK3",
				},
				ViaCount: 3, Server: "pbx", ContentLength: -1, Expires: 3600, Headers: 9,
				Body: "",
			},
		},
		{
			name: "tel URI, empty user part, PAI, Diversion, auth, record-route, X-CID, reason",
			in: "BYE tel:+14155550100;phone-context=example.com SIP/2.0\r\n" +
				"From: <sip:@127.0.0.1>;tag=x\r\n" +
				"To: <tel:+14155550100>\r\n" +
				"Call-ID: leg-b\r\n" +
				"CSeq: 3 BYE\r\n" +
				"P-Asserted-Identity: \"A\" <sip:+1555@pbx.example.com>, <tel:+1555>\r\n" +
				"Diversion: <sip:100@pbx.example.com>;reason=unconditional\r\n" +
				"Proxy-Authorization: Digest realm=\"x\", username=\"alice\", nonce=\"n,1\"\r\n" +
				"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n" +
				"Record-Route: <sip:p3.example.com;lr>\r\n" +
				"X-CID: leg-a\r\n" +
				"Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n" +
				"Content-Length: 0\r\n\r\n",
			want: msgView{
				Request: true, Method: "BYE", RURI: "tel:+14155550100;phone-context=example.com", RUser: "+14155550100",
				FromHost: "127.0.0.1", FromTag: "x", ToUser: "+14155550100",
				CallID: "leg-b", CSeq: 3, CSeqMethod: "BYE",
				PAI: "sip:+1555@pbx.example.com", Diversion: "sip:100@pbx.example.com",
				AuthUser: "alice", XCID: "leg-a",
				RecordRoute: []string{"<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"},
				ReasonHdr:   `Q.850;cause=16;text="Normal call clearing"`,
				Expires:     -1, Headers: 12,
			},
		},
		{
			// IPv6 without brackets, as the Valid8 user agent in heplify's
			// sip_ipv6_udp.pcap sends it, and "host : port" in Via.
			name: "bare IPv6 hosts",
			in: "INVITE sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060 SIP/2.0\r\n" +
				"From: <sip:9876@fe80:0:0:0:21a:a0ff:fe07:32e0>;tag=a3bhg\r\n" +
				"Via: SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bKk\r\n" +
				"Via: SIP/2.0/UDP ::1;branch=z9hG4bKl, SIP/2.0/TCP host.example : 5062 ;branch=z9hG4bKm\r\n\r\n",
			want: msgView{
				Request: true, Method: "INVITE", RURI: "sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060",
				RUser: "4321", RHost: "fec0:0:0:0:216:d3ff:fe0d:22c", RPort: 5060,
				FromUser: "9876", FromHost: "fe80:0:0:0:21a:a0ff:fe07:32e0", FromTag: "a3bhg",
				Via: []string{"UDP fe80:0:0:0:21a:a0ff:fe07:32e0 5060 z9hG4bKk", "UDP ::1 0 z9hG4bKl",
					"TCP host.example 5062 z9hG4bKm"},
				ViaCount: 3, ContentLength: -1, Expires: -1, Headers: 3,
			},
		},
		{
			name:    "bad port",
			in:      "INVITE sip:a@b:99999 SIP/2.0\r\nTo: <sip:x@[::1>\r\n\r\n",
			want:    msgView{Request: true, Method: "INVITE", RURI: "sip:a@b:99999", ContentLength: -1, Expires: -1, Headers: 1},
			wantErr: ErrBadURI,
		},
		{
			name: "invalid content-length keeps decoding",
			in:   "INVITE sip:a@b SIP/2.0\r\nCall-ID: c\r\nContent-Length: 12x\r\n\r\nv=0\r\n",
			want: msgView{
				Request: true, Method: "INVITE", RURI: "sip:a@b", RUser: "a", RHost: "b", CallID: "c",
				ContentLength: -1, Expires: -1, Headers: 2, Body: "v=0\r\n",
			},
			wantErr: ErrBadContentLength,
		},
		{
			name: "short body",
			in:   "SIP/2.0 200 OK\r\nl: 10\r\n\r\nv=0\r\n",
			want: msgView{
				Status: 200, Reason: "OK", ContentLength: 10, Expires: -1, Headers: 1, Body: "v=0\r\n",
			},
			wantErr: ErrBodyTruncated,
		},
		{
			name: "header without colon, missing final blank line",
			in:   "ACK sip:a@b SIP/2.0\r\nCall-ID: c\r\nThisIsNotAHeader\r\nCSeq: 1 ACK",
			want: msgView{
				Request: true, Method: "ACK", RURI: "sip:a@b", RUser: "a", RHost: "b",
				CallID: "c", CSeq: 1, CSeqMethod: "ACK", ContentLength: -1, Expires: -1, Headers: 2,
			},
			wantErr: ErrBadHeader,
		},
		{
			name: "bad CSeq and Via",
			in:   "OPTIONS sip:a@b SIP/2.0\r\nCSeq: INVITE\r\nVia: garbage\r\n\r\n",
			want: msgView{
				Request: true, Method: "OPTIONS", RURI: "sip:a@b", RUser: "a", RHost: "b",
				Via: []string{"  0 "}, ViaCount: 1, ContentLength: -1, Expires: -1, Headers: 2,
			},
			wantErr: ErrBadCSeq,
		},
		{
			name:    "bad request URI",
			in:      "INVITE nonsense SIP/2.0\r\n\r\n",
			want:    msgView{Request: true, Method: "INVITE", RURI: "nonsense", ContentLength: -1, Expires: -1},
			wantErr: ErrBadURI,
		},
		{
			name: "leading CRLF",
			in:   "\r\n\r\nSIP/2.0 180 Ringing\r\nl: 0\r\n\r\n",
			want: msgView{Status: 180, Reason: "Ringing", ContentLength: 0, Expires: -1, Headers: 1},
		},
		{
			name:    "keep-alive only",
			in:      "\r\n\r\n",
			want:    msgView{ContentLength: -1, Expires: -1},
			wantErr: ErrMalformed,
		},
		{
			name:    "junk",
			in:      "\x00\x00\x00\x00",
			want:    msgView{ContentLength: -1, Expires: -1},
			wantErr: ErrMalformed,
		},
	}
	var m Message
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.DecodeFromBytes([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("DecodeFromBytes error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, view(&m)); diff != "" {
				t.Errorf("DecodeFromBytes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	var m Message
	in := "SIP/2.0 200 OK\r\ni: compact-callid\r\nfrom: <sip:a@b>\r\nX-Custom:  v1 \r\nx-custom: v2\r\n\r\n"
	if err := m.DecodeFromBytes([]byte(in)); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"Call-ID", "compact-callid"},
		{"call-id", "compact-callid"},
		{"i", "compact-callid"},
		{"I", "compact-callid"},
		{"f", "<sip:a@b>"},
		{"From", "<sip:a@b>"},
		{"X-CUSTOM", "v1"},
		{"To", ""},
		{"t", ""},
	}
	for _, tt := range tests {
		if got := string(m.Header(tt.name)); got != tt.want {
			t.Errorf("Header(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if m.Header("To") != nil {
		t.Errorf("Header(To) is not nil")
	}
	if n := testing.AllocsPerRun(100, func() { m.Header("call-id") }); n != 0 {
		t.Errorf("Header allocates %v times", n)
	}
}

func TestDecodeReuse(t *testing.T) {
	var m Message
	msg := []byte(testInvite)
	if err := m.DecodeFromBytes(msg); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.DecodeFromBytes(msg) }); n != 0 {
		t.Errorf("DecodeFromBytes allocates %v times per message in steady state", n)
	}
	// A smaller message after a larger one leaves nothing behind.
	if err := m.DecodeFromBytes([]byte("SIP/2.0 100 Trying\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if len(m.Via) != 0 || len(m.Headers) != 0 || m.CallID != nil || m.From.Raw != nil {
		t.Errorf("state left over from the previous message: %+v", view(&m))
	}
}

// benchMessages are the benchmark inputs by size: a 100 Trying, the
// 600-byte INVITE with SDP, and a REGISTER with authorization.
var benchMessages = []struct{ name, msg string }{
	{"trying", "SIP/2.0 100 Trying\r\n" +
		"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;received=192.0.2.101\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>\r\n" +
		"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
		"CSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n"},
	{"invite", testInvite},
	{"register", "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: Bob <sip:bob@biloxi.example.com>\r\n" +
		"From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n" +
		"Call-ID: 843817637684230@998sdasdh09\r\n" +
		"CSeq: 1826 REGISTER\r\n" +
		"Contact: <sip:bob@192.0.2.4>;expires=7200\r\n" +
		"Authorization: Digest username=\"bob\", realm=\"biloxi.example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", " +
		"uri=\"sip:registrar.biloxi.example.com\", response=\"6629fae49393a05397450978507c4ef1\"\r\n" +
		"User-Agent: xhep-test/1.0\r\n" +
		"Expires: 7200\r\nContent-Length: 0\r\n\r\n"},
}

func BenchmarkDecode(b *testing.B) {
	for _, bm := range benchMessages {
		msg := []byte(bm.msg)
		b.Run(fmt.Sprintf("%s-%dB", bm.name, len(msg)), func(b *testing.B) {
			var m Message
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := m.DecodeFromBytes(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkDecodeWithSDP is the agent's correlation path: the message and
// then its SDP.
func BenchmarkDecodeWithSDP(b *testing.B) {
	msg := []byte(testInvite)
	var m Message
	var s SDP
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.DecodeFromBytes(msg); err != nil {
			b.Fatal(err)
		}
		if err := s.DecodeFromBytes(m.Body); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = netip.Addr{}

// TestLookupHeader checks the word-compare name lookup: every known name
// in any case, and the same names with one byte changed (CR or a control
// byte for '-', a neighbour letter, a byte with the case bit set where
// there is no letter) are not known.
func TestLookupHeader(t *testing.T) {
	known := []struct {
		name string
		kind hdr
	}{
		{"f", hFrom}, {"t", hTo}, {"i", hCallID}, {"v", hVia}, {"m", hContact}, {"c", hContentType},
		{"l", hContentLength}, {"to", hTo}, {"via", hVia}, {"cseq", hCSeq}, {"from", hFrom},
		{"x-cid", hXCID}, {"server", hServer}, {"reason", hReason}, {"call-id", hCallID},
		{"contact", hContact}, {"expires", hExpires}, {"diversion", hDiversion},
		{"user-agent", hUserAgent}, {"content-type", hContentType}, {"record-route", hRecordRoute},
		{"authorization", hAuthorization}, {"content-length", hContentLength},
		{"p-asserted-identity", hPAI}, {"proxy-authorization", hProxyAuthorization},
	}
	for _, k := range known {
		for _, v := range []string{k.name, strings.ToUpper(k.name), strings.ToUpper(k.name[:1]) + k.name[1:]} {
			if got := lookupBoth(t, []byte(v)); got != k.kind {
				t.Errorf("lookupHeader(%q) = %d, want %d", v, got, k.kind)
			}
		}
		for i := range k.name {
			if len(k.name) == 1 {
				break // other letters are other compact forms
			}
			for _, c := range []byte{'\r', '\r' | 0x20, k.name[i] ^ 0x01, k.name[i] ^ 0x40, k.name[i] ^ 0x20, 0} {
				b := []byte(k.name)
				if c == b[i] || b[i] >= 'a' && b[i] <= 'z' && c == b[i]-0x20 {
					continue // the same name
				}
				b[i] = c
				if got := lookupBoth(t, b); got != hOther {
					t.Errorf("lookupHeader(%q) = %d, want hOther", b, got)
				}
			}
		}
	}
	for _, name := range []string{"", "x", "X-CIDs", "Via:", "content-lengt", "proxy-authorizations"} {
		if got := lookupBoth(t, []byte(name)); got != hOther {
			t.Errorf("lookupHeader(%q) = %d, want hOther", name, got)
		}
	}
}

// lookupBoth returns lookupHeader(name) after checking that the name gives
// the same inside a message (read as words past its end) as alone.
func lookupBoth(t *testing.T, name []byte) hdr {
	t.Helper()
	alone := lookupHeader(name[:len(name):len(name)])
	for _, after := range []string{": value and more bytes to read", "\x00\xff-abcdefghijklmnopqrstuvwxyz"} {
		buf := append(append([]byte(nil), name...), after...)
		if got := lookupHeader(buf[:len(name)]); got != alone {
			t.Errorf("lookupHeader(%q) followed by %q = %d, alone %d", name, after, got, alone)
		}
	}
	return alone
}

// TestTokenizer checks the header line pass on tricky inputs: the header
// list as split (name as on the wire, value trimmed, folded values joined
// across their lines), the fields picked out and the first error.
func TestTokenizer(t *testing.T) {
	type hv struct{ Name, Value string }
	type fields struct {
		CallID, FromUser, ToUser, ContentType, XCID string
		ContentLength                               int
		ViaCount                                    int
		Body                                        string
	}
	tests := []struct {
		name    string
		in      string
		headers []hv
		want    fields
		wantErr error
	}{
		{
			name:    "compact forms in both cases",
			in:      "SIP/2.0 200 OK\r\nI: id1\r\nF: <sip:a@h>\r\nt: <sip:b@h>\r\nV: SIP/2.0/UDP h\r\nv: SIP/2.0/UDP g\r\nC: text/plain\r\nL: 2\r\n\r\nokEXTRA",
			headers: []hv{{"I", "id1"}, {"F", "<sip:a@h>"}, {"t", "<sip:b@h>"}, {"V", "SIP/2.0/UDP h"}, {"v", "SIP/2.0/UDP g"}, {"C", "text/plain"}, {"L", "2"}},
			want:    fields{CallID: "id1", FromUser: "a", ToUser: "b", ContentType: "text/plain", ContentLength: 2, ViaCount: 2, Body: "ok"},
		},
		{
			name: "folded values, the first line empty, tabs and spaces",
			in: "SIP/2.0 200 OK\r\nCall-ID:\r\n   fold-id\r\nSubject: one\r\n\ttwo  \r\n  three\r\n" +
				"Via: SIP/2.0/UDP a;branch=z9hG4bK1,\r\n SIP/2.0/UDP b;branch=z9hG4bK2\r\nTo: <sip:b@h>\r\n \r\n\r\n",
			headers: []hv{{"Call-ID", "fold-id"}, {"Subject", "one\r\n\ttwo  \r\n  three"},
				{"Via", "SIP/2.0/UDP a;branch=z9hG4bK1,\r\n SIP/2.0/UDP b;branch=z9hG4bK2"}, {"To", "<sip:b@h>"}},
			want: fields{CallID: "fold-id", ToUser: "b", ContentLength: -1, ViaCount: 2},
		},
		{
			name:    "case variants and whitespace before the colon",
			in:      "SIP/2.0 200 OK\nCALL-ID : id2\ncontent-LENGTH:\t0\nx-Cid:  leg-a  \nFROM\t: <sip:c@h>\n\n",
			headers: []hv{{"CALL-ID", "id2"}, {"content-LENGTH", "0"}, {"x-Cid", "leg-a"}, {"FROM", "<sip:c@h>"}},
			want:    fields{CallID: "id2", FromUser: "c", XCID: "leg-a", ContentLength: 0},
		},
		{
			name:    "names that are almost known",
			in:      "SIP/2.0 200 OK\r\nCall-IDs: no\r\nFromx: <sip:no@h>\r\nX-CIDs: no\r\nVias: no\r\nii: no\r\nCall_ID: no\r\n\r\n",
			headers: []hv{{"Call-IDs", "no"}, {"Fromx", "<sip:no@h>"}, {"X-CIDs", "no"}, {"Vias", "no"}, {"ii", "no"}, {"Call_ID", "no"}},
			want:    fields{ContentLength: -1},
		},
		{
			name:    "continuation after the start line",
			in:      "SIP/2.0 200 OK\r\n  stray\r\ni: id3\r\n\r\n",
			headers: []hv{{"i", "id3"}},
			want:    fields{CallID: "id3", ContentLength: -1},
			wantErr: ErrBadHeader,
		},
		{
			name:    "line without colon and empty name, later headers kept",
			in:      "SIP/2.0 200 OK\r\nNoColonHere\r\n\tits continuation\r\n: empty name\r\ni: id4\r\n\r\n",
			headers: []hv{{"i", "id4"}},
			want:    fields{CallID: "id4", ContentLength: -1},
			wantErr: ErrBadHeader,
		},
		{
			name:    "no final line end, lone CR as the blank line",
			in:      "SIP/2.0 200 OK\r\ni: id5\r\n\r",
			headers: []hv{{"i", "id5"}},
			want:    fields{CallID: "id5", ContentLength: -1},
		},
		{
			name:    "last header without line end",
			in:      "SIP/2.0 200 OK\r\nl: 0\r\nCall-ID: id6",
			headers: []hv{{"l", "0"}, {"Call-ID", "id6"}},
			want:    fields{CallID: "id6", ContentLength: 0},
			wantErr: ErrHeadersTruncated, // decoded, and marked as cut short
		},
		{
			name:    "folded last header at the end of input",
			in:      "SIP/2.0 200 OK\r\nCall-ID:\r\n id7",
			headers: []hv{{"Call-ID", "id7"}},
			want:    fields{CallID: "id7", ContentLength: -1},
			wantErr: ErrHeadersTruncated,
		},
		{
			name:    "bytes that are not text",
			in:      "SIP/2.0 200 OK\r\nX-\xff: a\x00b\rc\r\ni:\x01\r\n\r\n",
			headers: []hv{{"X-\xff", "a\x00b\rc"}, {"i", "\x01"}},
			want:    fields{CallID: "\x01", ContentLength: -1},
		},
	}
	var m Message
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.DecodeFromBytes([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			var got []hv
			for _, h := range m.Headers {
				got = append(got, hv{string(h.Name), string(h.Value)})
			}
			if diff := cmp.Diff(tt.headers, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			f := fields{CallID: string(m.CallID), FromUser: string(m.From.URI.User), ToUser: string(m.To.URI.User),
				ContentType: string(m.ContentType), XCID: string(m.XCID), ContentLength: m.ContentLength,
				ViaCount: m.ViaCount, Body: string(m.Body)}
			if diff := cmp.Diff(tt.want, f); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}
