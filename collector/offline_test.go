package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xhep/xhep/hep"
)

// readPrint runs the offline mode on path and returns the printed rows.
func readPrint(t *testing.T, path string) ([]printedRow, ReadStats) {
	t.Helper()
	var out bytes.Buffer
	s, err := New(Config{Read: path, Print: true, Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var rows []printedRow
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r printedRow
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("printed line is not JSON: %v", err)
		}
		rows = append(rows, r)
	}
	return rows, s.ReadStats()
}

// TestReadPublicCapture decodes hep-wireshark's sample capture: 8 HEP3
// messages over UDP (6 SIP, 1 log, 1 RTCP JSON).
func TestReadPublicCapture(t *testing.T) {
	path := "../../shared/pcaps/hep3_sip_log_rtcpjson.pcap"
	if _, err := os.Stat(path); err != nil {
		path = "/work/shared/pcaps/hep3_sip_log_rtcpjson.pcap"
		if _, err := os.Stat(path); err != nil {
			t.Skip("public capture hep3_sip_log_rtcpjson.pcap not present")
		}
	}
	rows, st := readPrint(t, path)
	byType := map[float64]int{}
	for _, r := range rows {
		byType[r.HepHeader["payloadType"].(float64)]++
		if r.GID != 2001 {
			t.Errorf("gid %d, want 2001", r.GID)
		}
	}
	if diff := cmp.Diff(map[float64]int{1: 6, 100: 1, 5: 1}, byType); diff != "" {
		t.Errorf("messages by HEP type (-want +got):\n%s", diff)
	}
	if st.HEP != 8 || st.DecodeErrors != 0 {
		t.Errorf("stats %+v", st)
	}
	for _, r := range rows {
		if r.Table == "hep_proto_5_default" && r.ProtocolHeader["type"] == nil {
			t.Errorf("RTCP JSON row without type: %+v", r)
		}
	}
}

// pcapBuilder writes Ethernet/IPv4 frames: UDP datagrams and TCP segments.
type pcapBuilder struct {
	t *testing.T
	w interface {
		WritePacket(gopacket.CaptureInfo, []byte) error
	}
	ts time.Time
}

func (b *pcapBuilder) frame(l4 gopacket.SerializableLayer, ipProto layers.IPProtocol, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: ipProto, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	switch l := l4.(type) {
	case *layers.UDP:
		l.SetNetworkLayerForChecksum(ip)
	case *layers.TCP:
		l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, l4, gopacket.Payload(payload)); err != nil {
		b.t.Fatal(err)
	}
	b.ts = b.ts.Add(time.Millisecond)
	data := buf.Bytes()
	if err := b.w.WritePacket(gopacket.CaptureInfo{Timestamp: b.ts, CaptureLength: len(data), Length: len(data)}, data); err != nil {
		b.t.Fatal(err)
	}
}

// TestReadGeneratedCapture reads HEP over UDP on an odd port and over one
// TCP flow whose messages are split across segments, with a retransmitted
// segment, and a UDP datagram that is not HEP.
func TestReadGeneratedCapture(t *testing.T) {
	for _, ng := range []bool{false, true} {
		name := "pcap"
		if ng {
			name = "pcapng"
		}
		t.Run(name, func(t *testing.T) { testReadGenerated(t, ng) })
	}
}

