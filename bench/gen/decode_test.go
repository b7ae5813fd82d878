package gen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"
)

// This file is the tests' independent view of a capture: gopacket decodes
// the frames, its defragmenters reassemble IP, a few lines here follow TCP
// sequence numbers and cut SIP messages by Content-Length.

type seen struct {
	Src, Dst  netip.AddrPort
	Transport string
	Raw       string
}

type decoded struct {
	sip, rtcp, dns                 []seen
	frames, fragments, tcpSegments int
	rtp                            int
	dnsMsgs                        []dnsSeen
}

type dnsSeen struct {
	Src, Dst netip.AddrPort
	ID       uint16
	Response bool
	Query    string
	QType    uint16
	RCode    uint8
}

type tcpDir struct {
	next uint32
	syn  bool
	buf  []byte
}

func addrPort(ip []byte, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

// decodeFrames decodes every frame and fails t on anything it cannot
// account for.
func decodeFrames(t *testing.T, cfg Config, frames [][]byte) decoded {
	t.Helper()
	var d decoded
	d4 := ip4defrag.NewIPv4Defragmenter()
	d6 := ip6defrag.NewIPv6Defragmenter()
	streams := map[[2]netip.AddrPort]*tcpDir{}
	for i, f := range frames {
		d.frames++
		p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("frame %d: decode: %v", i+1, el.Error())
		}
		var tags []uint16
		for _, l := range p.Layers() {
			if q, ok := l.(*layers.Dot1Q); ok {
				tags = append(tags, q.VLANIdentifier)
			}
		}
		if fmt.Sprint(tags) != fmt.Sprint(cfg.VLAN) && !(len(tags) == 0 && len(cfg.VLAN) == 0) {
			t.Fatalf("frame %d: VLAN tags %v, want %v", i+1, tags, cfg.VLAN)
		}
		if len(cfg.VLAN) == 2 && p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet).EthernetType != layers.EthernetTypeQinQ {
			t.Fatalf("frame %d: outer tag is not 0x88a8", i+1)
		}
		var srcIP, dstIP []byte
		var proto layers.IPProtocol
		var l4 []byte
		if ip4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			srcIP, dstIP, proto = ip4.SrcIP, ip4.DstIP, ip4.Protocol
			l4 = ip4.Payload
			if ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0 {
				d.fragments++
				if cfg.FragmentMTU == 0 || int(ip4.Length) > cfg.FragmentMTU {
					t.Fatalf("frame %d: fragment of %d bytes with MTU %d", i+1, ip4.Length, cfg.FragmentMTU)
				}
				whole, err := d4.DefragIPv4(ip4)
				if err != nil {
					t.Fatalf("frame %d: defrag: %v", i+1, err)
				}
				if whole == nil {
					continue
				}
				l4 = whole.Payload
			}
		} else if ip6, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			srcIP, dstIP, proto = ip6.SrcIP, ip6.DstIP, ip6.NextHeader
			l4 = ip6.Payload
			if fr, ok := p.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
				d.fragments++
				if cfg.FragmentMTU == 0 || 40+int(ip6.Length) > cfg.FragmentMTU {
					t.Fatalf("frame %d: fragment of %d bytes with MTU %d", i+1, 40+int(ip6.Length), cfg.FragmentMTU)
				}
				whole := d6.DefragIPv6(ip6, fr)
				if whole == nil {
					continue
				}
				proto, l4 = whole.NextHeader, whole.Payload
			}
		} else {
			t.Fatalf("frame %d: no IP layer", i+1)
		}
		if cfg.IPv6 != (len(srcIP) == 16) {
			t.Fatalf("frame %d: IP version does not match the config", i+1)
		}
		switch proto {
		case layers.IPProtocolUDP:
			var u layers.UDP
			if err := u.DecodeFromBytes(l4, gopacket.NilDecodeFeedback); err != nil {
				t.Fatalf("frame %d: UDP: %v", i+1, err)
			}
			if int(u.Length) != len(l4) {
				t.Fatalf("frame %d: UDP length %d, datagram %d bytes", i+1, u.Length, len(l4))
			}
			src, dst := addrPort(srcIP, uint16(u.SrcPort)), addrPort(dstIP, uint16(u.DstPort))
			d.udp(t, i+1, src, dst, u.Payload)
		case layers.IPProtocolTCP:
			d.tcpSegments++
			var tc layers.TCP
			if err := tc.DecodeFromBytes(l4, gopacket.NilDecodeFeedback); err != nil {
				t.Fatalf("frame %d: TCP: %v", i+1, err)
			}
			src, dst := addrPort(srcIP, uint16(tc.SrcPort)), addrPort(dstIP, uint16(tc.DstPort))
			s := streams[[2]netip.AddrPort{src, dst}]
			if s == nil {
				if !tc.SYN {
					t.Fatalf("frame %d: TCP %v→%v data before SYN", i+1, src, dst)
				}
				s = &tcpDir{next: tc.Seq + 1, syn: true}
				streams[[2]netip.AddrPort{src, dst}] = s
				continue
			}
			if tc.Seq != s.next {
				t.Fatalf("frame %d: TCP %v→%v seq %d, want %d", i+1, src, dst, tc.Seq, s.next)
			}
			if r := streams[[2]netip.AddrPort{dst, src}]; r != nil && tc.ACK && tc.Ack != r.next {
				t.Fatalf("frame %d: TCP %v→%v ack %d, peer's next seq %d", i+1, src, dst, tc.Ack, r.next)
			}
			s.next += uint32(len(tc.Payload))
			if tc.FIN {
				s.next++
			}
			s.buf = append(s.buf, tc.Payload...)
			for {
				n := sipLen(s.buf)
				if n < 0 {
					break
				}
				d.sip = append(d.sip, seen{src, dst, "tcp", string(s.buf[:n])})
				s.buf = s.buf[n:]
			}
		default:
			t.Fatalf("frame %d: IP protocol %v", i+1, proto)
		}
	}
	for k, s := range streams {
		if len(s.buf) != 0 {
			t.Errorf("TCP %v→%v: %d bytes left that are no whole SIP message", k[0], k[1], len(s.buf))
		}
	}
	return d
}

