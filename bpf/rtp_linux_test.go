//go:build linux

package bpf

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/hep/rtp"
)

func rtpCfg(streams int) Config {
	cfg := defaultCfg()
	cfg.RTPStreams = streams
	cfg.RTPEndpoints = 16
	return cfg
}

// rtpPayload: 80|M PT | seq | ts | ssrc | n bytes of payload
func rtpPayload(m bool, pt uint8, seq uint16, ts, ssrc uint32, n int) []byte {
	b := make([]byte, 12+n)
	b[0] = 0x80
	b[1] = pt
	if m {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

type rtpArrival struct {
	seq uint16
	ts  uint32
	at  uint64
	pt  uint8
	m   bool
}

// rtpScenario is 300 packets of 20 ms G.711 with a seeded delay of 0..35
// ms, losses (single and a run of 12), a duplicate, a swap, a DTMF event
// of 6 packets and a sequence wrap.
func rtpScenario() []rtpArrival {
	var as []rtpArrival
	x := uint32(7)
	for i := 0; i < 300; i++ {
		switch {
		case i == 40, i == 41, i == 90, i >= 200 && i < 212:
			continue
		}
		x = x*1664525 + 1013904223
		a := rtpArrival{seq: 65400 + uint16(i), ts: uint32(i) * 160, at: 5e9 + uint64(i)*20e6 + uint64(x>>16%35)*1e6}
		if i >= 120 && i < 126 {
			a.pt, a.ts = 101, 120*160
			a.m = i == 120
		}
		as = append(as, a)
		if i == 60 {
			as = append(as, a) // duplicate
		}
	}
	as[150], as[151] = as[151], as[150]
	return as
}

// rtpMixedScenario is Opus (PT 111, 48 kHz) switching to PCMA (PT 8,
// 8 kHz) with its own timestamp base and back, a DTMF event (PT 101,
// 8 kHz) inside the PCMA part, seeded delays of 0..30 ms, two losses.
func rtpMixedScenario() []rtpArrival {
	var as []rtpArrival
	x := uint32(11)
	var ts uint32
	for i := 0; i < 300; i++ {
		pt, step := uint8(111), uint32(960)
		if i >= 100 && i < 200 {
			pt, step = 8, 160
		}
		if i == 100 || i == 200 {
			ts = uint32(i) * 7777
		}
		x = x*1664525 + 1013904223
		a := rtpArrival{seq: uint16(i), ts: ts, pt: pt, at: 5e9 + uint64(i)*20e6 + uint64(x>>16%30)*1e6}
		ts += step
		if i >= 150 && i < 154 {
			a.pt, a.ts, a.m = 101, 150*160, i == 150
		}
		if i == 50 || i == 250 {
			continue
		}
		as = append(as, a)
	}
	return as
}

func TestRTPStatsMatchReference(t *testing.T) {
	requireBPF(t)
	sharedF, err := Load(rtpCfg(64))
	if err != nil {
		t.Fatal(err)
	}
	defer sharedF.Close()
	for _, tc := range []struct {
		name  string
		tc    bool
		v6    bool
		from  bool // packets come from the announced endpoint
		mixed bool // rtpMixedScenario: payload types with their own clocks
	}{
		{"xdp v4 to endpoint", false, false, false, false},
		{"tc v4 from endpoint", true, false, true, false},
		{"xdp v6 to endpoint", false, true, false, false},
		{"xdp v4 opus pcma dtmf clocks", false, false, false, true},
		{"tc v6 opus pcma dtmf clocks", true, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// one filter for all cases (loading is the slow part under
			// make vm-test's emulated CPUs): each case starts with no
			// endpoint and no stream, and reads its counters as deltas
			f := sharedF
			c0, err := f.RTPCounters()
			if err != nil {
				t.Fatal(err)
			}
			src, dst := "10.0.0.1", "10.0.0.2"
			if tc.v6 {
				src, dst = "2001:db8::1", "2001:db8::2"
			}
			ep := netip.AddrPortFrom(netip.MustParseAddr(dst), 30002)
			if tc.from {
				ep = netip.AddrPortFrom(netip.MustParseAddr(src), 30000)
			}
			e := RTPEndpoint{Call: 42, Params: rtp.NewParams(8000, 101)}
			e.AddPT(0)
			e.AddPT(101)
			scen := rtpScenario()
			if tc.mixed {
				e = RTPEndpoint{Call: 42, Params: rtp.NewParams(48000, 101)}
				for _, pc := range [][2]uint32{{111, 48000}, {8, 8000}, {101, 8000}} {
					e.AddPT(uint8(pc[0]))
					e.Params.SetPT(uint8(pc[0]), pc[1])
				}
				scen = rtpMixedScenario()
			}
			if err := f.PutRTPEndpoint(ep, e); err != nil {
				t.Fatal(err)
			}
			prog := f.XDPProgram()
			if tc.tc {
				prog = f.TCProgram()
			}
			p := e.Params
			var want rtp.State
			for _, a := range scen {
				pl := rtpPayload(a.m, a.pt, a.seq, a.ts, 0xabcdef01, 160)
				var frame []byte
				if tc.v6 {
					frame = ethFrame(0x86dd, ipv6Pkt(src, dst, 17, udpPkt(30000, 30002, pl)))
				} else {
					frame = ethFrame(0x0800, ipv4Pkt(src, dst, 17, udpPkt(30000, 30002, pl), v4opts{}))
				}
				if err := f.setRTPTestNow(a.at); err != nil {
					t.Fatal(err)
				}
				if _, err := prog.Run(&ebpf.RunOptions{Data: frame}); err != nil {
					t.Fatal(err)
				}
				var h rtp.Header
				if err := h.DecodeFromBytes(pl); err != nil {
					t.Fatal(err)
				}
				want.Update(&p, &h, uint32(len(pl)), a.at)
			}
			var got []RTPStream
			if err := f.RTPStreams(func(s *RTPStream) bool { got = append(got, *s); return true }); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d streams, want 1: %+v", len(got), got)
			}
			wantKey := RTPStreamKey{Src: netip.AddrPortFrom(netip.MustParseAddr(src), 30000),
				Dst: netip.AddrPortFrom(netip.MustParseAddr(dst), 30002), SSRC: 0xabcdef01}
			if d := cmp.Diff(wantKey, got[0].Key, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); d != "" {
				t.Errorf("key (-want +got)\n%s", d)
			}
			wantDir := uint8(0)
			if tc.from {
				wantDir = 1
			}
			if got[0].Call != 42 || got[0].Dir != wantDir {
				t.Errorf("call %d dir %d, want 42 %d", got[0].Call, got[0].Dir, wantDir)
			}
			if d := cmp.Diff(want, got[0].State); d != "" {
				t.Errorf("kernel state (-Go reference +kernel)\n%s", d)
			}
			// the scenario exercised what it meant to
			if tc.mixed {
				if want.PTChanges != 2 || want.Clock != 48000 || want.DTMFEvents != 1 || want.Lost() != 2 || want.MaxJitterNs < 3e6 {
					t.Errorf("scenario: pt changes %d clock %d dtmf %d lost %d max jitter %d ns",
						want.PTChanges, want.Clock, want.DTMFEvents, want.Lost(), want.MaxJitterNs)
				}
			} else if want.Lost() != 15-1 || want.Duplicates != 1 || want.OutOfOrder != 1 || want.DTMFEvents != 1 ||
				want.Cycles != 65536 || want.Jitter16 == 0 || want.Bursts[9] != 1 {
				t.Errorf("scenario: lost %d dup %d ooo %d dtmf %d cycles %d jitter16 %d bursts %v",
					want.Lost(), want.Duplicates, want.OutOfOrder, want.DTMFEvents, want.Cycles, want.Jitter16, want.Bursts)
			}
			c, err := f.RTPCounters()
			if err != nil {
				t.Fatal(err)
			}
			c.Packets, c.Streams, c.NotRTP = c.Packets-c0.Packets, c.Streams-c0.Streams, c.NotRTP-c0.NotRTP
			if c.Packets != want.Packets || c.Streams != 1 || c.NotRTP != 0 {
				t.Errorf("counters %+v, want %d packets, 1 stream", c, want.Packets)
			}
			if err := f.DeleteRTPEndpoint(ep); err != nil {
				t.Fatal(err)
			}
			if err := f.DeleteRTPStream(wantKey); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRTPNotTracked(t *testing.T) {
	requireBPF(t)
	f, err := Load(rtpCfg(64))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := RTPEndpoint{Params: rtp.NewParams(8000, 0)}
	e.AddPT(8)
	if err := f.PutRTPEndpoint(netip.MustParseAddrPort("10.0.0.2:30002"), e); err != nil {
		t.Fatal(err)
	}
	frames := []struct {
		name   string
		pl     []byte
		dport  uint16
		notRTP bool
	}{
		{"pt not announced", rtpPayload(false, 0, 1, 0, 1, 160), 30002, true},
		{"version 1", append([]byte{0x40}, rtpPayload(false, 8, 1, 0, 1, 160)[1:]...), 30002, true},
		{"csrc beyond the datagram", append([]byte{0x8f}, rtpPayload(false, 8, 1, 0, 1, 20)[1:]...), 30002, true},
		{"other port", rtpPayload(false, 8, 1, 0, 1, 160), 30004, false},
		{"short", []byte{0x80, 8, 0, 1}, 30002, false},
	}
	for _, fr := range frames {
		frame := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, fr.dport, fr.pl), v4opts{}))
		if _, err := f.XDPProgram().Run(&ebpf.RunOptions{Data: frame}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := f.RTPStreams(func(*RTPStream) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	c, _ := f.RTPCounters()
	if n != 0 || c.Packets != 0 || c.NotRTP != 3 {
		t.Errorf("%d streams, counters %+v; want none and 3 not-RTP", n, c)
	}
	// and once removed, the endpoint matches nothing
	if err := f.DeleteRTPEndpoint(netip.MustParseAddrPort("10.0.0.2:30002")); err != nil {
		t.Fatal(err)
	}
	frame := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, rtpPayload(false, 8, 1, 0, 1, 160)), v4opts{}))
	f.XDPProgram().Run(&ebpf.RunOptions{Data: frame})
	if c2, _ := f.RTPCounters(); c2 != c {
		t.Errorf("after delete: %+v, was %+v", c2, c)
	}
}

// TestRTPEvictions: a 4-stream table and 10 SSRCs: the LRU keeps 4, the
// counters say 10 were created, so 6 were evicted.
func TestRTPEvictions(t *testing.T) {
	requireBPF(t)
	f, err := Load(rtpCfg(4))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := RTPEndpoint{Params: rtp.NewParams(8000, 0)}
	e.AddPT(0)
	f.PutRTPEndpoint(netip.MustParseAddrPort("10.0.0.2:30002"), e)
	for ssrc := uint32(1); ssrc <= 10; ssrc++ {
		frame := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, rtpPayload(false, 0, 1, 0, ssrc, 160)), v4opts{}))
		if _, err := f.XDPProgram().Run(&ebpf.RunOptions{Data: frame}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	f.RTPStreams(func(*RTPStream) bool { n++; return true })
	c, _ := f.RTPCounters()
	// The LRU hash of a small map keeps per-CPU free lists: it may hold
	// fewer than max_entries, never more.
	if n > 4 || n == 0 || c.Streams != 10 || c.Packets != 10 {
		t.Errorf("%d streams present, counters %+v; want ≤4 present, 10 created", n, c)
	}
	t.Logf("present %d, created %d, evicted %d", n, c.Streams, int(c.Streams)-n)
}

