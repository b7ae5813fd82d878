//go:build linux

package bpf

import (
	"errors"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

const (
	xdpPass = 2
	tcOK    = 0
)

type harness struct {
	f  *Filter
	rd *Reader
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	requireBPF(t)
	f, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rd, err := NewReader(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return &harness{f: f, rd: rd}
}

type captured struct {
	Class   uint8
	Egress  bool
	OrigLen uint32
	Frame   []byte
}

// run feeds one frame through the XDP (or TC) program and returns the
// action and what landed in the ring buffer.
func (h *harness) run(t *testing.T, frame []byte, tc bool) (uint32, []captured) {
	t.Helper()
	ret, got, err := h.try(t, frame, tc)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return ret, got
}

// try is run returning the test run's error instead of failing.
func (h *harness) try(t *testing.T, frame []byte, tc bool) (uint32, []captured, error) {
	t.Helper()
	prog := h.f.XDPProgram()
	if tc {
		prog = h.f.TCProgram()
	}
	ret, err := prog.Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		return 0, nil, err
	}
	return ret, h.drain(t), nil
}

func (h *harness) drain(t *testing.T) []captured {
	t.Helper()
	var out []captured
	for {
		h.rd.SetDeadline(time.Now())
		rec, err := h.rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("read ring: %v", err)
		}
		hdr, data, err := ParseEvent(rec)
		if err != nil {
			t.Fatalf("parse event: %v", err)
		}
		out = append(out, captured{Class: hdr.Class, Egress: hdr.Egress, OrigLen: hdr.OrigLen,
			Frame: append([]byte(nil), data...)})
	}
}

func one(frame []byte, class uint8, egress bool) []captured {
	return []captured{{Class: class, Egress: egress, OrigLen: uint32(len(frame)), Frame: frame}}
}

func defaultCfg() Config {
	return Config{
		Rules: Rules{
			SIPPorts:     MustParsePorts("5060-5061,5080-5090"),
			DNSPorts:     MustParsePorts("53"),
			SIPByContent: true,
			RTCP:         true,
		},
		Exclude:   []netip.AddrPort{netip.MustParseAddrPort("10.9.9.9:5060")},
		RingBytes: 1 << 20,
	}
}

