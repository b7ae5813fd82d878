package packet

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xhep/xhep/agent/source"
)

const ts0 = int64(1_700_000_000_123_456_789)

var (
	invite  = sipMsg("INVITE", "", 120)
	options = sipMsg("OPTIONS", "", 0)
	ok200   = sipMsg("200 OK", "INVITE", 0)
	okOpt   = sipMsg("200 OK", "OPTIONS", 0)
	// rtcpSRSDES: an RTCP compound packet, SR with no report blocks, then
	// SDES with one CNAME item:
	//   80 c8 00 06  ssrc(4) ntp(8) rtp ts(4) pkts(4) octets(4)   SR, 28 bytes
	//   81 ca 00 03  ssrc(4) 01 04 'a' 'b' 'c' 'd' 00 00          SDES, 16 bytes
	rtcpSRSDES = cat(
		[]byte{0x80, 0xc8, 0x00, 0x06}, u32(0x11223344), make([]byte, 20),
		[]byte{0x81, 0xca, 0x00, 0x03}, u32(0x11223344), []byte{1, 4, 'a', 'b', 'c', 'd', 0, 0},
	)
	// dnsQuery: a DNS query for "a." type A: header (12) + question.
	dnsQuery = cat(u16(0x1234), u16(0x0100), u16(1), u16(0), u16(0), u16(0), []byte{1, 'a', 0}, u16(1), u16(1))
)

// sipUDP4 is the common inner packet: SIP over IPv4/UDP 10.0.0.1:5060 ->
// 10.0.0.2:5060.
func sipUDP4(p []byte) []byte { return ip4(17, "10.0.0.1", "10.0.0.2", udp(5060, 5060, p)) }

func sipUDP6(p []byte) []byte { return ip6(17, "2001:db8::1", "2001:db8::2", udp(5060, 5060, p)) }

func want4(class string, proto uint8, vlan uint16, p []byte) got {
	return got{class, proto, "10.0.0.1:5060", "10.0.0.2:5060", vlan, ts0, string(p)}
}

func want6(class string, proto uint8, p []byte) got {
	return got{class, proto, "[2001:db8::1]:5060", "[2001:db8::2]:5060", 0, ts0, string(p)}
}