// BenchmarkRTP: the in-kernel cost per RTP packet with the statistics
// update against the same frame when RTP statistics are off (the
// non-matching path).
func BenchmarkRTP(b *testing.B) {
	pl := rtpPayload(false, 0, 1, 160, 7, 160)
	frame := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, pl), v4opts{}))
	for _, c := range []struct {
		name    string
		streams int
		ep      bool
		noClock bool // rtp_test_now set: no bpf_ktime_get_ns per packet, to tell the clock read's cost apart
	}{
		{"xdp/rtp-off", 0, false, false},
		{"xdp/rtp-on-no-endpoint", 1024, false, false},
		{"xdp/rtp-on-tracked", 1024, true, false},
		{"xdp/rtp-on-tracked-no-clock-read", 1024, true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			requireBPF(b)
			f, err := Load(rtpCfg(c.streams))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if c.ep {
				e := RTPEndpoint{Params: rtp.NewParams(8000, 0)}
				e.AddPT(0)
				f.PutRTPEndpoint(netip.MustParseAddrPort("10.0.0.2:30002"), e)
			}
			if c.noClock {
				if err := f.setRTPTestNow(5e9); err != nil {
					b.Fatal(err)
				}
			}
			var ds []time.Duration
			for b.Loop() {
				_, d, err := f.XDPProgram().Benchmark(frame, 10000, nil)
				if err != nil {
					b.Fatal(err)
				}
				ds = append(ds, d)
			}
			reportPerPacket(b, ds)
		})
	}
}

