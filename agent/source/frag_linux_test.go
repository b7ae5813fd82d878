//go:build linux

package source_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/bpf"
)

// fragTrain splits a UDP datagram (header and payload) into IPv4 or IPv6
// fragments of at most mtu bytes of IP payload each, as Ethernet frames.
func fragTrain(v6 bool, src, dst netip.Addr, id uint32, udp []byte, mtu int) [][]byte {
	var out [][]byte
	step := mtu &^ 7
	for off := 0; off < len(udp); off += step {
		end := min(off+step, len(udp))
		more := end < len(udp)
		chunk := udp[off:end]
		eth := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00}
		var ip []byte
		if !v6 {
			ip = make([]byte, 20)
			ip[0] = 0x45
			binary.BigEndian.PutUint16(ip[2:], uint16(20+len(chunk)))
			binary.BigEndian.PutUint16(ip[4:], uint16(id))
			fo := uint16(off / 8)
			if more {
				fo |= 0x2000
			}
			binary.BigEndian.PutUint16(ip[6:], fo)
			ip[8], ip[9] = 64, 17
			s, d := src.As4(), dst.As4()
			copy(ip[12:], s[:])
			copy(ip[16:], d[:])
			var sum uint32
			for i := 0; i < 20; i += 2 {
				sum += uint32(binary.BigEndian.Uint16(ip[i:]))
			}
			for sum > 0xffff {
				sum = sum&0xffff + sum>>16
			}
			binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		} else {
			eth[12], eth[13] = 0x86, 0xdd
			ip = make([]byte, 48)
			ip[0] = 0x60
			binary.BigEndian.PutUint16(ip[4:], uint16(8+len(chunk)))
			ip[6], ip[7] = 44, 64
			s, d := src.As16(), dst.As16()
			copy(ip[8:], s[:])
			copy(ip[24:], d[:])
			fh := ip[40:]
			fh[0] = 17
			fo := uint16(off/8) << 3
			if more {
				fo |= 1
			}
			binary.BigEndian.PutUint16(fh[2:], fo)
			binary.BigEndian.PutUint32(fh[4:], id)
		}
		f := append(append(eth, ip...), chunk...)
		out = append(out, f)
	}
	return out
}

func udpDatagram(sp, dp uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...) // checksum 0: none (IPv4); the decoder does not check it
}

// TestLiveFragmentsAnyOrder replays IP fragment trains in reverse (and
// mixed) order from one namespace over a veth pair into the capturing
// one: every fragment is captured (XDP ingress), and the agent's decoder
// reassembles each SIP message exactly once, IPv4 and IPv6, in the ring
// buffer and in the forced Linux 5.4 variant (perf buffer, netlink XDP).
// A non-SIP train in reverse order is captured too (its first fragment
// follows its early ones) and yields no SIP message.
func TestLiveFragmentsAnyOrder(t *testing.T) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}, License: "MIT"})
	if err != nil {
		t.Skipf("skipping: this process may not load BPF programs (needs root or CAP_BPF+CAP_NET_ADMIN): %v", err)
	}
	prog.Close()
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) { liveFragments(t, legacy) })
	}
}

func liveFragments(t *testing.T, legacy bool) {
	p, err := vethns.New(vethns.Config{
		NameA: fmt.Sprintf("xfrga-%d", os.Getpid()), NameB: fmt.Sprintf("xfrgb-%d", os.Getpid()),
		IfA: "xfrg0", IfB: "xfrg1", AddrA: "10.197.0.1/24", AddrB: "10.197.0.2/24",
	})
	if err != nil {
		t.Skipf("skipping: cannot create the veth pair between network namespaces: %v", err)
	}
	defer p.Close()
	var src source.Source
	err = vethns.Do(p.A, func() error {
		var err error
		src, err = source.OpenLive(source.LiveConfig{Ifaces: []string{"xfrg0"}, XDPMode: "generic",
			Config: bpf.Config{RingBytes: 1 << 22, Legacy: legacy}})
		return err
	})
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer src.Close()

	a4, b4 := netip.MustParseAddr("10.197.0.1"), netip.MustParseAddr("10.197.0.2")
	a6, b6 := netip.MustParseAddr("fd00:197::1"), netip.MustParseAddr("fd00:197::2")
	sipOf := func(tag string) []byte {
		m := []byte(fmt.Sprintf("MESSAGE sip:%s@10.197.0.1 SIP/2.0\r\nCall-ID: %s@xhep\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 3200\r\n\r\n", tag, tag))
		for i := 0; i < 3200; i++ {
			m = append(m, 'a'+byte(i%26))
		}
		return m
	}
	sip4, sip6 := sipOf("rev4"), sipOf("mix6")
	// v4: last to first. v6: last, first, middle. Not SIP: last to first.
	t4 := fragTrain(false, b4, a4, 0x7001, udpDatagram(5062, 5060, sip4), 1480)
	t6 := fragTrain(true, b6, a6, 0x7002, udpDatagram(5062, 5060, sip6), 1448)
	tn := fragTrain(false, b4, a4, 0x7003, udpDatagram(30000, 30002, make([]byte, 3000)), 1480)
	if len(t4) != 3 || len(t6) != 3 || len(tn) != 3 {
		t.Fatalf("trains of %d, %d, %d fragments, want 3 each", len(t4), len(t6), len(tn))
	}
	frames := [][]byte{t4[2], t4[1], t4[0], t6[2], t6[0], t6[1], tn[2], tn[1], tn[0]}

	type rec struct {
		data []byte
		f    source.Frame
	}
	ch := make(chan rec, 64)
	go func() {
		var f source.Frame
		for src.Read(&f) == nil {
			ch <- rec{append([]byte(nil), f.Data...), f}
		}
		close(ch)
	}()
	time.Sleep(100 * time.Millisecond)

	err = vethns.Do(p.B, func() error {
		l, err := netlink.LinkByName("xfrg1")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: l.Attrs().Index}
		for _, fr := range frames {
			if err := unix.Sendto(fd, fr, 0, sa); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			time.Sleep(2 * time.Millisecond) // keep the order on the wire
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	dec, err := packet.NewDecoder(packet.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	n := 0
	deadline := time.After(5 * time.Second)
	for n < len(frames) {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("source closed after %d of %d fragments", n, len(frames))
			}
			if r.f.Egress {
				continue
			}
			n++
			f := r.f
			f.Data = r.data
			dec.Decode(&f, func(m *packet.Message) {
				if m.Class == packet.ClassSIP {
					got = append(got, string(m.Payload))
				}
			})
		case <-deadline:
			t.Fatalf("captured %d of %d fragments", n, len(frames))
		}
	}
	// Nothing more arrives: every fragment once.
	select {
	case r := <-ch:
		if !r.f.Egress {
			t.Errorf("an extra frame was captured: % x", r.data[:min(len(r.data), 48)])
		}
	case <-time.After(200 * time.Millisecond):
	}
	sort.Strings(got)
	want := []string{string(sip6), string(sip4)}
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SIP messages reassembled (-want +got):\n%s", diff)
	}
	c, err := src.(interface{ Counters() (bpf.Counters, error) }).Counters()
	if err != nil {
		t.Fatal(err)
	}
	// Early: t4[2], t4[1], t6[2], tn[2], tn[1]; t6[1] follows the matched
	// t6[0]; tn[0] completes its train.
	if c.FragEarly != 5 || c.FragEarlyLimited != 0 || c.Fragment != 1 {
		t.Errorf("counters: early %d, limited %d, fragment %d; want 5, 0, 1", c.FragEarly, c.FragEarlyLimited, c.Fragment)
	}
}
