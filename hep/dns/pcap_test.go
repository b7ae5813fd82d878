package dns

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapDir holds the public captures described in its INDEX.md. They are
// not part of the project; tests that read them skip when it is absent.
const pcapDir = "../../../shared/pcaps"

// udpPayloads returns the UDP payloads of a capture in the shared folder,
// skipping the test when the folder is absent.
func udpPayloads(t *testing.T, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join(pcapDir, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("public capture %s not present", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	src := gopacket.NewPacketSource(r, r.LinkType())
	for p := range src.Packets() {
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && len(u.Payload) > 0 {
			out = append(out, u.Payload)
		}
	}
	return out
}

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
			for i, b := range udpPayloads(t, tt.file) {
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

var _ = errors.Is