// TestRTPTwoCPUs: two threads, pinned to two CPUs, run the XDP program on
// the same stream's packet at once (as RPS or two RX queues would): no
// update is lost (the spin lock; without it packets and received come
// out short). The same sequence number again and again: every packet
// after the first is a duplicate.
func TestRTPTwoCPUs(t *testing.T) {
	requireBPF(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	f, err := Load(rtpCfg(64))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := RTPEndpoint{Params: rtp.NewParams(8000, 0)}
	e.AddPT(0)
	if err := f.PutRTPEndpoint(netip.MustParseAddrPort("10.0.0.2:30002"), e); err != nil {
		t.Fatal(err)
	}
	frame := ethFrame(0x0800, ipv4Pkt("10.0.0.1", "10.0.0.2", 17, udpPkt(30000, 30002, rtpPayload(false, 0, 1, 160, 7, 160)), v4opts{}))
	const n = 300000
	onCPUs(t, func(cpu int) error {
		t0 := time.Now()
		_, err := f.XDPProgram().Run(&ebpf.RunOptions{Data: frame, Repeat: n})
		t.Logf("cpu %d: %v", cpu, time.Since(t0))
		return err
	})
	var got []RTPStream
	f.RTPStreams(func(s *RTPStream) bool { got = append(got, *s); return true })
	if len(got) != 1 {
		t.Fatalf("%d streams", len(got))
	}
	st := got[0].State
	c, _ := f.RTPCounters()
	type view struct{ Packets, Received, Duplicates, Counted uint64 }
	if d := cmp.Diff(view{2 * n, 2 * n, 2*n - 1, 2 * n},
		view{st.Packets, uint64(st.Received), uint64(st.Duplicates), c.Packets}); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

// TestRTPTwoCPUsLive: the same on the real receive path. XDP (generic)
// on one end of a veth pair; from the other end two threads pinned to
// CPUs 0 and 1 send one stream's RTP through one socket, so the veth
// delivers each packet on its sender's CPU and both CPUs run the program
// for the stream at once. Every packet sent is counted (sequence numbers
// interleave: thread 0 the even ones, thread 1 the odd ones). At a
// socket's rate the two CPUs' updates rarely overlap: this passed with the
// lock removed too, so it shows the live path; TestRTPTwoCPUs is the test
// that fails without the lock.
func TestRTPTwoCPUsLive(t *testing.T) {
	requireBPF(t)
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	pair, err := vethns.New(vethns.Config{
		NameA: fmt.Sprintf("x16ra-%d", os.Getpid()), NameB: fmt.Sprintf("x16rb-%d", os.Getpid()),
		IfA: "x16r0", IfB: "x16r1", AddrA: "10.216.0.1/24", AddrB: "10.216.0.2/24",
	})
	if err != nil {
		t.Skipf("skipping: cannot create the veth pair between network namespaces: %v", err)
	}
	defer pair.Close()
	f, err := Load(rtpCfg(64))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e := RTPEndpoint{Params: rtp.NewParams(8000, 0)}
	e.AddPT(0)
	if err := f.PutRTPEndpoint(netip.MustParseAddrPort("10.216.0.2:30000"), e); err != nil {
		t.Fatal(err)
	}
	if err := vethns.Do(pair.A, func() error {
		ifi, err := net.InterfaceByName("x16r0")
		if err != nil {
			return err
		}
		return f.AttachXDP(ifi.Index, XDPGeneric)
	}); err != nil {
		t.Fatal(err)
	}
	var conn *net.UDPConn
	if err := vethns.Do(pair.B, func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 216, 0, 2), Port: 30000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := &net.UDPAddr{IP: net.IPv4(10, 216, 0, 1), Port: 40000}
	const n = 10000
	sent := make([]int, 2)
	onCPUs(t, func(cpu int) error {
		for i := range n {
			seq := uint16(2*i + cpu)
			if _, err := conn.WriteTo(rtpPayload(false, 0, seq, uint32(seq)*160, 0x77, 160), to); err != nil {
				return err
			}
			sent[cpu]++
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond)
	var got []RTPStream
	f.RTPStreams(func(s *RTPStream) bool { got = append(got, *s); return true })
	if len(got) != 1 {
		t.Fatalf("%d streams", len(got))
	}
	st := got[0].State
	t.Logf("sent %d+%d; kernel: packets %d, received %d, out of order %d, duplicates %d, expected %d",
		sent[0], sent[1], st.Packets, st.Received, st.OutOfOrder, st.Duplicates, st.Expected())
	if st.Packets != 2*n || st.Duplicates != 0 {
		t.Errorf("packets %d duplicates %d, want %d and 0", st.Packets, st.Duplicates, 2*n)
	}
}

// onCPUs runs fn(0) and fn(1) at once on two threads pinned to CPUs 0 and
// 1 (both pinned before either starts) and fails t on their errors.
func onCPUs(t *testing.T, fn func(cpu int) error) {
	t.Helper()
	var wg, ready sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, 2)
	for cpu := range 2 {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var set unix.CPUSet
			set.Set(cpu)
			err := unix.SchedSetaffinity(0, &set)
			ready.Done()
			<-start
			if err != nil {
				errs[cpu] = fmt.Errorf("pin to CPU %d: %w", cpu, err)
				return
			}
			errs[cpu] = fn(cpu)
		}()
	}
	ready.Wait()
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
