package api

import (
	"bytes"
	"fmt"
	"github.com/xhep/xhep/hep/rtcp"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packet is one payload to write as a synthesised frame.
type packet struct {
	ts       time.Time
	proto    int // 6 TCP, anything else UDP
	src, dst netip.AddrPort
	payload  []byte
}

func (a *API) pcap(w http.ResponseWriter, r *http.Request) error {
	f, err := a.requestFlow(r)
	if err != nil {
		return err
	}
	pkts := make([]packet, 0, len(f.Messages)+len(f.RTCP))
	for _, m := range f.Messages {
		p, err := toPacket(m.Time, protoNum(m.Transport), m.SrcIP, m.SrcPort, m.DstIP, m.DstPort, []byte(m.Raw))
		if err != nil {
			return err
		}
		pkts = append(pkts, p)
	}
	ids := make([]string, len(f.Legs))
	for i, l := range f.Legs {
		ids[i] = l.CallID
	}
	rtcp, err := a.q.rtcpRaw(r.Context(), ids, f.First.Add(-a.cfg.FlowMargin), f.Last.Add(a.cfg.FlowMargin))
	if err != nil {
		return err
	}
	pkts = mergeByTime(pkts, rtcp)
	var buf bytes.Buffer
	if err := writePcap(&buf, pkts); err != nil {
		return fmt.Errorf("write pcap: %w", err)
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fileName(f)+".pcap"))
	w.Write(buf.Bytes())
	return nil
}

// fileName names a flow's download (without extension): its Call-ID, a
// merged flow's with "+N" (the calls merged into it).
func fileName(f *Flow) string {
	if len(f.Merged) > 0 {
		return fmt.Sprintf("%s+%d", safeName(f.CallID), len(f.Merged))
	}
	return safeName(f.CallID)
}

// safeName keeps letters, digits, '-', '_', '.' and '@' of a Call-ID for a
// file name.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c == '.' || c == '@' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return '_'
	}, s)
}

func protoNum(transport string) int {
	switch transport {
	case "tcp":
		return 6
	case "sctp":
		return 132
	}
	return 17
}

func toPacket(ts time.Time, proto int, srcIP string, srcPort int, dstIP string, dstPort int, payload []byte) (packet, error) {
	s, err := netip.ParseAddr(srcIP)
	if err != nil {
		return packet{}, fmt.Errorf("stored source address %q: %w", srcIP, err)
	}
	d, err := netip.ParseAddr(dstIP)
	if err != nil {
		return packet{}, fmt.Errorf("stored destination address %q: %w", dstIP, err)
	}
	if s.Is4() != d.Is4() { // mixed families: map the IPv4 side into IPv6
		s, d = netip.AddrFrom16(s.As16()), netip.AddrFrom16(d.As16())
	}
	return packet{ts: ts, proto: proto, src: netip.AddrPortFrom(s, uint16(srcPort)), dst: netip.AddrPortFrom(d, uint16(dstPort)), payload: payload}, nil
}

// mergeByTime merges two time-ordered lists (a first on equal times).
func mergeByTime(a, b []packet) []packet {
	out := make([]packet, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].ts.Before(a[0].ts) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// mac derives a stable locally administered MAC address from an IP.
func mac(a netip.Addr) net.HardwareAddr {
	h := fnv.New32a()
	b := a.AsSlice()
	h.Write(b)
	s := h.Sum32()
	return net.HardwareAddr{0x02, 0x00, byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}
}

// Limits of one synthesised frame's payload.
const (
	maxUDPPayload = 65535 - 8 - 40 // fits IPv4 and IPv6 length fields
	tcpSegment    = 1400
)

// writePcap writes pkts as Ethernet/IPv4-or-IPv6/UDP-or-TCP frames with
// microsecond timestamps. TCP payloads get per-direction sequence numbers
// continuing from one message to the next (and ACKs of the other
// direction), split into segments of tcpSegment bytes, so dissectors see
// a clean stream.
func writePcap(w *bytes.Buffer, pkts []packet) error {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	type flow struct{ src, dst netip.AddrPort }
	seq := map[flow]uint32{}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, p := range pkts {
		eth := &layers.Ethernet{SrcMAC: mac(p.src.Addr()), DstMAC: mac(p.dst.Addr())}
		var ip gopacket.NetworkLayer
		var ipl gopacket.SerializableLayer
		var ipProto layers.IPProtocol = layers.IPProtocolUDP
		if p.proto == 6 {
			ipProto = layers.IPProtocolTCP
		}
		if p.src.Addr().Is4() {
			eth.EthernetType = layers.EthernetTypeIPv4
			v4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: ipProto, Flags: layers.IPv4DontFragment,
				SrcIP: p.src.Addr().AsSlice(), DstIP: p.dst.Addr().AsSlice()}
			ip, ipl = v4, v4
		} else {
			eth.EthernetType = layers.EthernetTypeIPv6
			v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: ipProto,
				SrcIP: p.src.Addr().AsSlice(), DstIP: p.dst.Addr().AsSlice()}
			ip, ipl = v6, v6
		}
		write := func(l4 gopacket.SerializableLayer, payload []byte) error {
			if err := gopacket.SerializeLayers(buf, opts, eth, ipl, l4, gopacket.Payload(payload)); err != nil {
				return err
			}
			data := buf.Bytes()
			ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(data), Length: len(data)}
			return pw.WritePacket(ci, data)
		}
		if p.proto != 6 {
			payload := p.payload
			if len(payload) > maxUDPPayload {
				payload = payload[:maxUDPPayload]
			}
			udp := &layers.UDP{SrcPort: layers.UDPPort(p.src.Port()), DstPort: layers.UDPPort(p.dst.Port())}
			udp.SetNetworkLayerForChecksum(ip)
			if err := write(udp, payload); err != nil {
				return err
			}
			continue
		}
		fw, rev := flow{p.src, p.dst}, flow{p.dst, p.src}
		if _, ok := seq[fw]; !ok {
			seq[fw] = seqStart(fw.src, fw.dst)
		}
		if _, ok := seq[rev]; !ok {
			seq[rev] = seqStart(rev.src, rev.dst)
		}
		for rest := p.payload; len(rest) > 0; {
			n := min(len(rest), tcpSegment)
			tcp := &layers.TCP{SrcPort: layers.TCPPort(p.src.Port()), DstPort: layers.TCPPort(p.dst.Port()),
				Seq: seq[fw], Ack: seq[rev], ACK: true, PSH: n == len(rest), Window: 65535, DataOffset: 5}
			tcp.SetNetworkLayerForChecksum(ip)
			if err := write(tcp, rest[:n]); err != nil {
				return err
			}
			seq[fw] += uint32(n)
			rest = rest[n:]
		}
	}
	return nil
}