// gopacketFrame builds Ethernet/802.1Q/IPv4/UDP with gopacket, as a cross
// check of the hand-made builders.
func gopacketFrame(t *testing.T, p []byte) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: netip.MustParseAddr("10.0.0.1").AsSlice(), DstIP: netip.MustParseAddr("10.0.0.2").AsSlice()}
	u := &layers.UDP{SrcPort: 5060, DstPort: 5060}
	if err := u.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4},
		ip, u, gopacket.Payload(p))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	cfgNoContent := DefaultConfig()
	cfgNoContent.SIPByContent = false
	cfgNoContent.RTCP = false
	cfgVXLAN := DefaultConfig()
	cfgVXLAN.VXLANPort = 8472 // Linux's old default, as the kernel filter's Rules say
	tests := []struct {
		name   string
		cfg    *Config
		frames []source.Frame
		want   []got
		stats  map[string]uint64
	}{
		{
			name:   "ethernet ipv4 udp sip",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(invite)))},
			want:   []got{want4("sip", 17, 0, invite)},
			stats:  map[string]uint64{"Link.ethernet": 1, "IPv4": 1, "UDP": 1, "Messages.sip": 1},
		},
		{
			name:   "ethernet padding after ip total length ignored",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, cat(eth(0x0800, sipUDP4(invite)), make([]byte, 6)))},
			want:   []got{want4("sip", 17, 0, invite)},
		},
		{
			name:   "gopacket ethernet dot1q ipv4 udp",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, gopacketFrame(t, invite))},
			want:   []got{want4("sip", 17, 42, invite)},
			stats:  map[string]uint64{"VLAN": 1, "QinQ": 0},
		},
		{
			name:   "qinq 88a8 then 8100: inner tag wins",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x88a8, cat(tag(200, 0x8100), tag(100, 0x0800), sipUDP4(invite))))},
			want:   []got{want4("sip", 17, 100, invite)},
			stats:  map[string]uint64{"VLAN": 1, "QinQ": 1},
		},
		{
			name:   "old qinq 9100",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x9100, cat(tag(300, 0x0800), sipUDP4(invite))))},
			want:   []got{want4("sip", 17, 300, invite)},
		},
		{
			name:   "ipv4 with options",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x0800, ip4x(17, "10.0.0.1", "10.0.0.2", 0, 0x4000, []byte{0x94, 4, 0, 0, 1, 1, 1, 0}, udp(5060, 5060, invite))))},
			want:   []got{want4("sip", 17, 0, invite)},
		},
		{
			name:   "ethernet ipv6 udp",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x86dd, sipUDP6(invite)))},
			want:   []got{want6("sip", 17, invite)},
			stats:  map[string]uint64{"IPv6": 1},
		},
		{
			name: "ipv6 extension headers hbh routing dstopts ah",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x86dd, ip6(0, "2001:db8::1", "2001:db8::2",
				ext6(43, 0, ext6(60, 1, ext6(51, 0, ah6(17, udp(5060, 5060, invite))))))))},
			want: []got{want6("sip", 17, invite)},
		},
		{
			name:   "ipv6 atomic fragment",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x86dd, ip6(44, "2001:db8::1", "2001:db8::2", frag6(17, 0, false, 7, udp(5060, 5060, invite)))))},
			want:   []got{want6("sip", 17, invite)},
		},
		{
			name:   "sll",
			frames: []source.Frame{frame(source.LinkSLL, ts0, cat(u16(0), u16(1), u16(6), macA, u16(0), u16(0x0800), sipUDP4(invite)))},
			want:   []got{want4("sip", 17, 0, invite)},
			stats:  map[string]uint64{"Link.sll": 1},
		},
		{
			name:   "sll2",
			frames: []source.Frame{frame(source.LinkSLL2, ts0, cat(u16(0x86dd), u16(0), u32(3), u16(1), []byte{4, 6}, macA, u16(0), sipUDP6(invite)))},
			want:   []got{want6("sip", 17, invite)},
			stats:  map[string]uint64{"Link.sll2": 1},
		},
		{
			name: "raw ipv4, ipv6, linktype ipv4 and ipv6",
			frames: []source.Frame{
				frame(source.LinkRaw, ts0, sipUDP4(invite)),
				frame(source.LinkRaw, ts0, sipUDP6(invite)),
				frame(source.LinkIPv4, ts0, sipUDP4(invite)),
				frame(source.LinkIPv6, ts0, sipUDP6(invite)),
			},
			want:  []got{want4("sip", 17, 0, invite), want6("sip", 17, invite), want4("sip", 17, 0, invite), want6("sip", 17, invite)},
			stats: map[string]uint64{"Link.raw": 4},
		},
		{
			name: "null little-endian AF_INET, big-endian AF_INET6 (macOS 30); loop network order",
			frames: []source.Frame{
				frame(source.LinkNull, ts0, cat([]byte{2, 0, 0, 0}, sipUDP4(invite))),
				frame(source.LinkNull, ts0, cat([]byte{0, 0, 0, 30}, sipUDP6(invite))),
				frame(source.LinkLoop, ts0, cat([]byte{0, 0, 0, 24}, sipUDP6(invite))),
				frame(source.LinkLoop, ts0, cat([]byte{0, 0, 0, 7}, sipUDP6(invite))),
			},
			want:  []got{want4("sip", 17, 0, invite), want6("sip", 17, invite), want6("sip", 17, invite)},
			stats: map[string]uint64{"Link.null": 2, "Link.loop": 2, "Other": 1},
		},
		{
			name: "pppoe session ipv4 and ipv6, ppp lcp skipped",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x8864, cat([]byte{0x11, 0, 0x12, 0x34}, u16(uint16(2+len(sipUDP4(invite)))), u16(0x0021), sipUDP4(invite)))),
				frame(source.LinkEthernet, ts0, eth(0x8864, cat([]byte{0x11, 0, 0x12, 0x34}, u16(uint16(2+len(sipUDP6(invite)))), u16(0x0057), sipUDP6(invite)))),
				frame(source.LinkEthernet, ts0, eth(0x8864, cat([]byte{0x11, 0, 0x12, 0x34}, u16(6), u16(0xc021), []byte{1, 1, 0, 4}))),
			},
			want:  []got{want4("sip", 17, 0, invite), want6("sip", 17, invite)},
			stats: map[string]uint64{"Tunnels.pppoe": 3, "Other": 1},
		},
		{
			name:   "mpls two labels",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x8847, cat([]byte{0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64}, sipUDP4(invite))))},
			want:   []got{want4("sip", 17, 0, invite)},
			stats:  map[string]uint64{"Tunnels.mpls": 1},
		},
		{
			name: "gre ipv4 plain and with checksum, key and sequence",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0), u16(0x0800), sipUDP4(invite))))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0xb000), u16(0x0800), u32(0), u32(77), u32(9), sipUDP4(invite))))),
			},
			want:  []got{want4("sip", 17, 0, invite), want4("sip", 17, 0, invite)},
			stats: map[string]uint64{"Tunnels.gre": 2, "IPv4": 4},
		},
		{
			name:   "gre transparent ethernet bridging with vlan inside",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x2000), u16(0x6558), u32(5), eth(0x8100, cat(tag(7, 0x0800), sipUDP4(invite)))))))},
			want:   []got{want4("sip", 17, 7, invite)},
			stats:  map[string]uint64{"Tunnels.gre": 1, "VLAN": 1},
		},
		{
			name: "erspan type I (no sequence) and type II with stripped tag",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0), u16(0x88be), eth(0x0800, sipUDP4(invite)))))),
				// ERSPAN II: ver 1, VLAN 55, COS 0, En 0b10, T 0, session 9; index 0.
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x88be), u32(1),
					u16(0x1000|55), u16(2<<11|9), u32(0), eth(0x0800, sipUDP4(invite)))))),
			},
			want:  []got{want4("sip", 17, 0, invite), want4("sip", 17, 55, invite)},
			stats: map[string]uint64{"Tunnels.erspan2": 2},
		},
		{
			name: "erspan type III ethernet, and ip frame type with platform subheader",
			frames: []source.Frame{
				// ver 2, vlan 0, session 3; timestamp; SGT 0, P 0, FT 0, hwid 0, D 0, Gra 0, O 0.
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x22eb), u32(1),
					u16(0x2000), u16(3), u32(12345), u32(0), eth(0x0800, sipUDP4(invite)))))),
				// FT 2 (IP), O 1: 8-byte platform subheader.
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x22eb), u32(1),
					u16(0x2000), u16(3), u32(12345), u16(0), []byte{2 << 2, 1}, make([]byte, 8), sipUDP4(invite))))),
			},
			want:  []got{want4("sip", 17, 0, invite), want4("sip", 17, 0, invite)},
			stats: map[string]uint64{"Tunnels.erspan3": 2},
		},
		{
			name:   "vxlan",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "192.0.2.1", "192.0.2.2", udp(40000, 4789, cat([]byte{0x08, 0, 0, 0}, u32(100<<8), eth(0x0800, sipUDP4(invite)))))))},
			want:   []got{want4("sip", 17, 0, invite)},
			stats:  map[string]uint64{"Tunnels.vxlan": 1, "UDP": 2},
		},
		{
			name: "vxlan on the Rules' port only",
			cfg:  &cfgVXLAN,
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "192.0.2.1", "192.0.2.2", udp(40000, 8472, cat([]byte{0x08, 0, 0, 0}, u32(100<<8), eth(0x0800, sipUDP4(invite))))))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "192.0.2.1", "192.0.2.2", udp(40000, 4789, cat([]byte{0x08, 0, 0, 0}, u32(100<<8), eth(0x0800, sipUDP4(invite))))))),
			},
			want:  []got{want4("sip", 17, 0, invite)},
			stats: map[string]uint64{"Tunnels.vxlan": 1, "UDP": 3, "Unclassified": 1},
		},
		{
			name: "ipip, ipv6 in ipv4, ipv4 in ipv6",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(4, "192.0.2.1", "192.0.2.2", sipUDP4(invite)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(41, "192.0.2.1", "192.0.2.2", sipUDP6(invite)))),
				frame(source.LinkEthernet, ts0, eth(0x86dd, ip6(4, "2001:db8::a", "2001:db8::b", sipUDP4(invite)))),
			},
			want:  []got{want4("sip", 17, 0, invite), want6("sip", 17, invite), want4("sip", 17, 0, invite)},
			stats: map[string]uint64{"Tunnels.ipip": 2, "Tunnels.ipv6ip": 1},
		},
		{
			name: "sctp two whole data chunks, one fragment, one sack",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x0800, ip4(132, "10.0.0.1", "10.0.0.2", cat(
				u16(5060), u16(5060), u32(0xdeadbeef), u32(0),
				[]byte{0, 3}, u16(uint16(16+len(invite))), u32(1), u16(0), u16(0), u32(0), invite, make([]byte, (4-len(invite)%4)%4),
				[]byte{0, 3}, u16(uint16(16+len(ok200))), u32(2), u16(0), u16(1), u32(0), ok200, make([]byte, (4-len(ok200)%4)%4),
				[]byte{0, 2}, u16(20), u32(3), u16(0), u16(2), u32(0), []byte("INVI"),
				[]byte{3, 0}, u16(16), u32(3), u32(0), u16(0), u16(0),
			))))},
			want:  []got{want4("sip", 132, 0, invite), want4("sip", 132, 0, ok200)},
			stats: map[string]uint64{"SCTP": 1, "SCTPChunks": 3, "SCTPFragments": 1},
		},
		{
			name: "sctp user message in three fragments, a retransmitted one, and one missing its middle",
			frames: func() []source.Frame {
				chunk := func(flags uint8, tsn uint32, sid uint16, p []byte) []byte {
					return cat([]byte{0, flags}, u16(uint16(16+len(p))), u32(tsn), u16(sid), u16(0), u32(0), p, make([]byte, (4-len(p)%4)%4))
				}
				pkt := func(c []byte) source.Frame {
					return frame(source.LinkEthernet, ts0, eth(0x0800, ip4(132, "10.0.0.1", "10.0.0.2", cat(u16(5060), u16(5060), u32(1), u32(0), c))))
				}
				return []source.Frame{
					pkt(chunk(2, 10, 1, invite[:100])),
					pkt(chunk(0, 11, 1, invite[100:200])),
					pkt(chunk(0, 11, 1, invite[100:200])),
					pkt(chunk(1, 12, 1, invite[200:])),
					pkt(chunk(2, 20, 2, invite[:100])),
					pkt(chunk(1, 22, 2, invite[200:])),
				}
			}(),
			want:  []got{want4("sip", 132, 0, invite)},
			stats: map[string]uint64{"SCTPFragments": 6, "SCTPReassembled": 1, "SCTPDropped": 1},
		},
		{
			name: "dns on 53, rtcp on any port, sip by content on any port, other udp",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(40000, 53, dnsQuery)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, rtcpSRSDES)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(53309, 52380, invite)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(53309, 52380, []byte("INVITE is a word, not SIP\r\n"))))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, rtcpSRSDES[:40])))),
			},
			want: []got{
				{"dns", 17, "10.0.0.1:40000", "10.0.0.2:53", 0, ts0, string(dnsQuery)},
				{"rtcp", 17, "10.0.0.1:20001", "10.0.0.2:30001", 0, ts0, string(rtcpSRSDES)},
				{"sip", 17, "10.0.0.1:53309", "10.0.0.2:52380", 0, ts0, string(invite)},
			},
			stats: map[string]uint64{"Messages.dns": 1, "Messages.rtcp": 1, "Messages.sip": 1, "Unclassified": 2},
		},
		{
			// A real capture: sub-packet lengths sum to 2 bytes less than
			// the datagram. Wireshark decodes it; the trailing bytes are
			// counted. Four or more trailing bytes (SRTCP's index and tag)
			// are not RTCP.
			name: "rtcp with trailing bytes",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, cat(rtcpSRSDES, []byte{0, 0}))))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, cat(rtcpSRSDES, []byte{0xde, 0xad, 0xbe}))))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, cat(rtcpSRSDES, []byte{0x80, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x11, 0x22, 0x33, 0x44}))))),
			},
			want: []got{
				{"rtcp", 17, "10.0.0.1:20001", "10.0.0.2:30001", 0, ts0, string(cat(rtcpSRSDES, []byte{0, 0}))},
				{"rtcp", 17, "10.0.0.1:20001", "10.0.0.2:30001", 0, ts0, string(cat(rtcpSRSDES, []byte{0xde, 0xad, 0xbe}))},
			},
			stats: map[string]uint64{"Messages.rtcp": 2, "RTCPTrailing": 2, "RTCPTrailingBytes": 5, "Unclassified": 1},
		},
		{
			name: "content and rtcp heuristics off",
			cfg:  &cfgNoContent,
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(20001, 30001, rtcpSRSDES)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(53309, 52380, invite)))),
			},
			stats: map[string]uint64{"Unclassified": 2},
		},
		{
			name: "keep-alives and junk on sip ports",
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4([]byte("\r\n")))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4([]byte("\r\n\r\n")))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4([]byte("hello")))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4([]byte{0, 0, 0, 0}))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(nil))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(bytes.Repeat([]byte("\r\n"), 20)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(rtcpSRSDES))),
			},
			stats: map[string]uint64{"KeepAlives": 6, "Junk": 2, "Messages.sip": 0},
		},
		{
			name:   "line ends before a message on a sip port are cut off",
			frames: []source.Frame{frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(cat([]byte("\r\n"), invite))))},
			want:   []got{want4("sip", 17, 0, invite)},
		},
		{
			name: "filters: method of request and of response cseq, ip, payload",
			cfg: func() *Config {
				c := DefaultConfig()
				c.DropMethods = [][]byte{[]byte("OPTIONS")}
				c.DropIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:bad::/48")}
				c.DropPayload = [][]byte{[]byte("friendly-scanner")}
				return &c
			}(),
			frames: []source.Frame{
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(options))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(okOpt))),
				frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "192.0.2.9", udp(5060, 5060, invite)))),
				frame(source.LinkEthernet, ts0, eth(0x86dd, ip6(17, "2001:db8:bad::1", "2001:db8::2", udp(5060, 5060, invite)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(bytes.Replace(invite, []byte("Max-Forwards"), []byte("User-Agent: friendly-scanner\r\nMax-Forwards"), 1)))),
				frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(ok200))),
			},
			want:  []got{want4("sip", 17, 0, ok200)},
			stats: map[string]uint64{"Filtered.method": 2, "Filtered.ip": 2, "Filtered.payload": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st, _ := run(t, tt.cfg, tt.frames...)
			check(t, tt.want, out, tt.stats, st)
		})
	}
}

