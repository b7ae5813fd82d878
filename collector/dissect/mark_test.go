package dissect

import (
	"testing"

	"github.com/xhep/xhep/hep"
)

// TestIncompleteSIPMarked: a SIP message cut off before the end of its
// headers, one whose body is shorter than its Content-Length, and one
// without a Call-ID are stored (routed as usual) with an "error" member in
// payload and a dissect error reason, not as if they were whole.
func TestIncompleteSIPMarked(t *testing.T) {
	whole := "INVITE sip:bob@b.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: <sip:a@a.example>;tag=1\nTo: <sip:bob@b.example>\nCall-ID: c-1\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
	tests := []struct {
		name, in, reason string
	}{
		{"cut in the headers", "INVITE sip:bob@b.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: <sip:a@a.example>;tag=1\nTo: <sip:bob@b.example>\nCall-ID: c-1\nCSeq: 1 INVITE\nContent-Le", "sip_truncated"},
		{"cut after a header line", "INVITE sip:bob@b.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nCall-ID: c-1\nCSeq: 1 INVITE\n", "sip_truncated"},
		{"body short", "INVITE sip:bob@b.example SIP/2.0\nCall-ID: c-1\nCSeq: 1 INVITE\nContent-Length: 100\n\nv=0\n", "sip_body_truncated"},
		{"no Call-ID", "INVITE sip:bob@b.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: <sip:a@a.example>;tag=1\nTo: <sip:bob@b.example>\nCSeq: 1 INVITE\nContent-Length: 0\n\n", "sip_no_callid"},
	}
	d := newDissector(t, Config{})
	if r := dissect(t, d, encode(t, hep.ProtoSIP, crlf(whole), nil)); r.Reason != "" {
		t.Fatalf("a whole INVITE is marked %q", r.Reason)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dissect(t, d, encode(t, hep.ProtoSIP, crlf(tt.in), nil))
			p, _ := r.Payload.(map[string]any)
			if r.Reason != tt.reason || p["error"] == nil {
				t.Errorf("reason %q, payload %v; want reason %q and an error member", r.Reason, r.Payload, tt.reason)
			}
			if r.Table != "hep_proto_1_call" {
				t.Errorf("table %s, want hep_proto_1_call (routed by its CSeq as usual)", r.Table)
			}
		})
	}
}
