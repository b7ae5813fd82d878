package agent

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xhep/xhep/hep"
)

// pcapFile is a pcap being written by a test: frames Ethernet/IPv4
// 10.0.0.1 → 10.0.0.2 carrying one L4 layer and a payload, 1 ms apart.
type pcapFile struct {
	t    *testing.T
	path string
	f    *os.File
	w    *pcapgo.Writer
	ts   time.Time
}

func newPcap(t *testing.T) *pcapFile {
	t.Helper()
	p := &pcapFile{t: t, path: filepath.Join(t.TempDir(), "test.pcap"), ts: time.Unix(1700000000, 0)}
	var err error
	if p.f, err = os.Create(p.path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.f.Close() })
	p.w = pcapgo.NewWriter(p.f)
	if err := p.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pcapFile) write(l4 interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}, proto layers.IPProtocol, data []byte) {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	l4.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, l4, gopacket.Payload(data)); err != nil {
		p.t.Fatal(err)
	}
	p.ts = p.ts.Add(time.Millisecond)
	if err := p.w.WritePacket(gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
		p.t.Fatal(err)
	}
}

// tcpCapture writes a pcap of one TCP connection 10.0.0.1:40000 →
// 10.0.0.2:5060 (SYN, then data in 1,400-byte segments, then FIN), the
// given payloads sent back to back.
func tcpCapture(t *testing.T, payloads ...[]byte) string {
	p := newPcap(t)
	seg := func(tcp *layers.TCP, data []byte) {
		tcp.SrcPort, tcp.DstPort, tcp.Window = 40000, 5060, 65535
		p.write(tcp, layers.IPProtocolTCP, data)
	}
	seq := uint32(1000)
	seg(&layers.TCP{Seq: seq - 1, SYN: true}, nil)
	for _, b := range payloads {
		for off := 0; off < len(b); off += 1400 {
			end := min(off+1400, len(b))
			seg(&layers.TCP{Seq: seq, ACK: true, PSH: true}, b[off:end])
			seq += uint32(end - off)
		}
	}
	seg(&layers.TCP{Seq: seq, ACK: true, FIN: true}, nil)
	return p.path
}

// bigInvite builds an INVITE whose body (Content-Type typ) is body.
func bigInvite(callID, typ, body string) []byte {
	h := "INVITE sip:bob@b.example SIP/2.0\r\n" +
		"Via: SIP/2.0/TCP 10.0.0.1:40000;branch=z9hG4bK-" + callID + "\r\n" +
		"From: <sip:alice@a.example>;tag=1\r\nTo: <sip:bob@b.example>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" +
		"Contact: <sip:alice@10.0.0.1:40000;transport=tcp>\r\n" +
		"Content-Type: " + typ + "\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n"
	return []byte(h + body)
}

