package dissect

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// An IAM as an SS7 capture agent sends it on HEP type 54 (the fields
// heplify-server reads, with the parameters around them such agents add).
const isupIAM = `{"opc":2062,"dpc":1234,"si":5,"ni":2,"sls":7,"cic":17,"msg_type":1,"msg_name":"IAM",` +
	`"called_number":{"inn":0,"ton":3,"npi":1,"num":"4930123456"},` +
	`"calling_number":{"ni":0,"restrict":0,"screened":3,"ton":3,"npi":1,"num":"4989654321"}}`

// TestISUP: ISUP JSON (type 54) goes to hep_proto_54_default with the JSON
// as sent as its payload and protocol_header carrying the circuit's
// callid (the same for both directions), cic, point codes, message name
// and numbers; what lacks the circuit's fields or does not parse is
// stored all the same and marked.
func TestISUP(t *testing.T) {
	d := newDissector(t, Config{})
	tests := []struct {
		name   string
		body   string
		header map[string]any
		reason string
	}{
		{"IAM", isupIAM, map[string]any{"callid": "1234:2062:17", "cic": 17.0, "opc": 2062.0, "dpc": 1234.0,
			"msg_name": "IAM", "called_number": "4930123456", "calling_number": "4989654321"}, ""},
		{"ACM the other way", `{"opc":1234,"dpc":2062,"cic":17,"msg_name":"ACM"}`, map[string]any{"callid": "1234:2062:17",
			"cic": 17.0, "opc": 1234.0, "dpc": 2062.0, "msg_name": "ACM", "called_number": "", "calling_number": ""}, ""},
		{"no cic", `{"opc":1234,"dpc":2062,"msg_name":"REL"}`, map[string]any{"msg_name": "REL", "called_number": "",
			"calling_number": "", "error": "isup: opc, dpc and cic must be present"}, "isup_malformed"},
		{"negative point code", `{"opc":-1,"dpc":2062,"cic":1,"msg_name":"RLC"}`, map[string]any{"msg_name": "RLC",
			"called_number": "", "calling_number": "",
			"error": "json: cannot unmarshal number -1 into Go struct field isupJSON.opc of type uint32"}, "isup_malformed"},
		{"number not a string", `{"opc":1,"dpc":2,"cic":3,"msg_name":"IAM","called_number":{"num":493}}`, nil, "isup_malformed"},
		{"not JSON", `{"opc":1,`, nil, "json_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dissect(t, d, encode(t, hep.ProtoM3UAJSON, []byte(tt.body), nil))
			if diff := cmp.Diff([]string{"hep_proto_54_default", tt.reason}, []string{r.Table, r.Reason}); diff != "" {
				t.Errorf("table, reason (-want +got):\n%s", diff)
			}
			if r.Raw != tt.body {
				t.Errorf("raw = %q, want the payload", r.Raw)
			}
			if tt.reason == "json_invalid" {
				return
			}
			if tt.header != nil {
				if diff := cmp.Diff(tt.header, r.ProtocolHeader); diff != "" {
					t.Errorf("protocol_header (-want +got):\n%s", diff)
				}
			} else if r.ProtocolHeader["error"] == nil {
				t.Errorf("protocol_header %v has no error", r.ProtocolHeader)
			}
			if p, ok := r.Payload.(map[string]any); !ok || p["msg_name"] == nil {
				t.Errorf("payload %v is not the JSON as sent", r.Payload)
			}
		})
	}
}