func TestFilterMatch(t *testing.T) {
	h := newHarness(t, defaultCfg())
	sip := sipInvite(0)
	rtcpSR := []byte{0x80, 200, 0, 6, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	rtcpBadLen := []byte{0x80, 200, 0, 60, 1, 2, 3, 4}
	rtp := []byte{0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff}
	http := []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
	dns := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}
	inner := sipFrameUDP(400, 5060, 5060)
	innerNoMatch := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, rtp), v4opts{}))
	innerIP := inner[14:]

	tests := []struct {
		name  string
		frame []byte
		class uint8 // 0: not captured
	}{
		{"sip udp 5060", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(40000, 5060, sip), v4opts{})), ClassSIP},
		{"sip tcp 5061", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(5061, 40000, sip), v4opts{})), ClassSIP},
		{"sctp 5060", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 132, sctpPkt(5060, 5060, sip), v4opts{})), ClassSIP},
		{"port range 5085", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(5085, 41000, []byte("hello")), v4opts{})), ClassSIP},
		{"sip by content udp 40000", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(40000, 40002, sip), v4opts{})), ClassSIPContent},
		{"sip status by content tcp", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(40010, 40012, []byte("SIP/2.0 200 OK\r\n\r\n")), v4opts{})), ClassSIPContent},
		{"rtcp sr", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30001, 30003, rtcpSR), v4opts{})), ClassRTCP},
		{"rtcp length beyond datagram", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30001, 30003, rtcpBadLen), v4opts{})), 0},
		{"dns 53", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.53", 17, udpPkt(41000, 53, dns), v4opts{})), ClassDNS},
		{"rtp", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, rtp), v4opts{})), 0},
		{"http", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(41000, 80, http), v4opts{})), 0},
		{"arp", ethFrame(0x0806, make([]byte, 28)), 0},
		{"vlan", vlanFrame(sipFrameUDP(300, 5060, 5060), [2]uint16{0x8100, 100}), ClassSIP},
		{"qinq", vlanFrame(sipFrameUDP(300, 5060, 5060), [2]uint16{0x88a8, 10}, [2]uint16{0x8100, 100}), ClassSIP},
		{"ipv4 options", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(40000, 5060, sip),
			v4opts{options: []byte{0x94, 4, 0, 0, 1, 1, 1, 0}})), ClassSIP},
		{"ipv6", ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 17, udpPkt(40000, 5060, sip))), ClassSIP},
		{"ipv6 ext headers", ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 0,
			append(append(ipv6Opts(60), ipv6Opts(17)...), udpPkt(40000, 5060, sip)...))), ClassSIP},
		{"ipv6 ext headers sip by content", ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 0,
			append(ipv6Opts(6), tcpPkt(40020, 40022, sip)...))), ClassSIPContent},
		{"gre ip", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47, append(greHdr(0x0800, false), innerIP...), v4opts{})), ClassSIP},
		{"gre teb", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47, append(greHdr(0x6558, false), inner...), v4opts{})), ClassSIP},
		{"erspan ii", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47,
			append(append(greHdr(0x88be, true), 0x10, 0x64, 0, 1, 0, 0, 0, 0), inner...), v4opts{})), ClassSIP},
		{"erspan iii", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47,
			append(append(greHdr(0x22eb, true), 0x20, 0x64, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), inner...), v4opts{})), ClassSIP},
		{"erspan ii no match inside", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47,
			append(append(greHdr(0x88be, true), 0x10, 0x64, 0, 1, 0, 0, 0, 0), innerNoMatch...), v4opts{})), 0},
		{"vxlan", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 17, udpPkt(50000, 4789, append(vxlanHdr(), inner...)), v4opts{})), ClassSIP},
		{"ipip", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 4, innerIP, v4opts{})), ClassSIP},
		{"ip6 in ip6", ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 41,
			ipv6Pkt("2001:db8:1::1", "2001:db8:1::2", 17, udpPkt(40000, 5060, sip)))), ClassSIP},
		{"exclude hep destination", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.9.9.9", 17, udpPkt(40000, 5060, sip), v4opts{})), 0},
		{"exclude hep source", ethFrame(0x0800, ipv4Pkt("10.9.9.9", "10.0.0.1", 17, udpPkt(5060, 40000, sip), v4opts{})), 0},
		{"truncated ipv4", ethFrame(0x0800, []byte{0x45, 0, 0, 40, 0, 0}), 0}, // XDP only: TC test runs refuse it
		{"ipv4 options beyond frame", func() []byte {
			b := sipFrameUDP(200, 5060, 5060)[:14+20+6]
			b[14] = 0x4f
			return b
		}(), 0},
		{"truncated udp", ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(40000, 5060, nil)[:4], v4opts{})), 0},
		{"bad ihl", func() []byte {
			b := sipFrameUDP(200, 5060, 5060)
			b[14] = 0x44
			return b
		}(), 0},
		{"bad udp length", func() []byte {
			b := sipFrameUDP(200, 5060, 5060)
			be16(b[14+20+4:], 3)
			return b
		}(), 0},
		{"truncated vlan", vlanFrame(ethFrame(0x0800, nil), [2]uint16{0x8100, 1})[:16], 0},
		{"truncated ipv6 ext", ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 0, []byte{17, 0, 1})), 0},
		{"truncated gre", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47, []byte{0}, v4opts{})), 0},
		{"gre truncated inner", ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 47, append(greHdr(0x6558, false), inner[:20]...), v4opts{})), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, egress := range []bool{false, true} {
				if egress && len(tc.frame) < 14+20 {
					continue // the kernel's skb test run wants a whole IPv4 header
				}
				act, got := h.run(t, tc.frame, egress)
				wantAct := uint32(xdpPass)
				if egress {
					wantAct = tcOK
				}
				if act != wantAct {
					t.Errorf("egress=%v: action %d, want %d", egress, act, wantAct)
				}
				var want []captured
				if tc.class != 0 {
					want = one(tc.frame, tc.class, egress)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("egress=%v: captured (-want +got):\n%s", egress, diff)
				}
			}
		})
	}
}

