package collector

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xhep/xhep/hep"
)

// BenchmarkReadCapture measures --read --print (rows to io.Discard) on a
// generated capture of 20,000 HEP SIP messages, half over UDP, half over
// one TCP stream (messages per second of wall time: noisy on a shared
// machine, compare interleaved runs).
func BenchmarkReadCapture(b *testing.B) {
	const msgs = 20000
	path := filepath.Join(b.TempDir(), "hep.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		b.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	seq := uint32(1)
	for i := range msgs {
		m := hepMsg(b, hep.ProtoSIP, sipMsg("BYE sip:bob@b.example SIP/2.0", fmt.Sprintf("read-bench-%d", i), "2 BYE"), ts, nil)
		var l4 gopacket.SerializableLayer
		if i%2 == 0 {
			ip.Protocol = layers.IPProtocolUDP
			u := &layers.UDP{SrcPort: 40000, DstPort: 9060}
			u.SetNetworkLayerForChecksum(ip)
			l4 = u
		} else {
			ip.Protocol = layers.IPProtocolTCP
			t := &layers.TCP{SrcPort: 41000, DstPort: 9061, Seq: seq, ACK: true, PSH: true, Window: 65535}
			t.SetNetworkLayerForChecksum(ip)
			seq += uint32(len(m))
			l4 = t
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(m)); err != nil {
			b.Fatal(err)
		}
		ts = ts.Add(10 * time.Microsecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	b.ReportAllocs()
	for b.Loop() {
		s, err := New(Config{Read: path, Print: true, Output: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if st := s.ReadStats(); st.HEP != msgs {
			b.Fatalf("read %d HEP messages, want %d", st.HEP, msgs)
		}
	}
	b.ReportMetric(float64(msgs*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