func (d *decoded) udp(t *testing.T, frame int, src, dst netip.AddrPort, b []byte) {
	t.Helper()
	switch {
	case src.Port() == 53 || dst.Port() == 53:
		var m layers.DNS
		if err := m.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("frame %d: DNS: %v", frame, err)
		}
		if len(m.Questions) != 1 {
			t.Fatalf("frame %d: %d DNS questions", frame, len(m.Questions))
		}
		d.dns = append(d.dns, seen{src, dst, "udp", string(b)})
		d.dnsMsgs = append(d.dnsMsgs, dnsSeen{src, dst, m.ID, m.QR, string(m.Questions[0].Name),
			uint16(m.Questions[0].Type), uint8(m.ResponseCode)})
	case bytes.HasPrefix(b, []byte("SIP/2.0 ")) || bytes.Contains(b[:min(len(b), 20)], []byte(" sip:")):
		if n := sipLen(b); n != len(b) {
			t.Fatalf("frame %d: SIP datagram of %d bytes holds a message of %d", frame, len(b), n)
		}
		d.sip = append(d.sip, seen{src, dst, "udp", string(b)})
	case len(b) == 172 && b[0] == 0x80 && (b[1]&0x7f == 0 || b[1]&0x7f == 8): // RTP, G.711
		d.rtp++
	default:
		if err := checkRTCP(b); err != nil {
			t.Fatalf("frame %d: UDP %v→%v is neither SIP, DNS nor RTCP: %v", frame, src, dst, err)
		}
		d.rtcp = append(d.rtcp, seen{src, dst, "udp", string(b)})
	}
}

// sipLen is the length of the SIP message at the start of b, or -1 when b
// does not hold a whole one yet.
func sipLen(b []byte) int {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return -1
	}
	cl := -1
	for _, line := range strings.Split(string(b[:end]), "\r\n")[1:] {
		name, value, _ := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			cl, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	if cl < 0 || end+4+cl > len(b) {
		return -1
	}
	return end + 4 + cl
}

// checkRTCP checks an RTCP compound packet: version 2, known packet types,
// lengths that add up to the datagram, SR or RR first (RFC 3550 6.1).
func checkRTCP(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("short: %d bytes", len(b))
	}
	for off, first := 0, true; off < len(b); first = false {
		if len(b)-off < 4 {
			return fmt.Errorf("trailing %d bytes", len(b)-off)
		}
		if b[off]>>6 != 2 {
			return fmt.Errorf("version %d at %d", b[off]>>6, off)
		}
		pt := b[off+1]
		if pt < 200 || pt > 204 || (first && pt != 200 && pt != 201) {
			return fmt.Errorf("packet type %d at %d", pt, off)
		}
		n := 4 * (int(binary.BigEndian.Uint16(b[off+2:])) + 1)
		if off+n > len(b) {
			return fmt.Errorf("length %d at %d past the end", n, off)
		}
		rc := int(b[off] & 0x1f)
		want := map[byte]int{200: 28 + 24*rc, 201: 8 + 24*rc}[pt]
		if want != 0 && n != want {
			return fmt.Errorf("packet type %d with %d report blocks is %d bytes, want %d", pt, rc, n, want)
		}
		off += n
	}
	return nil
}
