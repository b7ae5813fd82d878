package hep

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestDecodePublicCapture decodes a HEP3 capture made by hepgen.js (from
// sipcapture/hep-wireshark) when the shared capture folder is present.
func TestDecodePublicCapture(t *testing.T) {
	const path = "../../shared/pcaps/hep3_sip_log_rtcpjson.pcap" // shared/ sits beside the repository
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("public capture not available: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("read pcap header: %v", err)
	}
	protos := map[ProtoType]int{}
	n := 0
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read packet: %v", err)
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || udp.DstPort != 9060 {
			continue
		}
		n++
		var m Message
		if err := m.DecodeFromBytes(udp.Payload); err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		protos[m.Proto]++
		if string(m.AuthKey) != "myHep" || m.NodeID != 2001 || m.Version != 3 {
			t.Errorf("packet %d: auth key %q, node id %d, version %d; want myHep, 2001, 3", n, m.AuthKey, m.NodeID, m.Version)
		}
		if pair := m.SrcIP.String() + " " + m.DstIP.String(); pair != "192.168.1.1 192.168.1.2" && pair != "192.168.1.2 192.168.1.1" {
			t.Errorf("packet %d: addresses %s, want 192.168.1.1 and 192.168.1.2", n, pair)
		}
		if len(m.CorrelationID) == 0 {
			t.Errorf("packet %d: no correlation id", n)
		}
		if m.Proto == ProtoSIP && !bytes.Contains(m.Payload, append([]byte("Call-ID: "), m.CorrelationID...)) {
			t.Errorf("packet %d: correlation id %q is not the payload's Call-ID", n, m.CorrelationID)
		}
		if m.Time().Year() != 2016 {
			t.Errorf("packet %d: time %v, want in 2016", n, m.Time())
		}
		// Re-encoding gives the same message back.
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatalf("packet %d: AppendTo: %v", n, err)
		}
		var again Message
		if err := again.DecodeFromBytes(b); err != nil {
			t.Fatalf("packet %d: decode re-encoded: %v", n, err)
		}
		if diff := cmp.Diff(m, again, msgOpts); diff != "" {
			t.Errorf("packet %d re-encoded (-want +got):\n%s", n, diff)
		}
	}
	if diff := cmp.Diff(map[ProtoType]int{ProtoSIP: 6, ProtoRTCP: 1, ProtoLog: 1}, protos); diff != "" {
		t.Errorf("protocol types (-want +got):\n%s", diff)
	}
}
