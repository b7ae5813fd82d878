//go:build linux

package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netns"

	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/bpf"
)

// requireBPF skips unless this process may load BPF programs and create
// network namespaces.
func requireBPF(t testing.TB) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.XDP,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()},
		License:      "MIT",
	})
	if err != nil {
		t.Skipf("skipping: this process may not load BPF programs (needs root or CAP_BPF+CAP_NET_ADMIN): %v", err)
	}
	prog.Close()
}

// topo is two network namespaces joined by a veth pair:
// a: xbpf0 10.199.0.1/24 <-> b: xbpf1 10.199.0.2/24.
type topo struct {
	a, b netns.NsHandle
}

var topoSeq int

// inNS runs fn on a thread switched into ns.
func inNS(t testing.TB, ns netns.NsHandle, fn func()) {
	t.Helper()
	if err := vethns.Do(ns, func() error { fn(); return nil }); err != nil {
		t.Fatal(err)
	}
}

func newTopo(t testing.TB) *topo {
	t.Helper()
	requireBPF(t)
	topoSeq++
	p, err := vethns.New(vethns.Config{
		NameA: fmt.Sprintf("xbpfa-%d-%d", os.Getpid(), topoSeq), NameB: fmt.Sprintf("xbpfb-%d-%d", os.Getpid(), topoSeq),
		IfA: "xbpf0", IfB: "xbpf1", AddrA: "10.199.0.1/24", AddrB: "10.199.0.2/24",
	})
	if err != nil {
		t.Skipf("skipping: cannot create the veth pair between network namespaces: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return &topo{a: p.A, b: p.B}
}

func udpConn(t testing.TB, ns netns.NsHandle, laddr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	inNS(t, ns, func() {
		a, _ := net.ResolveUDPAddr("udp4", laddr)
		var err error
		c, err = net.ListenUDP("udp4", a)
		if err != nil {
			t.Fatalf("listen %s: %v", laddr, err)
		}
	})
	t.Cleanup(func() { c.Close() })
	return c
}

type got struct {
	Egress  bool
	Payload string
	Match   uint8 // the kernel's match class bits (ringbuf mode)
}

// udpPayload extracts the UDP payload of an Ethernet/IPv4/UDP frame.
func udpPayload(b []byte) (string, bool) {
	if len(b) < 14+20+8 || binary.BigEndian.Uint16(b[12:]) != 0x0800 || b[23] != 17 {
		return "", false
	}
	ihl := int(b[14]&0xf) * 4
	if len(b) < 14+ihl+8 {
		return "", false
	}
	return string(b[14+ihl+8:]), true
}

func sipMsg(dir string, i int) string {
	return fmt.Sprintf("OPTIONS sip:%s-%d@10.199.0.1 SIP/2.0\r\nCall-ID: %s-%d@xhep\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n", dir, i, dir, i, i)
}

// capture opens a live source in namespace a and collects what it reads
// until want frames have arrived (or a timeout), plus a short grace period
// to catch extra frames.
func runCapture(t *testing.T, tp *topo, cfg LiveConfig, send func(), want int) ([]got, Source) {
	t.Helper()
	var src Source
	var err error
	inNS(t, tp.a, func() { src, err = OpenLive(cfg) })
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	start := time.Now().UnixNano()
	ch := make(chan got, 1024)
	done := make(chan error, 1)
	go func() {
		var f Frame
		for {
			if err := src.Read(&f); err != nil {
				done <- err
				return
			}
			p, ok := udpPayload(f.Data)
			if !ok {
				continue // ARP and the like only reach afpacket's cBPF for VLAN frames; skip non-UDP
			}
			if f.TS < start-int64(time.Second) || f.TS > time.Now().UnixNano()+int64(time.Second) {
				t.Errorf("frame time %v outside the test's run", time.Unix(0, f.TS))
			}
			if f.OrigLen < len(f.Data) || f.LinkType != LinkEthernet || f.IfIndex == 0 {
				t.Errorf("bad frame metadata: OrigLen %d len %d LinkType %d IfIndex %d", f.OrigLen, len(f.Data), f.LinkType, f.IfIndex)
			}
			ch <- got{Egress: f.Egress, Payload: p, Match: f.Match}
		}
	}()
	time.Sleep(100 * time.Millisecond) // let generic XDP and the rings settle
	send()
	var out []got
	deadline := time.After(10 * time.Second)
	for len(out) < want {
		select {
		case g := <-ch:
			out = append(out, g)
		case <-deadline:
			t.Errorf("timed out with %d of %d frames", len(out), want)
			want = 0
		}
	}
	grace := time.After(300 * time.Millisecond)
loop:
	for {
		select {
		case g := <-ch:
			out = append(out, g)
		case <-grace:
			break loop
		}
	}
	if err := src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("Read did not return after Close")
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	return out, src
}

func sortGot(g []got) {
	sort.Slice(g, func(i, j int) bool {
		if g[i].Egress != g[j].Egress {
			return !g[i].Egress
		}
		return g[i].Payload < g[j].Payload
	})
}

func TestLiveCapture(t *testing.T) {
	const n = 20
	modes := []struct {
		name   string
		cfg    LiveConfig
		egress bool // mode captures egress too
	}{
		{"ringbuf", LiveConfig{Mode: "ringbuf"}, true},
		{"ringbuf-generic", LiveConfig{Mode: "ringbuf", XDPMode: "generic"}, true},
		// The perf event array instead of the ring buffer; then the whole
		// Linux 5.4 feature set (perf buffer, netlink XDP, clsact).
		{"ringbuf-perf", LiveConfig{Mode: "ringbuf", Config: bpf.Config{Buffer: "perf"}}, true},
		{"ringbuf-legacy", LiveConfig{Mode: "ringbuf", Config: bpf.Config{Legacy: true}}, true},
		{"afxdp", LiveConfig{Mode: "afxdp", XDPMode: "generic"}, false},
		{"afxdp-legacy", LiveConfig{Mode: "afxdp", XDPMode: "generic", Config: bpf.Config{Legacy: true}}, false},
		{"afpacket", LiveConfig{Mode: "afpacket"}, true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			tp := newTopo(t)
			a := udpConn(t, tp.a, "10.199.0.1:5060")
			b := udpConn(t, tp.b, "10.199.0.2:40000")
			aOther := udpConn(t, tp.a, "10.199.0.1:40001")
			bOther := udpConn(t, tp.b, "10.199.0.2:40002")
			cfg := m.cfg
			cfg.Ifaces = []string{"xbpf0"}
			cfg.SIPByContent = true
			cfg.RTCP = true
			cfg.RingBytes = 1 << 22
			var want []got
			send := func() {
				for i := range n {
					in, out := sipMsg("in", i), sipMsg("out", i)
					if _, err := b.WriteToUDP([]byte(in), a.LocalAddr().(*net.UDPAddr)); err != nil {
						t.Fatal(err)
					}
					if _, err := a.WriteToUDP([]byte(out), b.LocalAddr().(*net.UDPAddr)); err != nil {
						t.Fatal(err)
					}
					// Not SIP, not RTCP, not on a SIP port: never captured.
					bOther.WriteToUDP([]byte("hello, not sip"), aOther.LocalAddr().(*net.UDPAddr))
					aOther.WriteToUDP([]byte("RTP\x80\x00 not sip either"), bOther.LocalAddr().(*net.UDPAddr))
					// The kernel's class reaches the frame in ringbuf mode
					// (the SIP port 5060); AF_XDP and AF_PACKET carry none.
					var match uint8
					if m.cfg.Mode == "ringbuf" {
						match = bpf.ClassSIP
					}
					want = append(want, got{Egress: false, Payload: in, Match: match})
					if m.egress {
						want = append(want, got{Egress: true, Payload: out, Match: match})
					}
				}
			}
			wantN := n
			if m.egress {
				wantN = 2 * n
			}
			gotFrames, src := runCapture(t, tp, cfg, send, wantN)
			if vs, ok := src.(interface{ Variant() bpf.Variant }); ok {
				v := vs.Variant()
				t.Logf("variant: %s", v)
				if m.cfg.Legacy || os.Getenv(bpf.LegacyEnv) == "1" {
					if !strings.HasSuffix(v.XDP, "/netlink") || (m.egress && v.TC != "clsact") ||
						(m.cfg.Mode == "ringbuf" && v.Buffer != bpf.BufferPerf) {
						t.Errorf("legacy: variant %s, want perf buffer, netlink XDP, clsact", v)
					}
				}
				if m.cfg.Buffer == "perf" && v.Buffer != bpf.BufferPerf {
					t.Errorf("variant %s, want the perf buffer", v)
				}
			}
			sortGot(want)
			sortGot(gotFrames)
			if diff := cmp.Diff(want, gotFrames); diff != "" {
				t.Errorf("captured (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLiveXDPBusy: a foreign XDP program is never replaced, whether it
// or ours is attached through a bpf_link or netlink (5.4 feature set).
func TestLiveXDPBusy(t *testing.T) {
	for _, c := range []struct {
		name          string
		first, second bool // Legacy
	}{{"link-link", false, false}, {"link-netlink", false, true}, {"netlink-link", true, false}, {"netlink-netlink", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			tp := newTopo(t)
			var first, second Source
			var err error
			inNS(t, tp.a, func() {
				first, err = OpenLive(LiveConfig{Ifaces: []string{"xbpf0"}, Config: bpf.Config{Legacy: c.first}})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			inNS(t, tp.a, func() {
				second, err = OpenLive(LiveConfig{Ifaces: []string{"xbpf0"}, Config: bpf.Config{Legacy: c.second}})
			})
			if err == nil {
				second.Close()
				t.Fatal("second OpenLive on the same interface succeeded, want a foreign XDP program error")
			}
			if !errors.Is(err, bpf.ErrXDPBusy) {
				t.Errorf("second attach: %v, want ErrXDPBusy", err)
			}
			// The first one still captures.
			a := udpConn(t, tp.a, "10.199.0.1:5060")
			b := udpConn(t, tp.b, "10.199.0.2:40000")
			if _, err := b.WriteToUDP([]byte(sipMsg("in", 1)), a.LocalAddr().(*net.UDPAddr)); err != nil {
				t.Fatal(err)
			}
			var f Frame
			if err := readWithin(first, &f, 3*time.Second); err != nil {
				t.Fatalf("first source after the refused second: %v", err)
			}
		})
	}
}

// readWithin reads one frame from src, failing after d.
func readWithin(src Source, f *Frame, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- src.Read(f) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		src.Close()
		<-done
		return fmt.Errorf("no frame within %v", d)
	}
}

func TestLiveBadConfig(t *testing.T) {
	for _, cfg := range []LiveConfig{
		{},
		{Ifaces: []string{"lo"}, Mode: "pcap"},
		{Ifaces: []string{"lo"}, Config: bpf.Config{Snaplen: bpf.MaxSnaplen + 1}},
		{Ifaces: []string{"lo"}, Config: bpf.Config{Snaplen: -1}},
		{Ifaces: []string{"lo"}, XDPMode: "turbo"},
		{Ifaces: []string{"xbpf-no-such-if"}},
	} {
		if _, err := OpenLive(cfg); !errors.Is(err, ErrBadLiveConfig) {
			t.Errorf("OpenLive(%+v) = %v, want ErrBadLiveConfig", cfg, err)
		}
	}
}

// sipPair makes a topology with a SIP endpoint a (10.199.0.1:5060) in
// namespace a, a peer b (10.199.0.2:40000) in b, and a live source of cfg
// opened in a on xbpf0, closed when the test ends.
func sipPair(t *testing.T, cfg LiveConfig) (a, b *net.UDPConn, src Source) {
	t.Helper()
	tp := newTopo(t)
	a = udpConn(t, tp.a, "10.199.0.1:5060")
	b = udpConn(t, tp.b, "10.199.0.2:40000")
	cfg.Ifaces = []string{"xbpf0"}
	var err error
	inNS(t, tp.a, func() { src, err = OpenLive(cfg) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return a, b, src
}

func TestLiveCollectors(t *testing.T) {
	for _, mode := range []string{"ringbuf", "afxdp", "afpacket"} {
		t.Run(mode, func(t *testing.T) {
			a, b, src := sipPair(t, LiveConfig{Mode: mode, XDPMode: "generic", Config: bpf.Config{RingBytes: 1 << 20}})
			reg := prometheus.NewPedanticRegistry()
			for _, c := range LiveCollectors(src) {
				if err := reg.Register(c); err != nil {
					t.Fatalf("register: %v", err)
				}
			}
			b.WriteToUDP([]byte(sipMsg("in", 1)), a.LocalAddr().(*net.UDPAddr))
			readErr := make(chan error, 1)
			go func() {
				var f Frame
				readErr <- src.Read(&f)
			}()
			select {
			case err := <-readErr:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no frame captured within 5 s")
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatalf("gather: %v", err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					name := mf.GetName()
					for _, l := range m.GetLabel() {
						name += "," + l.GetName() + "=" + l.GetValue()
					}
					got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
			want := "xhep_agent_bpf_matched_total,class=sip"
			if mode == "afpacket" {
				want = "xhep_agent_socket_packets_total"
			}
			if got[want] < 1 {
				t.Errorf("%s = %v, want >= 1; all: %v", want, got[want], got)
			}
			if mode == "ringbuf" {
				v := src.(*ringbufSource).Variant()
				legacy := 0
				if v.Legacy {
					legacy = 1
				}
				info := fmt.Sprintf("xhep_agent_bpf_variant_info,buffer=%s,copy=%s,kernel=%s,legacy=%d,tc=%s,xdp=%s",
					v.Buffer, v.Copy, v.Kernel, legacy, v.TC, v.XDP)
				if got[info] != 1 || !strings.HasPrefix(v.XDP, "generic/") || v.Kernel != bpf.KernelRelease() {
					t.Errorf("variant %s: %s = %v, want 1; all: %v", v, info, got[info], got)
				}
			}
		})
	}
}

// TestLiveFlowsAndFragments: ringbuf mode on a real veth. A TCP
// connection on non-SIP ports whose first segment is a SIP request is
// captured whole, both directions, including segments that do not start
// with a SIP line (the kernel flow map); a UDP SIP datagram larger than
// the MTU is captured as all of its IP fragments, in both directions.
func TestLiveFlowsAndFragments(t *testing.T) {
	tp := newTopo(t)
	var ln *net.TCPListener
	inNS(t, tp.b, func() {
		var err error
		ln, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(10, 199, 0, 2), Port: 41000})
		if err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	a := udpConn(t, tp.a, "10.199.0.1:5060")
	b := udpConn(t, tp.b, "10.199.0.2:5062")

	var src Source
	var err error
	inNS(t, tp.a, func() {
		src, err = OpenLive(LiveConfig{Ifaces: []string{"xbpf0"}, Config: bpf.Config{Rules: bpf.Rules{SIPByContent: true}, RingBytes: 1 << 22}})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	type rec struct {
		egress bool
		proto  byte
		frag   bool
		tcpLen int
	}
	ch := make(chan rec, 256)
	go func() {
		var f Frame
		for src.Read(&f) == nil {
			d := f.Data
			if len(d) < 34 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
				continue
			}
			ihl := int(d[14]&0xf) * 4
			r := rec{egress: f.Egress, proto: d[23], frag: binary.BigEndian.Uint16(d[20:])&0x3fff != 0}
			if r.proto == 6 && len(d) >= 14+ihl+20 {
				r.tcpLen = len(d) - 14 - ihl - int(d[14+ihl+12]>>4)*4
			}
			ch <- r
		}
	}()
	time.Sleep(100 * time.Millisecond)

	// TCP: a SIP INVITE, then a segment of body text, then a reply.
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err == nil {
			accepted <- c
		}
	}()
	var c *net.TCPConn
	inNS(t, tp.a, func() {
		c, err = net.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(10, 199, 0, 2), Port: 41000})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetNoDelay(true)
	srv := <-accepted
	defer srv.Close()
	buf := make([]byte, 4096)
	c.Write([]byte("INVITE sip:bob@10.199.0.2 SIP/2.0\r\nContent-Length: 20\r\n\r\n"))
	srv.Read(buf)
	c.Write([]byte("v=0 body continues.."))
	srv.Read(buf)
	srv.Write([]byte("this reply starts with no SIP line"))
	c.Read(buf)

	// UDP: 3000 bytes of SIP to 5062 (a SIP port): three fragments each way.
	big := []byte(sipMsg("big", 1))
	for len(big) < 3000 {
		big = append(big, 'x')
	}
	a.WriteToUDP(big, b.LocalAddr().(*net.UDPAddr))
	b.WriteToUDP(big, a.LocalAddr().(*net.UDPAddr))

	var tcpData []rec
	frags := map[bool]int{}
	deadline := time.After(5 * time.Second)
	for len(tcpData) < 3 || frags[true] < 3 || frags[false] < 3 {
		select {
		case r := <-ch:
			if r.proto == 6 && r.tcpLen > 0 {
				tcpData = append(tcpData, r)
			}
			if r.proto == 17 && r.frag {
				frags[r.egress]++
			}
		case <-deadline:
			t.Fatalf("captured TCP data segments %+v, UDP fragments egress/ingress %d/%d; want 3 segments and 3+3 fragments",
				tcpData, frags[true], frags[false])
		}
	}
	want := []rec{{egress: true, proto: 6, tcpLen: 57}, {egress: true, proto: 6, tcpLen: 20}, {egress: false, proto: 6, tcpLen: 34}}
	if diff := cmp.Diff(want, tcpData, cmp.AllowUnexported(rec{})); diff != "" {
		t.Errorf("TCP data segments (-want +got):\n%s", diff)
	}
	k, err := src.(*ringbufSource).Counters()
	if err != nil {
		t.Fatal(err)
	}
	if k.FlowTracked != 1 || k.Flow < 2 || k.FragTracked != 2 || k.Fragment < 4 {
		t.Errorf("counters %+v: want 1 flow tracked, >= 2 flow matches, 2 first fragments tracked, >= 4 later fragments", k)
	}
}

// TestLiveLoneFramePrompt: the programs wake the ring buffer reader only
// once a share of the ring has filled, so a lone frame must come through
// the reader's poll, within a few milliseconds, again and again.
func TestLiveLoneFramePrompt(t *testing.T) {
	a, b, src := sipPair(t, LiveConfig{Mode: "ringbuf", XDPMode: "generic"})
	frames := make(chan string, 16)
	go func() {
		var f Frame
		for src.Read(&f) == nil {
			if p, ok := udpPayload(f.Data); ok {
				frames <- p
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // let generic XDP settle
	var worst time.Duration
	for i := range 5 {
		msg := sipMsg("lone", i)
		start := time.Now()
		if _, err := b.WriteToUDP([]byte(msg), a.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-frames:
			if p != msg {
				t.Fatalf("frame %d: got %q", i, p)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %d not delivered within 5 s", i)
		}
		worst = max(worst, time.Since(start))
		time.Sleep(20 * time.Millisecond) // the reader sleeps again
	}
	// The poll period is ringPoll (5 ms); allow for a busy machine.
	if worst > 100*time.Millisecond {
		t.Errorf("a lone frame took %v to arrive, want a few ms", worst)
	}
	t.Logf("slowest lone frame: %v", worst)
}
