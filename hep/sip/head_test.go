package sip

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// headOut is Head with strings, for cmp.
type headOut struct {
	OK                                    bool
	IsRequest                             bool
	Method                                string
	StatusCode                            int
	CallID, CSeqMethod, ContentType, Body string
}

func scanOut(b []byte) headOut {
	var h Head
	ok := h.Scan(b)
	return headOut{ok, h.IsRequest, string(h.Method), h.StatusCode, string(h.CallID), string(h.CSeqMethod), string(h.ContentType), string(h.Body)}
}

func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n")) }

func TestHeadScan(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want headOut
	}{
		{
			name: "invite with sdp",
			in: crlf("INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1", "Call-ID: abc@10.0.0.1",
				"CSeq: 1 INVITE", "Content-Type: application/sdp", "Content-Length: 4", "", "v=0\r\ntrailing"),
			want: headOut{OK: true, IsRequest: true, Method: "INVITE", CallID: "abc@10.0.0.1", CSeqMethod: "INVITE", ContentType: "application/sdp", Body: "v=0\r"},
		},
		{
			name: "rfc 3261 example",
			in:   []byte(testInvite),
			want: headOut{OK: true, IsRequest: true, Method: "INVITE", CallID: "a84b4c76e66710@pc33.atlanta.example.com", CSeqMethod: "INVITE", ContentType: "application/sdp", Body: testInvite[strings.Index(testInvite, "\r\n\r\n")+4:]},
		},
		{
			name: "response, compact forms, LF only, odd case and spaces",
			in:   []byte("SIP/2.0 486 Busy Here\nI:  x1 \ncseq:\t7   invite\nC: application/SDP\nL: 0\n\n"),
			want: headOut{OK: true, StatusCode: 486, CallID: "x1", CSeqMethod: "invite", ContentType: "application/SDP"},
		},
		{
			// As Message.DecodeFromBytes and FrameLength: the first of each
			// header counts (the old agent scanner took the last).
			name: "repeated headers: the first wins",
			in:   crlf("BYE sip:a SIP/2.0", "CALL-ID: upper", "Call-ID: second", "CSeq: 2 BYE", "CSeq: 3 ACK", "l: 2", "l: 4", "", "abcd"),
			want: headOut{OK: true, IsRequest: true, Method: "BYE", CallID: "upper", CSeqMethod: "BYE", Body: "ab"},
		},
		{
			name: "folded call-id",
			in:   crlf("BYE sip:a SIP/2.0", "Call-ID:", " folded@x", "CSeq: 1 BYE", "", ""),
			want: headOut{OK: true, IsRequest: true, Method: "BYE", CallID: "folded@x", CSeqMethod: "BYE"},
		},
		{
			name: "call-id only in the body",
			in:   crlf("BYE sip:a SIP/2.0", "CSeq: 1 BYE", "Contact: <sip:x>", "", "Call-ID: in-body", ""),
			want: headOut{OK: true, IsRequest: true, Method: "BYE", CSeqMethod: "BYE", Body: "Call-ID: in-body\r\n"},
		},
		{
			name: "no content-length: body is the rest",
			in:   crlf("BYE sip:a@b SIP/2.0", "call-id: c", "", "rest"),
			want: headOut{OK: true, IsRequest: true, Method: "BYE", CallID: "c", Body: "rest"},
		},
		{
			name: "content-length beyond the data",
			in:   crlf("ACK sip:a@b SIP/2.0", "Call-ID: c", "Content-Length: 99", "", "short"),
			want: headOut{OK: true, IsRequest: true, Method: "ACK", CallID: "c", Body: "short"},
		},
		{
			// As Message.DecodeFromBytes (ErrBadContentLength, Body the rest).
			name: "empty or bad content-length: body is the rest",
			in:   crlf("ACK sip:a@b SIP/2.0", "Call-ID: c", "Content-Length: ", "Content-Length: 1", "", "rest"),
			want: headOut{OK: true, IsRequest: true, Method: "ACK", CallID: "c", Body: "rest"},
		},
		{
			name: "headers without end",
			in:   crlf("OPTIONS sip:a@b SIP/2.0", "Call-ID: c"),
			want: headOut{OK: true, IsRequest: true, Method: "OPTIONS", CallID: "c"},
		},
		{
			name: "look-alike headers are not taken",
			in:   crlf("MESSAGE sip:a@b SIP/2.0", "Call-Info: <x>", "Contact: <sip:c>", "Content-Language: en", "X-Call-ID: nope", "Call-IDs: nope", "i : spaced", "", ""),
			want: headOut{OK: true, IsRequest: true, Method: "MESSAGE", CallID: "spaced"},
		},
		{name: "bad status", in: []byte("SIP/2.0 2x0 OK\r\n\r\n"), want: headOut{}},
		{name: "short status line", in: []byte("SIP/2.0 20"), want: headOut{}},
		{name: "not sip", in: []byte("GET / HTTP/1.1\r\n\r\n"), want: headOut{}},
		{name: "empty", in: nil, want: headOut{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scanOut(tt.in)); diff != "" {
				t.Errorf("Scan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeadEndsCall(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"BYE sip:a SIP/2.0\r\nCSeq: 2 BYE\r\n\r\n", true},
		{"bye sip:a SIP/2.0\r\n\r\n", true},
		{"CANCEL sip:a SIP/2.0\r\nCSeq: 1 CANCEL\r\n\r\n", true},
		{"INVITE sip:a SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", false},
		{"SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\n\r\n", true},
		{"SIP/2.0 487 Request Terminated\r\nCSeq: 1 invite\r\n\r\n", true},
		{"SIP/2.0 491 Request Pending\r\nCSeq: 1 INVITE\r\n\r\n", false}, // glare: the call goes on
		{"SIP/2.0 404 Not Found\r\nCSeq: 3 BYE\r\n\r\n", false},
		{"SIP/2.0 481 Call Does Not Exist\r\nCSeq: 3 OPTIONS\r\n\r\n", true},
		{"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n", false},
		{"SIP/2.0 180 Ringing\r\nCSeq: 1 INVITE\r\n\r\n", false},
	}
	for _, tt := range tests {
		var h Head
		if !h.Scan([]byte(tt.msg)) {
			t.Fatalf("Scan(%q) = false", tt.msg)
		}
		if got := h.EndsCall(); got != tt.want {
			t.Errorf("EndsCall(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestIsSDP(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"application/sdp", true},
		{"Application/SDP", true},
		{" application/sdp", true},
		{"application/sdp;charset=utf-8", true},
		{"application/sdp ; x=y", true},
		{"application/sdpfoo", false},
		{"application/sdp-foo", false},
		{"application/sd", false},
		{"multipart/mixed;boundary=x", false},
		{"text/plain", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsSDP([]byte(tt.ct)); got != tt.want {
			t.Errorf("IsSDP(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
	var h Head
	h.Scan(crlf("INVITE sip:a SIP/2.0", "c: application/sdp", "", "v=0"))
	if !h.HasSDP() {
		t.Error("HasSDP = false for an INVITE with an SDP body")
	}
	h.Scan(crlf("INVITE sip:a SIP/2.0", "c: application/sdp", "", ""))
	if h.HasSDP() {
		t.Error("HasSDP = true without a body")
	}
}

func TestHeadNoAllocs(t *testing.T) {
	msg := []byte(testInvite)
	var h Head
	if n := testing.AllocsPerRun(100, func() { h.Scan(msg) }); n != 0 {
		t.Errorf("Scan allocates %v times, want 0", n)
	}
}

// FuzzHead: Scan never panics, its fields lie inside the input, and on
// messages hep/sip decodes without complaint (and without folded lines) it
// agrees with Message.DecodeFromBytes on the fields they share.
func FuzzHead(f *testing.F) {
	for _, s := range []string{
		"INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0",
		"SIP/2.0 200 OK\nI: b\nCSeq: 2 BYE\nL: 0\n\n",
		"SIP/2.0 4",
		"BYE x SIP/2.0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Head
		ok := h.Scan(b)
		for _, fld := range [][]byte{h.Method, h.CallID, h.CSeqMethod, h.ContentType, h.Body} {
			if len(fld) > 0 && !within(b, fld) {
				t.Fatalf("field %q outside the input", fld)
			}
		}
		if !ok || bytes.Contains(b, []byte("\n ")) || bytes.Contains(b, []byte("\n\t")) || bytes.IndexByte(b, '\r') >= 0 {
			return
		}
		var m Message
		if err := m.DecodeFromBytes(b); err != nil {
			return
		}
		if string(m.CallID) != string(h.CallID) || m.StatusCode != h.StatusCode || m.IsRequest != h.IsRequest {
			t.Errorf("Scan %+v disagrees with Message (Call-ID %q, status %d, request %v)", scanOut(b), m.CallID, m.StatusCode, m.IsRequest)
		}
	})
}

// TestHeadCorpus keeps the seed corpus directory in place.
func TestHeadCorpus(t *testing.T) {
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzHead"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("seed corpus missing: %v", err)
	}
}

func BenchmarkHeadScan(b *testing.B) {
	msg := []byte(testInvite)
	var h Head
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if !h.Scan(msg) || h.CallID == nil {
			b.Fatal("no Call-ID")
		}
	}
}