// TestLargeSIPOverTCP: a 65.8 KB INVITE over TCP (a multipart body with a
// large XML part, as some SIP-I and NG911 INVITEs carry) is reassembled
// and sent, compressed into chunk 0x10, over UDP and TCP; an
// incompressible 150 KB one is split into parts that fit HEP, in order.
// Nothing is dropped at HEP encoding, and both are counted.
func TestLargeSIPOverTCP(t *testing.T) {
	var xml strings.Builder
	xml.WriteString("--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n")
	xml.WriteString("--b1\r\nContent-Type: application/pidf+xml\r\n\r\n<presence>")
	for i := 0; xml.Len() < 65450; i++ {
		fmt.Fprintf(&xml, "<tuple id=\"t%d\"><status><basic>open</basic></status><contact>sip:u%d@a.example</contact></tuple>\r\n", i, i)
	}
	xml.WriteString("</presence>\r\n--b1--\r\n")
	big := bigInvite("big-1", "multipart/mixed;boundary=b1", xml.String())
	if len(big) < 65_700 || len(big) > 66_000 {
		t.Fatalf("test INVITE is %d bytes, want about 65.8 KB", len(big))
	}
	raw := make([]byte, 110_000)
	rand.Read(raw)
	huge := bigInvite("huge-1", "application/octet-stream", base64.StdEncoding.EncodeToString(raw))
	if len(huge) < 140_000 {
		t.Fatalf("incompressible INVITE is only %d bytes", len(huge))
	}
	path := tcpCapture(t, big, huge)

	for _, scheme := range []string{"udp", "tcp"} {
		t.Run(scheme, func(t *testing.T) {
			col := newCollector(t, scheme)
			_, sum := runFile(t, testConfig(col.url), path)
			parts := (len(huge) + maxSplitPart - 1) / maxSplitPart
			got := col.wait(t, 1+parts)
			if len(got) != 1+parts {
				t.Fatalf("got %d HEP messages, want %d (1 compressed + %d parts); summary %+v", len(got), 1+parts, parts, sum.Drops)
			}
			if got[0].Payload != string(big) || !got[0].Compressed {
				t.Errorf("65.8 KB INVITE: compressed %v, payload %d bytes, want %d", got[0].Compressed, len(got[0].Payload), len(big))
			}
			var joined strings.Builder
			for _, m := range got[1:] {
				if m.Proto != hep.ProtoSIP || m.Src != "10.0.0.1:40000" || m.Dst != "10.0.0.2:5060" {
					t.Errorf("part: %+v", m)
				}
				joined.WriteString(m.Payload)
			}
			if joined.String() != string(huge) {
				t.Errorf("parts joined are %d bytes, want the %d-byte INVITE", joined.Len(), len(huge))
			}
			if sum.Drops["hep_encode"] != 0 || sum.LargeCompressed != 1 || sum.LargeSplit != 1 || sum.SplitParts != uint64(parts) {
				t.Errorf("summary: drops %v, large compressed %d, split %d into %d parts", sum.Drops, sum.LargeCompressed, sum.LargeSplit, sum.SplitParts)
			}
		})
	}
}

// udpCapture writes a pcap of UDP datagrams 10.0.0.1:sport → 10.0.0.2:dport.
func udpCapture(t *testing.T, sport, dport uint16, payloads ...[]byte) string {
	p := newPcap(t)
	for _, b := range payloads {
		p.write(&layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, layers.IPProtocolUDP, b)
	}
	return p.path
}

// TestRTCPNoSDPStillSent: an RTCP stream that no SDP announced (no SIP in
// the capture at all) is uncorrelated, and still sent, every packet,
// without chunk 0x11; one with 2 trailing bytes too.
//
//	80 c9 00 01 | SSRC            RR, no report blocks (8 bytes)
//	81 ca 00 03 | SSRC | 01 04 "abcd" 00 00   SDES CNAME (16 bytes)
func TestRTCPNoSDPStillSent(t *testing.T) {
	rr := []byte{0x80, 0xc9, 0x00, 0x01, 0, 0, 0x30, 0x39, 0x81, 0xca, 0x00, 0x03, 0, 0, 0x30, 0x39, 1, 4, 'a', 'b', 'c', 'd', 0, 0}
	var pkts [][]byte
	for range 5 {
		pkts = append(pkts, rr)
	}
	pkts = append(pkts, append(append([]byte(nil), rr...), 0, 0))
	path := udpCapture(t, 31001, 41001, pkts...)
	col := newCollector(t, "udp")
	_, sum := runFile(t, testConfig(col.url), path)
	got := col.wait(t, len(pkts))
	if len(got) != len(pkts) {
		t.Fatalf("got %d HEP messages, want %d", len(got), len(pkts))
	}
	for _, m := range got {
		if m.Proto != hep.ProtoRTCP || m.CorrID != "" || !strings.Contains(m.Payload, `"ssrc":12345`) {
			t.Errorf("RTCP message: proto %v corr %q payload %s", m.Proto, m.CorrID, m.Payload)
		}
	}
	if sum.RTCPUncorrelated != uint64(len(pkts)) || sum.RTCPCorrelated != 0 || sum.Decoder.RTCPTrailing != 1 {
		t.Errorf("summary: uncorrelated %d correlated %d trailing %d", sum.RTCPUncorrelated, sum.RTCPCorrelated, sum.Decoder.RTCPTrailing)
	}
}