func TestFilterCounters(t *testing.T) {
	h := newHarness(t, defaultCfg())
	frames := [][]byte{
		sipFrameUDP(300, 5060, 5060),
		ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.9.9.9", 17, udpPkt(40000, 5060, sipInvite(0)), v4opts{})),
		ethFrame(0x0800, []byte{0x45, 0, 0, 40, 0, 0}),
		ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.53", 17, udpPkt(41000, 53, []byte("xxxxxxxxxxxx")), v4opts{})),
	}
	for _, fr := range frames {
		h.run(t, fr, false)
	}
	got, err := h.f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	want := Counters{Seen: 4, SIP: 1, DNS: 1, Captured: 2, ParseErrors: 1, Excluded: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestFilterFragments(t *testing.T) {
	h := newHarness(t, defaultCfg())
	sip := sipInvite(0)
	// An IPv4 datagram of a UDP SIP message split in two: the first
	// fragment carries the UDP header, the later one only payload.
	udp := udpPkt(40000, 5060, sip)
	first := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udp[:104], v4opts{id: 0x4242, mf: true}))
	later := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udp[104:], v4opts{id: 0x4242, fragOff: 13}))
	orphan := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udp[104:], v4opts{id: 0x4343, fragOff: 13}))
	firstNoMatch := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, make([]byte, 200))[:104], v4opts{id: 0x4444, mf: true}))
	laterNoMatch := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, make([]byte, 104), v4opts{id: 0x4444, fragOff: 13}))

	u6 := udpPkt(40000, 5060, sip)
	first6 := ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 44, append(ipv6Frag(17, 0, true, 77), u6[:104]...)))
	later6 := ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 44, append(ipv6Frag(17, 13, false, 77), u6[104:]...)))
	orphan6 := ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 44, append(ipv6Frag(17, 13, false, 78), u6[104:]...)))

	// Trains in reverse order: the later fragment first.
	revFirst := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udp[:104], v4opts{id: 0x4545, mf: true}))
	revLater := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udp[104:], v4opts{id: 0x4545, fragOff: 13}))
	revFirstNoMatch := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, make([]byte, 200))[:104], v4opts{id: 0x4646, mf: true}))
	revLaterNoMatch := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, make([]byte, 104), v4opts{id: 0x4646, fragOff: 13}))
	revFirst6 := ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 44, append(ipv6Frag(17, 0, true, 79), u6[:104]...)))
	revLater6 := ethFrame(0x86dd, ipv6Pkt("2001:db8::1", "2001:db8::2", 44, append(ipv6Frag(17, 13, false, 79), u6[104:]...)))
	tcpLater := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, make([]byte, 104), v4opts{id: 0x4747, fragOff: 13}))

	steps := []struct {
		name  string
		frame []byte
		class uint8
	}{
		// A later fragment nothing has announced goes up early: its
		// first fragment may follow (a train in reverse order).
		{"later before any first", orphan, ClassFragmentEarly},
		{"first", first, ClassSIP},
		{"later", later, ClassFragment},
		{"other datagram's later", orphan, ClassFragmentEarly},
		// In order and not SIP: neither goes up.
		{"non-matching first", firstNoMatch, 0},
		{"its later", laterNoMatch, 0},
		{"ipv6 first", first6, ClassSIP},
		{"ipv6 later", later6, ClassFragment},
		{"ipv6 orphan", orphan6, ClassFragmentEarly},
		// Reverse order, SIP: the later one early, then the first as SIP.
		{"reverse: later", revLater, ClassFragmentEarly},
		{"reverse: first", revFirst, ClassSIP},
		// Reverse order, not SIP: the first follows its early fragment,
		// so the agent can complete the datagram and drop it.
		{"reverse non-matching: later", revLaterNoMatch, ClassFragmentEarly},
		{"reverse non-matching: first", revFirstNoMatch, ClassFragmentEarly},
		{"reverse ipv6: later", revLater6, ClassFragmentEarly},
		{"reverse ipv6: first", revFirst6, ClassSIP},
		// Only UDP fragments go up early.
		{"tcp later", tcpLater, 0},
	}
	for _, s := range steps {
		_, got := h.run(t, s.frame, false)
		var want []captured
		if s.class != 0 {
			want = one(s.frame, s.class, false)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: captured (-want +got):\n%s", s.name, diff)
		}
	}
	c, err := h.f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.FragTracked != 4 || c.Fragment != 2 || c.FragEarly != 6 || c.FragEarlyLimited != 0 {
		t.Errorf("counters: FragTracked %d Fragment %d FragEarly %d limited %d, want 4, 2, 6, 0",
			c.FragTracked, c.Fragment, c.FragEarly, c.FragEarlyLimited)
	}
}

