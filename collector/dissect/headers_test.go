package dissect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// TestSearchHeaders: each configured header's first value is in
// protocol_header under its column name, case-insensitively matched,
// escaped; an absent one has no key; a clone keeps the list; a bad name
// is refused.
func TestSearchHeaders(t *testing.T) {
	msg := func(hdr string) []byte {
		return crlf("INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c1\nCSeq: 1 INVITE\n" + hdr + "Content-Length: 0\n\n")
	}
	tests := []struct {
		name string
		hdr  string
		want map[string]any
	}{
		{"both", "X-Account: acct-4711\nP-Tenant: t1\n", map[string]any{"hdr_x_account": "acct-4711", "hdr_p_tenant": "t1"}},
		{"lower case, first value", "x-account: first\nX-Account: second\n", map[string]any{"hdr_x_account": "first", "hdr_p_tenant": nil}},
		{"escaped", "X-Account: a\"b\\c\n", map[string]any{"hdr_x_account": `a"b\c`, "hdr_p_tenant": nil}},
		{"absent", "X-Other: x\n", map[string]any{"hdr_x_account": nil, "hdr_p_tenant": nil}},
	}
	d := newDissector(t, Config{SearchHeaders: []string{"X-Account", "P-Tenant"}}).Clone()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dissect(t, d, encode(t, hep.ProtoSIP, msg(tt.hdr), nil))
			got := map[string]any{"hdr_x_account": r.ProtocolHeader["hdr_x_account"], "hdr_p_tenant": r.ProtocolHeader["hdr_p_tenant"]}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("protocol_header (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := New(Config{SearchHeaders: []string{"X Account"}}); err == nil || !strings.Contains(err.Error(), "only letters") {
		t.Errorf("bad name: %v, want a refusal", err)
	}
}
