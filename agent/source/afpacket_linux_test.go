//go:build linux

package source

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/xhep/xhep/bpf"
)

// frame4 builds Ethernet/IPv4/(UDP|TCP) with zero checksums:
// eth(14) | 0x45 tos len id frag ttl proto csum src dst (20) | L4 | payload
func frame4(src, dst string, proto uint8, sp, dp uint16, payload string) []byte {
	l4len := 8
	if proto == 6 {
		l4len = 20
	}
	b := make([]byte, 14+20+l4len, 14+20+l4len+len(payload))
	copy(b, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0})
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len+len(payload)))
	ip[8], ip[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	l4 := b[34:]
	binary.BigEndian.PutUint16(l4, sp)
	binary.BigEndian.PutUint16(l4[2:], dp)
	if proto == 6 {
		l4[12] = 5 << 4
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(8+len(payload)))
	}
	return append(b, payload...)
}

// frame6 builds Ethernet/IPv6/UDP: eth(14) | ver..(4) len(2) nh(1) hl(1) src dst (40) | UDP | payload
func frame6(src, dst string, sp, dp uint16, payload string) []byte {
	b := make([]byte, 14+40+8, 62+len(payload))
	copy(b, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd})
	ip := b[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(8+len(payload)))
	ip[6], ip[7] = 17, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(ip[8:], s[:])
	copy(ip[24:], d[:])
	binary.BigEndian.PutUint16(b[54:], sp)
	binary.BigEndian.PutUint16(b[56:], dp)
	binary.BigEndian.PutUint16(b[58:], uint16(8+len(payload)))
	return append(b, payload...)
}

func TestClassicFilter(t *testing.T) {
	cfg := bpf.Config{
		Rules: bpf.Rules{
			SIPPorts:     bpf.MustParsePorts("5060-5061,5080-5090"),
			DNSPorts:     bpf.MustParsePorts("53"),
			SIPByContent: true,
			RTCP:         true,
		},
		Snaplen: 1500,
		Exclude: []netip.AddrPort{netip.MustParseAddrPort("10.9.9.9:5060"),
			netip.MustParseAddrPort("[2001:db8::99]:9060")},
	}
	_, vm := ClassicFilter(t, cfg)
	sip := "INVITE sip:bob@example.com SIP/2.0\r\n\r\n"
	tests := []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"sip udp 5060", frame4("10.0.0.1", "10.0.0.2", 17, 40000, 5060, sip), true},
		{"sip tcp src 5061", frame4("10.0.0.1", "10.0.0.2", 6, 5061, 40000, "x"), true},
		{"range 5085", frame4("10.0.0.1", "10.0.0.2", 17, 41000, 5085, "hello"), true},
		{"below range 5079", frame4("10.0.0.1", "10.0.0.2", 17, 41000, 5079, "hello"), false},
		{"dns", frame4("10.0.0.1", "10.0.0.2", 17, 41000, 53, "\x12\x34"), true},
		{"sip content udp", frame4("10.0.0.1", "10.0.0.2", 17, 41000, 42000, sip), true},
		{"sip status content tcp", frame4("10.0.0.1", "10.0.0.2", 6, 41000, 42000, "SIP/2.0 200 OK\r\n"), true},
		{"rtcp", frame4("10.0.0.1", "10.0.0.2", 17, 30001, 30003, "\x80\xc8\x00\x01abcd"), true},
		// Its length (7 words) past the datagram: not RTCP, as in the kernel.
		{"rtcp bad length", frame4("10.0.0.1", "10.0.0.2", 17, 30001, 30003, "\x80\xc8\x00\x06abcd"), false},
		{"sip extension method", frame4("10.0.0.1", "10.0.0.2", 17, 41000, 42000, "FOO sip:bob@example.com SIP/2.0\r\n\r\n"), true},
		{"rtp", frame4("10.0.0.1", "10.0.0.2", 17, 30000, 30002, "\x80\x00\x12\x34abcdefgh"), false},
		{"http", frame4("10.0.0.1", "10.0.0.2", 6, 41000, 80, "GET / HTTP/1.1\r\n"), false},
		{"exclude dst", frame4("10.0.0.1", "10.9.9.9", 17, 40000, 5060, sip), false},
		{"exclude src", frame4("10.9.9.9", "10.0.0.1", 17, 5060, 40000, sip), false},
		{"same host other port", frame4("10.0.0.1", "10.9.9.9", 17, 40000, 5061, sip), true},
		{"ipv6 sip", frame6("2001:db8::1", "2001:db8::2", 40000, 5060, sip), true},
		{"ipv6 exclude", frame6("2001:db8::1", "2001:db8::99", 40000, 9060, sip), false},
		{"ipv6 other", frame6("2001:db8::1", "2001:db8::2", 40000, 8080, "nope nope"), false},
		{"arp", append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 6}, make([]byte, 28)...), false},
		{"truncated", frame4("10.0.0.1", "10.0.0.2", 17, 40000, 5060, sip)[:30], false},
	}
	for _, tc := range tests {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := n > 0; got != tc.want {
			t.Errorf("%s: accepted %v (%d bytes), want %v", tc.name, got, n, tc.want)
		}
		if n > 0 && n != 1500 {
			t.Errorf("%s: accepts %d bytes, want the snap length 1500", tc.name, n)
		}
	}

	// RTP statistics on: every V=2 UDP payload passes (the media tracker
	// in userspace keeps those of SDP endpoints), other UDP does not.
	cfg.RTPStreams = 64
	_, vm = ClassicFilter(t, cfg)
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"rtp", frame4("10.0.0.1", "10.0.0.2", 17, 30000, 30002, "\x80\x00\x12\x34abcdefgh"), true},
		{"rtp marker pt 111", frame4("10.0.0.1", "10.0.0.2", 17, 30000, 30002, "\x80\xef\x12\x34abcdefgh"), true},
		{"rtcp", frame4("10.0.0.1", "10.0.0.2", 17, 30001, 30003, "\x80\xc8\x00\x06abcd"), true},
		{"ipv6 rtp", frame6("2001:db8::1", "2001:db8::2", 40000, 30000, "\x80\x08\x00\x01abcdefgh"), true},
		{"udp not v2", frame4("10.0.0.1", "10.0.0.2", 17, 41000, 42000, "hello"), false},
		{"tcp v2-looking", frame4("10.0.0.1", "10.0.0.2", 6, 41000, 42000, "\x80\x00\x12\x34abcdefgh"), false},
		{"sip still", frame4("10.0.0.1", "10.0.0.2", 17, 40000, 5060, sip), true},
	} {
		n, err := vm.Run(tc.frame)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := n > 0; got != tc.want {
			t.Errorf("rtp on, %s: accepted %v (%d bytes), want %v", tc.name, got, n, tc.want)
		}
	}
}