// TestFilterFragmentsEarlyBudget: early fragments are bounded per CPU
// and second, the rest counted; -1 turns them off.
func TestFilterFragmentsEarlyBudget(t *testing.T) {
	udp := udpPkt(40000, 5060, sipInvite(0))
	orphan := func(id uint16) []byte {
		return ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udp[104:], v4opts{id: id, fragOff: 13}))
	}
	for _, tt := range []struct {
		rate              int
		captured, limited uint64
	}{{3, 3, 5}, {-1, 0, 0}} {
		cfg := defaultCfg()
		cfg.FragEarlyRate = tt.rate
		h := newHarness(t, cfg)
		n := 0
		// The budget is per CPU: run every frame on the same one. The
		// eight runs take far less than the one-second window.
		runtime.LockOSThread()
		var old unix.CPUSet
		unix.SchedGetaffinity(0, &old)
		var pin unix.CPUSet
		for cpu := 0; cpu < 1024; cpu++ {
			if old.IsSet(cpu) {
				pin.Set(cpu)
				break
			}
		}
		if err := unix.SchedSetaffinity(0, &pin); err != nil {
			t.Fatalf("pin to one CPU: %v", err)
		}
		for i := range 8 {
			_, got := h.run(t, orphan(uint16(0x5000+i)), false)
			n += len(got)
		}
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
		c, err := h.f.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if uint64(n) != tt.captured || c.FragEarly != tt.captured || c.FragEarlyLimited != tt.limited {
			t.Errorf("rate %d: captured %d (counter %d), limited %d; want %d, %d", tt.rate, n, c.FragEarly,
				c.FragEarlyLimited, tt.captured, tt.limited)
		}
	}
}

func TestFilterFlow(t *testing.T) {
	h := newHarness(t, defaultCfg())
	invite := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(40100, 40200, sipInvite(0)), v4opts{}))
	cont := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(40100, 40200, []byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n")), v4opts{}))
	reply := ethFrame(0x0800, ipv4Pkt("10.0.0.2", "10.0.0.1", 6, tcpPkt(40200, 40100, []byte("\r\n\r\n keepalive")), v4opts{}))
	other := ethFrame(0x0800, ipv4Pkt("10.0.0.2", "10.0.0.1", 6, tcpPkt(40201, 40100, []byte("not sip, other flow")), v4opts{}))

	steps := []struct {
		name  string
		frame []byte
		tc    bool
		class uint8
	}{
		{"continuation before the flow is known", cont, false, 0},
		{"invite by content", invite, false, ClassSIPContent},
		{"continuation", cont, false, ClassFlow},
		{"reverse direction on egress", reply, true, ClassFlow},
		{"other flow", other, false, 0},
	}
	for _, s := range steps {
		_, got := h.run(t, s.frame, s.tc)
		var want []captured
		if s.class != 0 {
			want = one(s.frame, s.class, s.tc)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: captured (-want +got):\n%s", s.name, diff)
		}
	}
}

