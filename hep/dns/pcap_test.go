package dns

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/xhep/xhep/hep/internal/pcaptest"
)

func TestRealCaptures(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the JSON of the last message
	}{
		{"zeek_dns_naptr_ipv6.pcap", []string{`"type":35`, `"service":`, `"replacement":`}},
		{"suricata_dns_srv_sip_rawip.pcap", []string{`"name":"_sip._udp.sip.voice.google.com","type":33`, `"port":5060`, `"target":`}},
		{"zeek_dns_a_aaaa_mx_any.pcap", []string{`"qr":true`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var m Msg
			var out []byte
			for i, b := range pcaptest.UDPPayloads(t, tt.file) {
				if err := m.DecodeFromBytes(b); err != nil {
					t.Errorf("message %d: %v", i, err)
				}
				out = m.AppendJSON(out[:0])
				if !json.Valid(out) {
					t.Errorf("message %d: invalid JSON %s", i, out)
				}
			}
			for _, w := range tt.want {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("JSON %s does not contain %s", out, w)
				}
			}
		})
	}
}