func testReadGenerated(t *testing.T, ng bool) {
	path := filepath.Join(t.TempDir(), "hep.cap")
	writeGeneratedCapture(t, path, ng)
	rows, st := readPrint(t, path)
	var callIDs []string
	for _, r := range rows {
		callIDs = append(callIDs, r.ProtocolHeader["callid"].(string))
	}
	if diff := cmp.Diff([]string{"udp-1", "tcp-1", "tcp-2", "tcp-3"}, callIDs); diff != "" {
		t.Errorf("rows by Call-ID (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ReadStats{Packets: 10, HEP: 4, NotHEP: 1, TCPFlows: 1}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// writeGeneratedCapture writes a capture with HEP over UDP on an odd port,
// a UDP datagram that is not HEP, and one TCP flow carrying three HEP
// messages split across segments, with a retransmission. Its Call-IDs are
// udp-1, tcp-1, tcp-2 and tcp-3.
func writeGeneratedCapture(t *testing.T, path string, ng bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	b := &pcapBuilder{t: t, ts: time.Unix(1700000000, 0)}
	var flush func() error
	if ng {
		w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		b.w, flush = w, w.Flush
	} else {
		w := pcapgo.NewWriter(f)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		b.w, flush = w, func() error { return nil }
	}
	now := time.Unix(1700000000, 0)
	b.frame(&layers.UDP{SrcPort: 40000, DstPort: 19060}, layers.IPProtocolUDP,
		hepMsg(t, hep.ProtoSIP, sipMsg("INVITE sip:bob@b.example SIP/2.0", "udp-1", "1 INVITE"), now, nil))
	b.frame(&layers.UDP{SrcPort: 40000, DstPort: 53}, layers.IPProtocolUDP, []byte("\x12\x34 not HEP"))

	var stream []byte
	for _, cid := range []string{"tcp-1", "tcp-2", "tcp-3"} {
		stream = append(stream, hepMsg(t, hep.ProtoSIP, sipMsg("BYE sip:bob@b.example SIP/2.0", cid, "2 BYE"), now, nil)...)
	}
	seq := uint32(1000)
	b.frame(&layers.TCP{SrcPort: 41000, DstPort: 9061, Seq: seq - 1, SYN: true, Window: 65535}, layers.IPProtocolTCP, nil)
	cut := []int{0, 7, 150, 151, 400, len(stream)}
	for i := 1; i < len(cut); i++ {
		seg := stream[cut[i-1]:cut[i]]
		b.frame(&layers.TCP{SrcPort: 41000, DstPort: 9061, Seq: seq + uint32(cut[i-1]), ACK: true, PSH: true, Window: 65535}, layers.IPProtocolTCP, seg)
		if i == 2 { // retransmit the segment just sent
			b.frame(&layers.TCP{SrcPort: 41000, DstPort: 9061, Seq: seq + uint32(cut[i-1]), ACK: true, PSH: true, Window: 65535}, layers.IPProtocolTCP, seg)
		}
	}
	b.frame(&layers.TCP{SrcPort: 41000, DstPort: 9061, Seq: seq + uint32(len(stream)), FIN: true, ACK: true, Window: 65535}, layers.IPProtocolTCP, nil)
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestReadFragmented reads a HEP datagram of about 3,000 bytes that IP
// split into three fragments, over IPv4 and over IPv6.
func TestReadFragmented(t *testing.T) {
	body := sipMsg("INVITE sip:bob@b.example SIP/2.0", "frag-1", "1 INVITE")
	body = append(body[:len(body)-2], []byte("X-Big: "+strings.Repeat("y", 2900)+"\r\n\r\n")...)
	hepb := hepMsg(t, hep.ProtoSIP, body, time.Unix(1700000000, 0), nil)

	for _, v6 := range []bool{false, true} {
		name := "ipv4"
		if v6 {
			name = "ipv6"
		}
		t.Run(name, func(t *testing.T) {
			src, dst := net.ParseIP("10.0.0.1"), net.ParseIP("10.0.0.2")
			if v6 {
				src, dst = net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8::2")
			}
			// The whole UDP datagram, header included, is what gets split.
			udp := &layers.UDP{SrcPort: 40000, DstPort: 9060}
			var pseudo gopacket.NetworkLayer = &layers.IPv4{Version: 4, SrcIP: src, DstIP: dst, Protocol: layers.IPProtocolUDP}
			if v6 {
				pseudo = &layers.IPv6{Version: 6, SrcIP: src, DstIP: dst, NextHeader: layers.IPProtocolUDP}
			}
			udp.SetNetworkLayerForChecksum(pseudo)
			ub := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(ub, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, udp, gopacket.Payload(hepb)); err != nil {
				t.Fatal(err)
			}
			datagram := ub.Bytes()

			path := filepath.Join(t.TempDir(), "frag.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := pcapgo.NewWriter(f)
			w.WriteFileHeader(65535, layers.LinkTypeEthernet)
			const size = 1232 // a multiple of 8
			ts := time.Unix(1700000000, 0)
			n := 0
			for off := 0; off < len(datagram); off += size {
				end := min(off+size, len(datagram))
				more := end < len(datagram)
				eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
				var ls []gopacket.SerializableLayer
				if v6 {
					eth.EthernetType = layers.EthernetTypeIPv6
					ls = []gopacket.SerializableLayer{eth,
						&layers.IPv6{Version: 6, HopLimit: 64, SrcIP: src, DstIP: dst, NextHeader: layers.IPProtocolIPv6Fragment},
						&layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: 77}}
				} else {
					flags := layers.IPv4Flag(0)
					if more {
						flags = layers.IPv4MoreFragments
					}
					ls = []gopacket.SerializableLayer{eth,
						&layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 77, Flags: flags, FragOffset: uint16(off / 8), Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}}
				}
				buf := gopacket.NewSerializeBuffer()
				if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, append(ls, gopacket.Payload(datagram[off:end]))...); err != nil {
					t.Fatal(err)
				}
				ts = ts.Add(time.Millisecond)
				w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes())
				n++
			}
			f.Close()
			rows, st := readPrint(t, path)
			if len(rows) != 1 || rows[0].ProtocolHeader["callid"] != "frag-1" || st.Fragments != n || n < 3 {
				t.Fatalf("rows %d, stats %+v (%d fragments written)", len(rows), st, n)
			}
			if raw := rows[0].Raw; raw == nil || *raw != string(body) {
				t.Errorf("reassembled payload differs")
			}
		})
	}
}