func TestFilterAllowDeny(t *testing.T) {
	cfg := defaultCfg()
	cfg.Allow = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8:1::/48")}
	cfg.Deny = []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}
	h := newHarness(t, cfg)
	sip := sipInvite(0)
	tests := []struct {
		name     string
		src, dst string
		want     bool
	}{
		{"allowed dst", "192.0.2.1", "10.1.1.1", true},
		{"allowed src", "10.1.1.1", "192.0.2.1", true},
		{"outside allow", "192.0.2.1", "192.0.2.2", false},
		{"denied inside allow", "10.1.2.3", "10.1.1.1", false},
		{"v6 allowed", "2001:db8:1::5", "2001:db8:9::1", true},
		{"v6 outside", "2001:db8:2::5", "2001:db8:9::1", false},
	}
	for _, tc := range tests {
		var fr []byte
		if netip.MustParseAddr(tc.src).Is4() {
			fr = ethFrame(0x0800, ipv4Pkt(tc.src, tc.dst, 17, udpPkt(40000, 5060, sip), v4opts{}))
		} else {
			fr = ethFrame(0x86dd, ipv6Pkt(tc.src, tc.dst, 17, udpPkt(40000, 5060, sip)))
		}
		_, got := h.run(t, fr, false)
		if (len(got) == 1) != tc.want {
			t.Errorf("%s: captured %d frames, want capture %v", tc.name, len(got), tc.want)
		}
	}
	c, err := h.f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.Filtered != 3 {
		t.Errorf("Filtered = %d, want 3", c.Filtered)
	}
}

func TestFilterSnaplenAndSizes(t *testing.T) {
	for _, wake := range []int{0, 4096} {
		cfg := defaultCfg()
		cfg.Snaplen = 1000
		cfg.WakeupBytes = wake
		h := newHarness(t, cfg)
		for _, size := range []int{60, 100, 128 + 14, 255, 600, 768, 769, 1000, 1514, 3000} {
			fr := sipFrameUDP(size, 5060, 5060)
			_, got := h.run(t, fr, false)
			want := one(fr, ClassSIP, false)
			if size > 1000 {
				want[0].Frame = fr[:1000]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("wakeup=%d size %d (-want +got):\n%s", wake, size, diff)
			}
		}
	}
}

func TestFilterAFXDPNoSocket(t *testing.T) {
	for _, drop := range []bool{false, true} {
		cfg := defaultCfg()
		cfg.AFXDP = true
		cfg.DropUnmatched = drop
		h := newHarness(t, cfg)
		miss := uint32(xdpPass)
		if drop {
			miss = 1 // XDP_DROP
		}
		// No socket registered: a match cannot be redirected and takes the miss action.
		act, _ := h.run(t, sipFrameUDP(300, 5060, 5060), false)
		if act != miss {
			t.Errorf("drop=%v: matched frame without socket: action %d, want %d", drop, act, miss)
		}
		act, _ = h.run(t, ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 6, tcpPkt(1, 80, []byte("GET / HTTP/1.1\r\n")), v4opts{})), false)
		if act != miss {
			t.Errorf("drop=%v: unmatched frame: action %d, want %d", drop, act, miss)
		}
		c, _ := h.f.Counters()
		if c.RedirectErrors != 1 {
			t.Errorf("RedirectErrors = %d, want 1", c.RedirectErrors)
		}
	}
}

func TestCountCPUList(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-3": 4, "0-3,6": 5, "0,2,4-5": 4, "": 1, "x": 1} {
		if got := countCPUList(in); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestVXLANPortFromRules: the kernel decapsulates VXLAN on the Rules'
// port (the decoder reads the same field), and only there.
func TestVXLANPortFromRules(t *testing.T) {
	cfg := defaultCfg()
	cfg.VXLANPort = 8472
	h := newHarness(t, cfg)
	inner := sipFrameUDP(400, 5060, 5060)
	on := ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 17, udpPkt(50000, 8472, append(vxlanHdr(), inner...)), v4opts{}))
	off := ethFrame(0x0800, ipv4Pkt("192.168.0.1", "192.168.0.2", 17, udpPkt(50000, 4789, append(vxlanHdr(), inner...)), v4opts{}))
	if _, got := h.run(t, on, false); len(got) != 1 || got[0].Class != ClassSIP {
		t.Errorf("VXLAN to 8472: captured %+v, want one SIP frame", got)
	}
	if _, got := h.run(t, off, false); len(got) != 0 {
		t.Errorf("VXLAN to 4789 with VXLANPort 8472: captured %d frames, want none", len(got))
	}
}