// TestDecodeMalformed feeds broken input at every layer: nothing is
// emitted, nothing panics, and the right reason is counted.
func TestDecodeMalformed(t *testing.T) {
	good := eth(0x0800, sipUDP4(invite))
	ipip := sipUDP4(invite)
	for range maxDepth + 1 {
		ipip = ip4(4, "192.0.2.1", "192.0.2.2", ipip)
	}
	tests := []struct {
		name   string
		link   uint16
		data   []byte
		reason string
	}{
		{"ethernet short", source.LinkEthernet, good[:10], "truncated"},
		{"vlan tag cut", source.LinkEthernet, eth(0x8100, []byte{0, 1}), "truncated"},
		{"too many vlan tags", source.LinkEthernet, eth(0x8100, bytes.Repeat(tag(1, 0x8100), 10)), "bad_link"},
		{"unsupported link", 999, good, "unsupported_link"},
		{"sll short", source.LinkSLL, good[:15], "truncated"},
		{"sll2 short", source.LinkSLL2, good[:19], "truncated"},
		{"null short", source.LinkNull, []byte{2, 0}, "truncated"},
		{"raw empty", source.LinkRaw, nil, "truncated"},
		{"ipv4 short", source.LinkRaw, sipUDP4(invite)[:19], "truncated"},
		{"ipv4 ihl 4", source.LinkRaw, func() []byte { b := sipUDP4(invite); b[0] = 0x44; return b }(), "bad_ipv4"},
		{"ipv4 total length below ihl", source.LinkRaw, func() []byte { b := sipUDP4(invite); b[2], b[3] = 0, 10; return b }(), "bad_ipv4"},
		{"ipv4 snapped (total length beyond capture)", source.LinkRaw, sipUDP4(invite)[:200], "truncated"},
		{"ipv4 version 5 under ethertype ipv4", source.LinkEthernet, eth(0x0800, func() []byte { b := sipUDP4(invite); b[0] = 0x55; return b }()), "bad_ipv4"},
		{"ipv6 short", source.LinkIPv6, sipUDP6(invite)[:39], "truncated"},
		{"ipv6 bad version", source.LinkEthernet, eth(0x86dd, func() []byte { b := sipUDP6(invite); b[0] = 0x40; return b }()), "bad_ipv6"},
		{"ipv6 payload length beyond capture", source.LinkRaw, sipUDP6(invite)[:100], "truncated"},
		{"ipv6 ext header length beyond packet", source.LinkRaw, ip6(0, "::1", "::2", []byte{17, 9, 0, 0, 0, 0, 0, 0}), "truncated"},
		{"ipv6 ext header loop", source.LinkRaw, ip6(60, "::1", "::2", bytes.Repeat([]byte{60, 0, 0, 0, 0, 0, 0, 0}, 20)), "bad_ipv6"},
		{"udp short", source.LinkRaw, ip4(17, "10.0.0.1", "10.0.0.2", []byte{1, 2, 3}), "truncated"},
		{"udp length 4", source.LinkRaw, ip4(17, "10.0.0.1", "10.0.0.2", cat(u16(5060), u16(5060), u16(4), u16(0))), "bad_udp"},
		{"udp length beyond ip", source.LinkRaw, ip4(17, "10.0.0.1", "10.0.0.2", cat(u16(5060), u16(5060), u16(100), u16(0), invite[:50])), "truncated"},
		{"dns shorter than header", source.LinkRaw, ip4(17, "10.0.0.1", "10.0.0.2", udp(53, 40000, []byte{1, 2, 3})), "bad_dns"},
		{"tcp short", source.LinkRaw, ip4(6, "10.0.0.1", "10.0.0.2", make([]byte, 19)), "truncated"},
		{"tcp data offset 4", source.LinkRaw, ip4(6, "10.0.0.1", "10.0.0.2", func() []byte { b := tcp(5060, 5060, 1, fACK, nil); b[12] = 4 << 4; return b }()), "bad_tcp"},
		{"tcp data offset beyond segment", source.LinkRaw, ip4(6, "10.0.0.1", "10.0.0.2", func() []byte { b := tcp(5060, 5060, 1, fACK, nil); b[12] = 15 << 4; return b }()), "truncated"},
		{"sctp short", source.LinkRaw, ip4(132, "10.0.0.1", "10.0.0.2", make([]byte, 11)), "truncated"},
		{"sctp chunk length 2", source.LinkRaw, ip4(132, "10.0.0.1", "10.0.0.2", cat(make([]byte, 12), []byte{0, 3, 0, 2})), "bad_sctp"},
		{"sctp data chunk length 8", source.LinkRaw, ip4(132, "10.0.0.1", "10.0.0.2", cat(make([]byte, 12), []byte{0, 3, 0, 8}, make([]byte, 4))), "bad_sctp"},
		{"sctp chunk beyond packet", source.LinkRaw, ip4(132, "10.0.0.1", "10.0.0.2", cat(make([]byte, 12), []byte{0, 3, 0, 200}, make([]byte, 20))), "truncated"},
		{"gre version 1", source.LinkRaw, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(1), u16(0x880b), sipUDP4(invite))), "bad_tunnel"},
		{"gre options beyond packet", source.LinkRaw, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0xb000), u16(0x0800), u32(0))), "truncated"},
		{"erspan ii bad version", source.LinkRaw, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x88be), u32(1), u32(0x3000_0000), u32(0), eth(0x0800, sipUDP4(invite)))), "bad_tunnel"},
		{"erspan iii frame type 5", source.LinkRaw, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x22eb), u32(1), u16(0x2000), u16(3), u32(0), u16(0), []byte{5 << 2, 0}, sipUDP4(invite))), "bad_tunnel"},
		{"erspan iii short", source.LinkRaw, ip4(47, "192.0.2.1", "192.0.2.2", cat(u16(0x1000), u16(0x22eb), u32(1), u16(0x2000))), "truncated"},
		{"vxlan without I flag", source.LinkRaw, ip4(17, "192.0.2.1", "192.0.2.2", udp(1, 4789, cat(make([]byte, 8), eth(0x0800, sipUDP4(invite))))), "bad_tunnel"},
		{"pppoe bad version", source.LinkEthernet, eth(0x8864, cat([]byte{0x21, 0, 0, 1}, u16(100), u16(0x0021), sipUDP4(invite))), "bad_link"},
		{"pppoe length beyond frame", source.LinkEthernet, eth(0x8864, cat([]byte{0x11, 0, 0, 1}, u16(2000), u16(0x0021), sipUDP4(invite))), "truncated"},
		{"mpls without bottom of stack", source.LinkEthernet, eth(0x8847, bytes.Repeat([]byte{0, 0x10, 0, 64}, 9)), "bad_link"},
		{"tunnel nesting beyond bound", source.LinkRaw, ipip, "tunnel_depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st, _ := run(t, nil, frame(tt.link, ts0, tt.data))
			if len(out) != 0 {
				t.Errorf("emitted %d messages from bad input", len(out))
			}
			want := map[string]uint64{"Errors." + tt.reason: 1}
			if diff := cmp.Diff(want, counters(st, want)); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewDecoderBadConfig(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.MaxFragments = 0 },
		func(c *Config) { c.MaxStreamBytes = 10 },
		func(c *Config) { c.MaxTotalStreamBytes = c.MaxStreamBytes - 1 },
		func(c *Config) { c.FragTimeout = 0 },
		func(c *Config) { c.DropMethods = [][]byte{nil} },
		func(c *Config) { c.DropIPs = []netip.Prefix{{}} },
	} {
		c := DefaultConfig()
		mod(&c)
		if _, err := NewDecoder(c); err == nil {
			t.Errorf("NewDecoder accepted a bad config %+v", c)
		}
	}
}

func TestStatsEach(t *testing.T) {
	var st Stats
	st.Frames = 3
	st.Link[LinkSLL2] = 2
	st.Errors[ReasonBadDNS] = 1
	st.Tunnels[TunnelERSPAN3] = 4
	got := map[string]uint64{}
	n := 0
	st.Each(func(name string, v uint64) {
		n++
		if v != 0 {
			got[name] = v
		}
	})
	want := map[string]uint64{"Frames": 3, "Link.sll2": 2, "Errors.bad_dns": 1, "Tunnels.erspan3": 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Each (-want +got):\n%s", diff)
	}
	if n < int(NumReasons)+int(NumLinks)+int(NumTunnels)+int(NumClasses)+int(NumFilters) {
		t.Errorf("Each visited only %d counters", n)
	}
	for _, s := range []fmt.Stringer{Class(99), Link(99), Tunnel(99), Reason(99), Filter(99)} {
		if !strings.HasSuffix(s.String(), "?") {
			t.Errorf("out-of-range String() = %q", s.String())
		}
	}
}