func TestAdmit(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
	deny := []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}
	tests := []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"allowed", frame4("10.1.1.1", "192.0.2.1", 17, 1, 5060, "x"), true},
		{"not allowed", frame4("192.0.2.2", "192.0.2.1", 17, 1, 5060, "x"), false},
		{"denied", frame4("10.1.2.1", "10.1.1.1", 17, 1, 5060, "x"), false},
		{"ipv6 not allowed", frame6("2001:db8::1", "2001:db8::2", 1, 5060, "x"), false},
		{"short", []byte{1, 2, 3}, false},
	}
	for _, tc := range tests {
		if got := admit(tc.frame, allow, deny); got != tc.want {
			t.Errorf("%s: admit = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !admit(frame6("2001:db8::1", "2001:db8::2", 1, 5060, "x"), nil, deny) {
		t.Errorf("no allow list: IPv6 frame outside deny refused")
	}
}

func TestMonoClock(t *testing.T) {
	var c monoClock
	c.sync()
	now := monoNow()
	got := c.unix(uint64(now))
	if d := got - timeNowNano(); d < -50e6 || d > 50e6 {
		t.Errorf("converted monotonic time is %v off the wall clock", d)
	}
	// A stepped wall clock is picked up once a converted time is more
	// than a second past the last measurement.
	c.offset -= 3600e9
	if got := c.unix(uint64(now)); got-timeNowNano() > -3500e9 {
		t.Fatalf("offset applied: %d", got)
	}
	if got := c.unix(uint64(monoNow() + 2e9)); got-timeNowNano() < 1e9 || got-timeNowNano() > 3e9 {
		t.Errorf("after resync, a time 2 s ahead converts to %v from now", got-timeNowNano())
	}
}

func timeNowNano() int64 { return time.Now().UnixNano() }
