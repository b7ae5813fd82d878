package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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
	if diff := cmp.Diff(ReadStats{Packets: 10, HEP: 4, NotHEP: 1, TCPStreams: 1}, st, cmpopts.IgnoreFields(ReadStats{}, "Decoder")); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if st.Decoder.TCPRetransmits != 1 || st.Decoder.TCPMessages != 3 {
		t.Errorf("decoder stats: %d retransmits, %d TCP messages; want 1, 3", st.Decoder.TCPRetransmits, st.Decoder.TCPMessages)
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

// wire builds Ethernet frames (optionally 802.1Q tagged, IPv4 or IPv6) for
// the --read tests.
type wire struct {
	t    *testing.T
	vlan uint16 // 0: untagged
	v6   bool
}

func (w wire) addrs() (net.IP, net.IP) {
	if w.v6 {
		return net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8::2")
	}
	return net.IPv4(10, 0, 0, 1).To4(), net.IPv4(10, 0, 0, 2).To4()
}

// link returns the link layers and the network layer for IP protocol p.
func (w wire) link(p layers.IPProtocol) ([]gopacket.SerializableLayer, gopacket.NetworkLayer) {
	src, dst := w.addrs()
	et := layers.EthernetTypeIPv4
	var ip gopacket.SerializableLayer = &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: src, DstIP: dst}
	if w.v6 {
		et = layers.EthernetTypeIPv6
		ip = &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: p, SrcIP: src, DstIP: dst}
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: et}
	ls := []gopacket.SerializableLayer{eth}
	if w.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: w.vlan, Type: et})
	}
	return append(ls, ip), ip.(gopacket.NetworkLayer)
}

func (w wire) serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		w.t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// tcp is a segment from 40000 to 9061 at seq with the given flags.
func (w wire) tcp(seq uint32, syn, fin bool, p []byte) []byte {
	ls, ip := w.link(layers.IPProtocolTCP)
	l := &layers.TCP{SrcPort: 40000, DstPort: 9061, Seq: seq, SYN: syn, FIN: fin, ACK: !syn, PSH: len(p) > 0, Window: 65535}
	l.SetNetworkLayerForChecksum(ip)
	return w.serialize(append(ls, l, gopacket.Payload(p))...)
}

// udpFragments is a UDP datagram carrying p, split by IP into pieces of at
// most size bytes (a multiple of 8).
func (w wire) udpFragments(p []byte, size int) [][]byte {
	ls, ip := w.link(layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: 40000, DstPort: 9060}
	u.SetNetworkLayerForChecksum(ip)
	datagram := w.serialize(u, gopacket.Payload(p))
	var out [][]byte
	for off := 0; off < len(datagram); off += size {
		end := min(off+size, len(datagram))
		more := end < len(datagram)
		fl := slices.Clone(ls)
		switch l := fl[len(fl)-1].(type) {
		case *layers.IPv4:
			c := *l
			c.Protocol, c.Id, c.FragOffset = layers.IPProtocolUDP, 99, uint16(off/8)
			if more {
				c.Flags = layers.IPv4MoreFragments
			}
			fl[len(fl)-1] = &c
		case *layers.IPv6:
			c := *l
			c.NextHeader = layers.IPProtocolIPv6Fragment
			fl[len(fl)-1] = &c
			fl = append(fl, &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(off / 8), MoreFragments: more, Identification: 99})
		}
		out = append(out, w.serialize(append(fl, gopacket.Payload(datagram[off:end]))...))
	}
	return out
}

