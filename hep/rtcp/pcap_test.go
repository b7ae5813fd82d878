package rtcp

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/xhep/xhep/hep/internal/pcaptest"
)

func TestRealCaptures(t *testing.T) {
	t.Run("ndpi compound", func(t *testing.T) {
		var p Packet
		pl := pcaptest.UDPPayloads(t, "ndpi_rtcp_compound.pcap")
		if len(pl) != 5 {
			t.Fatalf("%d datagrams, want 5", len(pl))
		}
		for i, b := range pl {
			if !Valid(b) {
				t.Errorf("datagram %d not Valid: % x", i, b)
			}
			if err := p.DecodeFromBytes(b); err != nil {
				t.Errorf("datagram %d: %v", i, err)
			}
			if p.Type != TypeSR && p.Type != TypeRR || p.Types&(1<<(TypeSDES-TypeSR)) == 0 || len(p.SDES) == 0 {
				t.Errorf("datagram %d: type %d, types %b, %d SDES items; want SR/RR + SDES", i, p.Type, p.Types, len(p.SDES))
			}
			if !json.Valid(p.AppendJSON(nil)) {
				t.Errorf("datagram %d: invalid JSON", i)
			}
		}
	})
	// The RTCP among these calls' RTP: every datagram Valid accepts decodes.
	for _, name := range []string{"wireshark_SIP_CALL_RTP_G711.pcap", "heplify_sip_ipv4_tcp.pcap", "sipnab_rtp-protocol_prack_rtcp.pcap"} {
		t.Run(name, func(t *testing.T) {
			var p Packet
			n := 0
			for _, b := range pcaptest.UDPPayloads(t, name) {
				if !Valid(b) {
					continue
				}
				n++
				if err := p.DecodeFromBytes(b); err != nil {
					t.Errorf("RTCP %d: %v", n, err)
				}
			}
			if n == 0 {
				t.Error("no RTCP found")
			}
		})
	}
	t.Run("captagent json in HEP", func(t *testing.T) {
		var p Packet
		found := false
		for _, b := range pcaptest.UDPPayloads(t, "hep3_sip_log_rtcpjson.pcap") {
			i := bytes.Index(b, []byte(`{"sender_information"`))
			if i < 0 {
				continue
			}
			found = true
			// The JSON is the last chunk of the HEP packet.
			if err := p.DecodeJSON(b[i:]); err != nil {
				t.Fatal(err)
			}
			if p.Type != TypeSR || p.SSRC != 451916597 || len(p.ReportBlocks) != 1 || p.ReportBlocks[0].HighestSeq != 20881 {
				t.Errorf("decoded %+v", p)
			}
		}
		if !found {
			t.Error("no RTCP JSON in the capture")
		}
	})
}
