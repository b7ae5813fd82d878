package agent

import (
	"encoding/binary"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/hep"
)

// udpAt writes one UDP datagram with the given addresses and capture time.
func (p *pcapFile) udpAt(ts time.Time, src, dst string, sp, dp uint16, data []byte) {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	u.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, u, gopacket.Payload(data)); err != nil {
		p.t.Fatal(err)
	}
	if err := p.w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
		p.t.Fatal(err)
	}
}

func sipWithSDP(first, callID, cseq, ip string, port int) []byte {
	sdp := "v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\n" +
		"m=audio " + itoa(port) + " RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
	return []byte(first + "\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n" +
		"Call-ID: " + callID + "\r\nCSeq: " + cseq + "\r\nContent-Type: application/sdp\r\nContent-Length: " + itoa(len(sdp)) + "\r\n\r\n" + sdp)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func rtpPacket(pt uint8, seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 12+160)
	b[0], b[1] = 0x80, pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

// TestMediaReportsFromFile: a call in a pcap (INVITE and 200 with SDP,
// RTP both ways, BYE) read with media statistics on gives one final HEP
// type 34 report per stream, with the Call-ID in chunk 0x11 and the
// counts of the packets written (A leg: 6 of 300 lost in runs of 1 and 5).
func TestMediaReportsFromFile(t *testing.T) {
	const callID = "media-e2e-1@10.0.0.1"
	p := newPcap(t)
	t0 := time.Unix(1700000000, 0)
	p.udpAt(t0, "10.0.0.1", "10.0.0.2", 5060, 5060, sipWithSDP("INVITE sip:b@10.0.0.2 SIP/2.0", callID, "1 INVITE", "10.0.0.1", 40000))
	p.udpAt(t0.Add(50*time.Millisecond), "10.0.0.2", "10.0.0.1", 5060, 5060, sipWithSDP("SIP/2.0 200 OK", callID, "1 INVITE", "10.0.0.2", 30000))
	lost := map[int]bool{10: true, 100: true, 101: true, 102: true, 103: true, 104: true}
	for i := 0; i < 300; i++ {
		at := t0.Add(100*time.Millisecond + time.Duration(i)*20*time.Millisecond)
		if !lost[i] {
			p.udpAt(at, "10.0.0.2", "10.0.0.1", 30000, 40000, rtpPacket(8, uint16(1000+i), uint32(i*160), 0x1111))
		}
		p.udpAt(at.Add(time.Millisecond), "10.0.0.1", "10.0.0.2", 40000, 30000, rtpPacket(8, uint16(7+i), uint32(i*160), 0x2222))
	}
	bye := []byte("BYE sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: " + callID + "\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n")
	p.udpAt(t0.Add(7*time.Second), "10.0.0.1", "10.0.0.2", 5060, 5060, bye)
	p.f.Close()

	col := newCollector(t, "udp")
	cfg := testConfig(col.url)
	tr, err := media.New(media.Config{Interval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Media = tr
	pl, _ := runFile(t, cfg, p.path)
	got := col.wait(t, 3+2)
	reg := prometheus.NewRegistry()
	reg.MustRegister(pl.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	seen := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			k := mf.GetName()
			for _, l := range m.Label {
				k += "/" + l.GetValue()
			}
			seen[k] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for k, v := range map[string]float64{"xhep_agent_rtp_reports_total": 2, "xhep_agent_rtp_packets_total": 594,
		"xhep_agent_rtp_events_total/not_rtp": 0, "xhep_agent_rtp_streams": 0} {
		if got, ok := seen[k]; !ok || got != v {
			t.Errorf("metric %s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	type view struct {
		Corr, Type, Src  string
		Total, Exp, Lost float64
		Codec            string
	}
	var reports []view
	for _, m := range got {
		if m.Proto != hep.ProtoMOSFull {
			continue
		}
		var j map[string]any
		if err := json.Unmarshal([]byte(m.Payload), &j); err != nil {
			t.Fatalf("report is not JSON: %v: %s", err, m.Payload)
		}
		reports = append(reports, view{m.CorrID, j["TYPE"].(string), m.Src, j["TOTAL_PK"].(float64), j["EXPECTED_PK"].(float64), j["PACKET_LOSS"].(float64), j["CODEC_NAME"].(string)})
	}
	if len(reports) == 2 && reports[0].Src > reports[1].Src {
		reports[0], reports[1] = reports[1], reports[0]
	}
	want := []view{
		{callID, "HANGUP", "10.0.0.1:40000", 300, 300, 0, "PCMA"},
		{callID, "HANGUP", "10.0.0.2:30000", 294, 300, 6, "PCMA"},
	}
	if d := cmp.Diff(want, reports); d != "" {
		t.Errorf("reports (-want +got)\n%s", d)
	}
	if st := tr.Stats(); st.Packets != 594 || st.Reports != 2 || st.NotRTP != 0 {
		t.Errorf("tracker stats %+v", st)
	}
}