// seqStart is a stable initial sequence number for a direction.
func seqStart(src, dst netip.AddrPort) uint32 {
	h := fnv.New32a()
	h.Write([]byte(src.String() + ">" + dst.String()))
	return h.Sum32()
}

func (a *API) text(w http.ResponseWriter, r *http.Request) error {
	f, err := a.requestFlow(r)
	if err != nil {
		return err
	}
	var b strings.Builder
	writeText(&b, f)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fileName(f)+".txt"))
	w.Write([]byte(b.String()))
	return nil
}

// writeText writes the plain-text form of a flow: a header naming the
// calls (a merged flow's all of them) and the legs, the ladder (one line
// per message: time, src → dst, first line), then every message's raw
// text.
func writeText(b *strings.Builder, f *Flow) {
	const layout = "2006-01-02 15:04:05.000000"
	if len(f.Merged) == 0 {
		fmt.Fprintf(b, "Call %s", f.CallID)
	} else {
		fmt.Fprintf(b, "Calls %s merged", strings.Join(append([]string{f.CallID}, f.Merged...), ", "))
	}
	fmt.Fprintf(b, ": %d SIP messages, %d legs, %s to %s UTC\n", len(f.Messages), len(f.Legs), f.First.Format(layout), f.Last.Format(layout))
	for _, l := range f.Legs {
		if l.LinkedBy == "" {
			fmt.Fprintf(b, "  leg %s (%d messages)\n", l.CallID, l.Messages)
		} else {
			fmt.Fprintf(b, "  leg %s (%d messages), linked by %s to %s\n", l.CallID, l.Messages, l.LinkedBy, l.LinkedTo)
		}
	}
	b.WriteString("\n")
	for i, m := range f.Messages {
		fmt.Fprintf(b, "%4d %s  %s -> %s  %s\n", i+1, m.Time.Format(layout), hostPort(m.SrcIP, m.SrcPort), hostPort(m.DstIP, m.DstPort), m.FirstLine)
	}
	for i, m := range f.Messages {
		fmt.Fprintf(b, "\n==== %d  %s  %s %s -> %s  Call-ID %s\n", i+1, m.Time.Format(layout), strings.ToUpper(m.Transport), hostPort(m.SrcIP, m.SrcPort), hostPort(m.DstIP, m.DstPort), m.CallID)
		b.WriteString(strings.ReplaceAll(m.Raw, "\r\n", "\n"))
		if !strings.HasSuffix(m.Raw, "\n") {
			b.WriteString("\n")
		}
	}
}

// rtcpBinary returns an RTCP payload as binary RTCP: raw itself, or what
// arrived as JSON (heplify, xhep-agent) re-encoded ([rtcp.Packet.AppendBinary]:
// SR/RR with report blocks, SDES, BYE); ok false when it is neither.
func rtcpBinary(raw []byte) ([]byte, bool) {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 {
		return nil, false
	}
	if t[0] != '{' {
		return raw, true
	}
	var p rtcp.Packet
	if p.DecodeJSON(t) != nil {
		return nil, false
	}
	b := p.AppendBinary(nil)
	return b, rtcp.Valid(b)
}
