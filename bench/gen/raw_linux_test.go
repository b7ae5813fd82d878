//go:build linux

package gen

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread switched into the named network namespace.
func inNetns(t testing.TB, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatalf("open own netns: %v", err)
	}
	defer orig.Close()
	ns, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatalf("open netns %s: %v", name, err)
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("enter netns %s: %v", name, err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("return from netns %s: %v", name, err)) // the thread must not be reused
		}
	}()
	fn()
}

// vethPair makes two namespaces joined by a veth pair, removed at cleanup.
func vethPair(t testing.TB) (nsA, ifA, nsB, ifB string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and AF_PACKET sockets")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("needs iproute2's ip command")
	}
	sfx := strconv.Itoa(os.Getpid() % 100000)
	nsA, nsB = "xgenA"+sfx, "xgenB"+sfx
	ifA, ifB = "xgenA"+sfx, "xgenB"+sfx
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		// Deleting a namespace deletes the veth end inside it, and the pair with it.
		exec.Command(ip, "netns", "del", nsA).Run()
		exec.Command(ip, "netns", "del", nsB).Run()
	})
	run("netns", "add", nsA)
	run("netns", "add", nsB)
	run("link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	for _, x := range [][2]string{{nsA, ifA}, {nsB, ifB}} {
		run("-n", x[0], "link", "set", x[1], "up")
	}
	return nsA, ifA, nsB, ifB
}

// TestRawSender sends generated frames from one namespace and receives
// every one of them, byte for byte, on the veth peer in the other.
func TestRawSender(t *testing.T) {
	nsA, ifA, nsB, ifB := vethPair(t)

	rx := peerReceiver(t, nsB, ifB)

	var s *RawSender
	inNetns(t, nsA, func() {
		var err error
		if s, err = NewRawSender(ifA); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() { s.Close() })

	cfg := DefaultConfig()
	// No VLAN tags: the receiving AF_PACKET socket would get them
	// stripped (VLAN offload moves the tag into metadata).
	cfg.Calls = 30
	frames, _ := collect(t, cfg)
	want := map[[32]byte]int{}
	for _, f := range frames {
		want[sha256.Sum256(f)]++
	}
	got := map[[32]byte]int{}
	received := 0
	buf := make([]byte, 65536)
	// Send in batches no bigger than the peer's backlog queue can hold.
	for i := 0; i < len(frames); i += 200 {
		batch := frames[i:min(len(frames), i+200)]
		n, err := s.Send(batch)
		if err != nil || n != len(batch) {
			t.Fatalf("send: %d of %d, %v", n, len(batch), err)
		}
		for received < i+len(batch) {
			n, _, err := unix.Recvfrom(rx, buf, 0)
			if err != nil {
				t.Fatalf("receive after %d of %d frames: %v", received, len(frames), err)
			}
			h := sha256.Sum256(buf[:n])
			if want[h] > 0 { // ignore what the kernel sends by itself (IPv6 ND)
				got[h]++
				received++
			}
		}
	}
	for h, n := range want {
		if got[h] != n {
			t.Fatalf("frame %x received %d times, sent %d", h[:4], got[h], n)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Send(frames[:1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestRawSenderErrors(t *testing.T) {
	if _, err := NewRawSender("xgen-no-such-if"); err == nil {
		t.Fatal("sender on a missing interface")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for AF_PACKET")
	}
	s, err := NewRawSender("lo")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := bytes.Repeat([]byte{0xff}, 70000)
	if n, err := s.Send([][]byte{big}); err == nil || n != 0 {
		t.Fatalf("oversized frame: sent %d, error %v", n, err)
	}
	if n, err := s.Send([][]byte{{}}); err == nil || n != 0 {
		t.Fatalf("empty frame: sent %d, error %v", n, err)
	}
}

// peerReceiver opens an AF_PACKET socket that receives everything on
// iface in namespace ns (500 ms receive timeout), closed at cleanup.
func peerReceiver(t testing.TB, ns, iface string) int {
	t.Helper()
	var rx int
	inNetns(t, ns, func() {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			t.Fatal(err)
		}
		rx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			t.Fatalf("receiver socket: %v", err)
		}
		t.Cleanup(func() { unix.Close(rx) })
		if err := unix.Bind(rx, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			t.Fatalf("bind receiver: %v", err)
		}
		unix.SetsockoptInt(rx, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
		tv := unix.NsecToTimeval(int64(500 * time.Millisecond))
		unix.SetsockoptTimeval(rx, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	return rx
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// BenchmarkRawSender measures sendmmsg throughput into a veth pair (the
// peer drops the frames: nobody listens).
func BenchmarkRawSender(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	var frames [][]byte
	cfg := DefaultConfig()
	cfg.Calls = 20
	frames, _ = collect(b, cfg)
	frames = frames[:256]
	nsA, ifA, _, _ := vethPair(b)
	var s *RawSender
	inNetns(b, nsA, func() {
		var err error
		if s, err = NewRawSender(ifA); err != nil {
			b.Fatal(err)
		}
	})
	defer s.Close()
	b.ReportAllocs()
	sent := 0
	for b.Loop() {
		n, err := s.Send(frames)
		if err != nil && !errors.Is(err, unix.ENOBUFS) {
			b.Fatal(err)
		}
		sent += n
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "pkts/s")
}
