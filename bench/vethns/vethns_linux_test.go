package vethns

import (
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/vishvananda/netns"
)

// TestPair builds a pair, sends a UDP datagram from B to A's address across
// the veth, and checks Close removes both namespaces.
func TestPair(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating network namespaces needs root")
	}
	cfg := Config{NameA: fmt.Sprintf("xvna-%d", os.Getpid()), NameB: fmt.Sprintf("xvnb-%d", os.Getpid()),
		IfA: "xvn0", IfB: "xvn1", AddrA: "10.198.0.1/24", AddrB: "10.198.0.2/24"}
	p, err := New(cfg)
	if err != nil {
		t.Skipf("skipping: cannot create network namespaces: %v", err)
	}
	t.Cleanup(func() { p.Close() })

	var ln *net.UDPConn
	if err := Do(p.A, func() (err error) {
		ln, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 198, 0, 1), Port: 5099})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := DoNamed(cfg.NameB, func() error {
		c, err := net.Dial("udp", "10.198.0.1:5099")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, from, err := ln.ReadFromUDP(buf)
	if err != nil || string(buf[:n]) != "hello" || from.IP.String() != "10.198.0.2" {
		t.Fatalf("got %q from %v, err %v", buf[:n], from, err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, n := range []string{cfg.NameA, cfg.NameB} {
		if h, err := netns.GetFromName(n); err == nil {
			h.Close()
			t.Errorf("namespace %s still exists after Close", n)
		}
	}
}

func TestNewFailsClean(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating network namespaces needs root")
	}
	name := fmt.Sprintf("xvnc-%d", os.Getpid())
	// An interface name longer than IFNAMSIZ makes the veth fail after the
	// namespaces exist: New must remove them.
	_, err := New(Config{NameA: name + "a", NameB: name + "b", IfA: "this-name-is-far-too-long", IfB: "x1"})
	if err == nil {
		t.Fatal("New with a bad interface name succeeded")
	}
	for _, n := range []string{name + "a", name + "b"} {
		if h, err := netns.GetFromName(n); err == nil {
			h.Close()
			netns.DeleteNamed(n)
			t.Errorf("namespace %s left behind", n)
		}
	}
}