// writeCapture writes frames into a pcap file, 1 ms apart.
func writeCapture(t *testing.T, frames [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pw := pcapgo.NewWriter(f)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	for _, b := range frames {
		ts = ts.Add(time.Millisecond)
		if err := pw.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestReadThroughAgentDecoder: --read decodes captures with the agent's
// decoder, so what the agent's tests prove of it holds for the collector:
// TCP segments out of order and retransmitted, a capture that starts in
// the middle of a stream, a hole that never fills, fragments in any order,
// VLAN tags and IPv6.
func TestReadThroughAgentDecoder(t *testing.T) {
	now := time.Unix(1700000000, 0)
	var stream []byte
	var ends []int // end offset of each message in stream
	for _, cid := range []string{"m-1", "m-2", "m-3"} {
		stream = append(stream, hepMsg(t, hep.ProtoSIP, sipMsg("BYE sip:bob@b.example SIP/2.0", cid, "2 BYE"), now, nil)...)
		ends = append(ends, len(stream))
	}
	const isn = 5000
	// seg is stream[from:to] at its sequence number.
	seg := func(w wire, from, to int) []byte { return w.tcp(isn+uint32(from), false, false, stream[from:to]) }
	syn := func(w wire) []byte { return w.tcp(isn-1, true, false, nil) }
	fin := func(w wire) []byte { return w.tcp(isn+uint32(len(stream)), false, true, nil) }
	big := sipMsg("INVITE sip:bob@b.example SIP/2.0", "frag-1", "1 INVITE")
	big = append(big[:len(big)-2], []byte("X-Big: "+strings.Repeat("y", 2900)+"\r\n\r\n")...)
	bigHEP := hepMsg(t, hep.ProtoSIP, big, now, nil)

	a, b, c := ends[0], ends[1], ends[2]
	tests := []struct {
		name    string
		frames  func(w wire) [][]byte
		wire    []wire
		callIDs []string
		check   func(t *testing.T, st ReadStats)
	}{
		{
			name: "tcp segments out of order, retransmitted, split inside headers",
			frames: func(w wire) [][]byte {
				return [][]byte{syn(w), seg(w, 0, 3), seg(w, a+10, b), seg(w, 3, a+10), seg(w, 3, a+10),
					seg(w, c-5, c), seg(w, b, c-5), fin(w)}
			},
			wire:    []wire{{t: t}, {t: t, vlan: 42}, {t: t, v6: true}, {t: t, v6: true, vlan: 7}},
			callIDs: []string{"m-1", "m-2", "m-3"},
			check: func(t *testing.T, st ReadStats) {
				if st.Decoder.TCPOutOfOrder != 2 || st.Decoder.TCPRetransmits != 1 || st.TCPSkipped != 0 {
					t.Errorf("out of order %d, retransmits %d, skipped %d; want 2, 1, 0", st.Decoder.TCPOutOfOrder, st.Decoder.TCPRetransmits, st.TCPSkipped)
				}
			},
		},
		{
			name: "capture starts mid-stream: resync at the next HEP3",
			frames: func(w wire) [][]byte {
				return [][]byte{seg(w, 20, a+7), seg(w, a+7, c), fin(w)}
			},
			wire:    []wire{{t: t}, {t: t, v6: true, vlan: 100}},
			callIDs: []string{"m-2", "m-3"},
			check: func(t *testing.T, st ReadStats) {
				if st.TCPSkipped != uint64(a-20) || st.Decoder.TCPResyncs == 0 {
					t.Errorf("skipped %d bytes (%d resyncs), want %d", st.TCPSkipped, st.Decoder.TCPResyncs, a-20)
				}
			},
		},
		{
			name: "a hole that never fills: the cut message is dropped at the end, the next one kept",
			frames: func(w wire) [][]byte {
				return [][]byte{syn(w), seg(w, 0, a+30), seg(w, a+60, c)}
			},
			wire:    []wire{{t: t}, {t: t, v6: true}},
			callIDs: []string{"m-1", "m-3"},
			check: func(t *testing.T, st ReadStats) {
				if st.Decoder.TCPGaps != 1 || st.TCPSkipped != uint64(b-a-30) {
					t.Errorf("gaps %d, skipped %d; want 1, %d", st.Decoder.TCPGaps, st.TCPSkipped, b-a-30)
				}
			},
		},
		{
			name: "fragments last first",
			frames: func(w wire) [][]byte {
				fs := w.udpFragments(bigHEP, 1232)
				slices.Reverse(fs)
				return fs
			},
			wire:    []wire{{t: t}, {t: t, vlan: 5}, {t: t, v6: true}, {t: t, v6: true, vlan: 5}},
			callIDs: []string{"frag-1"},
			check: func(t *testing.T, st ReadStats) {
				if st.Fragments != 3 || st.Decoder.FragReassembled != 1 {
					t.Errorf("fragments %d, reassembled %d; want 3, 1", st.Fragments, st.Decoder.FragReassembled)
				}
			},
		},
		{
			name: "fragments middle, last, first",
			frames: func(w wire) [][]byte {
				fs := w.udpFragments(bigHEP, 1232)
				return [][]byte{fs[1], fs[2], fs[0]}
			},
			wire:    []wire{{t: t}, {t: t, v6: true, vlan: 9}},
			callIDs: []string{"frag-1"},
		},
	}
	for _, tt := range tests {
		for _, w := range tt.wire {
			t.Run(fmt.Sprintf("%s/v6=%v,vlan=%d", tt.name, w.v6, w.vlan), func(t *testing.T) {
				w.t = t
				rows, st := readPrint(t, writeCapture(t, tt.frames(w)))
				var got []string
				for _, r := range rows {
					got = append(got, r.ProtocolHeader["callid"].(string))
				}
				if diff := cmp.Diff(tt.callIDs, got); diff != "" {
					t.Errorf("rows by Call-ID (-want +got):\n%s", diff)
				}
				if st.DecodeErrors != 0 || st.Undecodable != 0 || st.HEP != len(tt.callIDs) {
					t.Errorf("stats %+v", st)
				}
				if w.vlan != 0 && st.Decoder.VLAN == 0 {
					t.Errorf("no VLAN-tagged frame counted")
				}
				if w.v6 != (st.Decoder.IPv6 > 0) {
					t.Errorf("IPv6 headers %d, v6 %v", st.Decoder.IPv6, w.v6)
				}
				if tt.check != nil {
					tt.check(t, st)
				}
			})
		}
	}
}
