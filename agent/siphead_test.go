package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xhep/xhep/hep/sip"
)

// headOut is sipHead with strings, for cmp.
type headOut struct {
	OK                              bool
	Request                         bool
	Method                          string
	Status                          int
	CallID, CSeqMethod, CType, Body string
}

func scanOut(b []byte) headOut {
	var h sipHead
	ok := h.scan(b)
	return headOut{ok, h.request, string(h.method), h.status, string(h.callID), string(h.cseqMethod), string(h.ctype), string(h.body)}
}

func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n")) }

func TestSIPHead(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want headOut
	}{
		{
			name: "invite with sdp",
			in: crlf("INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1", "Call-ID: abc@10.0.0.1",
				"CSeq: 1 INVITE", "Content-Type: application/sdp", "Content-Length: 4", "", "v=0\r\ntrailing"),
			want: headOut{OK: true, Request: true, Method: "INVITE", CallID: "abc@10.0.0.1", CSeqMethod: "INVITE", CType: "application/sdp", Body: "v=0\r"},
		},
		{
			name: "response, compact forms, LF only, odd case and spaces",
			in:   []byte("SIP/2.0 486 Busy Here\nI:  x1 \ncseq:\t7   invite\nC: application/SDP\nL: 0\n\n"),
			want: headOut{OK: true, Status: 486, CallID: "x1", CSeqMethod: "invite", CType: "application/SDP"},
		},
		{
			name: "no content-length: body is the rest",
			in:   crlf("BYE sip:a@b SIP/2.0", "call-id: c", "", "rest"),
			want: headOut{OK: true, Request: true, Method: "BYE", CallID: "c", Body: "rest"},
		},
		{
			name: "content-length beyond the data",
			in:   crlf("ACK sip:a@b SIP/2.0", "Call-ID: c", "Content-Length: 99", "", "short"),
			want: headOut{OK: true, Request: true, Method: "ACK", CallID: "c", Body: "short"},
		},
		{
			name: "headers without end",
			in:   crlf("OPTIONS sip:a@b SIP/2.0", "Call-ID: c"),
			want: headOut{OK: true, Request: true, Method: "OPTIONS", CallID: "c"},
		},
		{
			name: "look-alike headers are not taken",
			in:   crlf("MESSAGE sip:a@b SIP/2.0", "Call-Info: <x>", "Contact: <sip:c>", "Content-Language: en", "i : spaced", "", ""),
			want: headOut{OK: true, Request: true, Method: "MESSAGE", CallID: "spaced"},
		},
		{name: "bad status", in: []byte("SIP/2.0 2x0 OK\r\n\r\n"), want: headOut{}},
		{name: "short status line", in: []byte("SIP/2.0 20"), want: headOut{}},
		{name: "not sip", in: []byte("GET / HTTP/1.1\r\n\r\n"), want: headOut{}},
		{name: "empty", in: nil, want: headOut{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, scanOut(tt.in)); diff != "" {
				t.Errorf("scan (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSIPHead: scan never panics, its fields lie inside the input, and on
// messages hep/sip decodes without complaint (and without folded lines) it
// agrees with hep/sip on the fields it shares.
func FuzzSIPHead(f *testing.F) {
	for _, s := range []string{
		"INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0",
		"SIP/2.0 200 OK\nI: b\nCSeq: 2 BYE\nL: 0\n\n",
		"SIP/2.0 4",
		"BYE x SIP/2.0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h sipHead
		ok := h.scan(b)
		for _, fld := range [][]byte{h.method, h.callID, h.cseqMethod, h.ctype, h.body} {
			if len(fld) > 0 && !within(fld, b) {
				t.Fatalf("field %q outside the input", fld)
			}
		}
		if !ok || bytes.Contains(b, []byte("\n ")) || bytes.Contains(b, []byte("\n\t")) || bytes.IndexByte(b, '\r') >= 0 {
			return
		}
		var m sip.Message
		if err := m.DecodeFromBytes(b); err != nil {
			return
		}
		if string(m.CallID) != string(h.callID) || m.StatusCode != h.status || m.IsRequest != h.request {
			t.Errorf("scan %+v disagrees with hep/sip (Call-ID %q, status %d, request %v)", scanOut(b), m.CallID, m.StatusCode, m.IsRequest)
		}
	})
}

func within(part, whole []byte) bool {
	if len(whole) == 0 {
		return false
	}
	p := &part[0]
	for i := range whole {
		if &whole[i] == p {
			return i+len(part) <= len(whole)
		}
	}
	return false
}

// TestSIPHeadCorpus keeps the seed corpus directory in place.
func TestSIPHeadCorpus(t *testing.T) {
	ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzSIPHead"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("seed corpus missing: %v", err)
	}
}
