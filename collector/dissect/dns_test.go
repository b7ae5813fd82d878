package dissect

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// dnsResponse answers an A query for sip.example.com:
//
//	12 34 81 80 00 01 00 01 00 00 00 00   id 0x1234, QR RD RA, 1 question, 1 answer
//	03 sip 07 example 03 com 00 00 01 00 01   question: sip.example.com A IN
//	c0 0c 00 01 00 01 00 00 00 3c 00 04 c0 00 02 0a   answer: pointer to the name, A IN TTL 60, 192.0.2.10
var dnsResponse = []byte{
	0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x03, 's', 'i', 'p', 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00, 0x00, 0x01, 0x00, 0x01,
	0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x0a,
}

func TestDNS(t *testing.T) {
	d := newDissector(t, Config{})
	wantPH := map[string]any{"id": float64(0x1234), "qr": true, "qname": "sip.example.com", "qtype": 1.0, "rcode": 0.0}
	r := dissect(t, d, encode(t, hep.ProtoDNS, dnsResponse, nil))
	if r.Table != "hep_proto_53_default" || r.Reason != "" {
		t.Fatalf("table %q reason %q", r.Table, r.Reason)
	}
	if diff := cmp.Diff(wantPH, r.ProtocolHeader); diff != "" {
		t.Errorf("protocol_header (-want +got):\n%s", diff)
	}
	answers := r.Payload.(map[string]any)["answers"].([]any)
	if len(answers) != 1 || answers[0].(map[string]any)["ip"] != "192.0.2.10" {
		t.Errorf("answers %v", answers)
	}

	// DNS over TCP: the same message behind its two-byte length prefix.
	tcp := append([]byte{0, byte(len(dnsResponse))}, dnsResponse...)
	rt := dissect(t, d, encode(t, hep.ProtoDNS, tcp, func(m *hep.Message) { m.IPProto = 6 }))
	if diff := cmp.Diff(r.Payload, rt.Payload); diff != "" {
		t.Errorf("DNS over TCP differs from UDP (-udp +tcp):\n%s", diff)
	}

	// DNS as JSON is stored as sent, with the same protocol_header.
	js := `{"id":4660,"qr":true,"opcode":0,"rescode":0,"questions":[{"name":"sip.example.com","type":1,"class":1}],"answers":[{"name":"sip.example.com","type":1,"class":1,"ttl":60,"ip":"192.0.2.10"}]}`
	rj := dissect(t, d, encode(t, hep.ProtoDNS, []byte(js), nil))
	if diff := cmp.Diff(wantPH, rj.ProtocolHeader); diff != "" {
		t.Errorf("JSON protocol_header (-want +got):\n%s", diff)
	}
	if rj.Payload.(map[string]any)["answers"].([]any)[0].(map[string]any)["ip"] != "192.0.2.10" {
		t.Errorf("JSON payload changed: %v", rj.Payload)
	}

	tests := []struct {
		name    string
		payload []byte
		reason  string
		partial bool
	}{
		{"header only part", dnsResponse[:7], "dns_truncated", false},
		{"answer cut", dnsResponse[:len(dnsResponse)-3], "dns_truncated", true},
		{"pointer loop", append(append([]byte{}, dnsResponse[:12]...), 0xc0, 0x0c, 0, 1, 0, 1), "dns_pointer", true},
		{"bad JSON", []byte(`{"id":`), "dns_json", false},
		{"JSON without id", []byte(`{"questions":[]}`), "dns_json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dissect(t, d, encode(t, hep.ProtoDNS, tt.payload, nil))
			p := r.Payload.(map[string]any)
			if diff := cmp.Diff([]any{"hep_proto_53_default", tt.reason, true, tt.partial}, []any{r.Table, r.Reason, p["error"] != nil, p["id"] != nil}); diff != "" {
				t.Errorf("table, reason, has error, partial (-want +got):\n%s", diff)
			}
		})
	}
}
