//go:build linux

package bpf

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNewNS runs fn on a thread inside a new network namespace, named
// xbpfc-<pid>, that holds a veth pair xbpfd0 (10.198.0.1/24) - xbpfd1,
// both up, with a static neighbour 10.198.0.2 behind xbpfd0.
// The namespace is removed when the test ends.
func inNewNS(t *testing.T, fn func(ifindex int)) {
	t.Helper()
	requireBPF(t)
	name := fmt.Sprintf("xbpfc-%d", os.Getpid())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if err != nil {
		t.Skipf("skipping: cannot create a network namespace: %v", err)
	}
	defer func() {
		netns.Set(orig)
		ns.Close()
		netns.DeleteNamed(name)
	}()
	d := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "xbpfd0"}, PeerName: "xbpfd1"}
	if err := netlink.LinkAdd(d); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	if p, err := netlink.LinkByName("xbpfd1"); err == nil {
		netlink.LinkSetUp(p)
	}
	l, err := netlink.LinkByName("xbpfd0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.198.0.1/24")
	if err := netlink.AddrAdd(l, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("02:00:00:00:00:02")
	if err := netlink.NeighAdd(&netlink.Neigh{LinkIndex: l.Attrs().Index, IP: net.IPv4(10, 198, 0, 2),
		HardwareAddr: mac, State: netlink.NUD_PERMANENT}); err != nil {
		t.Fatal(err)
	}
	fn(l.Attrs().Index)
}

// TestAttachClsact checks the pre-TCX egress path (clsact qdisc and a
// direct-action filter): a datagram sent out of the interface is captured
// with the egress flag, and Close removes the filter.
func TestAttachClsact(t *testing.T) {
	inNewNS(t, func(ifindex int) {
		h := newHarness(t, defaultCfg())
		if err := h.f.attachClsact(ifindex); err != nil {
			t.Fatal(err)
		}
		l, _ := netlink.LinkByIndex(ifindex)
		filters, err := netlink.FilterList(l, netlink.HANDLE_MIN_EGRESS)
		if err != nil || len(filters) != 1 {
			t.Fatalf("egress filters: %v, %v", filters, err)
		}
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 198, 0, 2), Port: 5060})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := "OPTIONS sip:x@10.198.0.2 SIP/2.0\r\n\r\n"
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		var got []captured
		for deadline := time.Now().Add(2 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
			got = h.drain(t)
			time.Sleep(10 * time.Millisecond)
		}
		if len(got) != 1 || !got[0].Egress || string(got[0].Frame[len(got[0].Frame)-len(msg):]) != msg {
			t.Fatalf("captured %+v, want the one datagram on egress", got)
		}
		if err := h.f.Close(); err != nil {
			t.Fatal(err)
		}
		filters, _ = netlink.FilterList(l, netlink.HANDLE_MIN_EGRESS)
		if len(filters) != 0 {
			t.Errorf("egress filters left after Close: %v", filters)
		}
	})
}

// TestAttachXDPGeneric attaches in generic mode, refuses a second
// program, and detaches on Close.
func TestAttachXDPGeneric(t *testing.T) {
	inNewNS(t, func(ifindex int) {
		h := newHarness(t, defaultCfg())
		if err := h.f.AttachXDP(ifindex, XDPGeneric); err != nil {
			t.Fatal(err)
		}
		other, err := Load(defaultCfg())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := other.AttachXDP(ifindex, XDPAuto); err == nil {
			t.Errorf("second XDP attach succeeded, want ErrXDPBusy")
		}
		if err := h.f.AttachXDP(ifindex, "turbo"); err == nil {
			t.Errorf("unknown mode accepted")
		}
		h.f.Close()
		if busy, _ := xdpAttached(ifindex); busy {
			t.Errorf("XDP program still attached after Close")
		}
		if err := h.f.AttachTC(ifindex); err != ErrClosed {
			t.Errorf("AttachTC after Close = %v, want ErrClosed", err)
		}
	})
}

// TestAttachClsactKeepsForeign: a foreign egress filter already on the
// clsact qdisc stays, ours takes the next free priority, and Close
// removes only ours.
func TestAttachClsactKeepsForeign(t *testing.T) {
	inNewNS(t, func(ifindex int) {
		foreign, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Type:         ebpf.SchedCLS,
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
			License:      "MIT",
		})
		if err != nil {
			t.Fatal(err)
		}
		defer foreign.Close()
		if err := netlink.QdiscAdd(&netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex,
			Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}); err != nil {
			t.Fatal(err)
		}
		ff := &netlink.BpfFilter{FilterAttrs: netlink.FilterAttrs{LinkIndex: ifindex, Parent: netlink.HANDLE_MIN_EGRESS,
			Handle: netlink.MakeHandle(0, 1), Protocol: unix.ETH_P_ALL, Priority: 1},
			Fd: foreign.FD(), Name: "foreign", DirectAction: true}
		if err := netlink.FilterAdd(ff); err != nil {
			t.Fatal(err)
		}
		cfg := defaultCfg()
		cfg.Legacy = true
		h := newHarness(t, cfg)
		if err := h.f.AttachTC(ifindex); err != nil {
			t.Fatal(err)
		}
		l, _ := netlink.LinkByIndex(ifindex)
		names := func() map[string]uint16 {
			fs, err := netlink.FilterList(l, netlink.HANDLE_MIN_EGRESS)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]uint16{}
			for _, f := range fs {
				if b, ok := f.(*netlink.BpfFilter); ok {
					m[b.Name] = b.Priority
				}
			}
			return m
		}
		got := names()
		if got["foreign"] != 1 || got["xhep_tc"] != 2 {
			t.Errorf("egress filters %v, want foreign at 1 and xhep_tc at 2", got)
		}
		if v := h.f.Variant(); v.TC != "clsact" {
			t.Errorf("variant %s, want tc=clsact", v)
		}
		if err := h.f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := names(); len(got) != 1 || got["foreign"] != 1 {
			t.Errorf("egress filters after Close %v, want only the foreign one", got)
		}
	})
}
