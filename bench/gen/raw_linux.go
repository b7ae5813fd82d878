//go:build linux

package gen

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by [RawSender.Send] after Close.
var ErrClosed = errors.New("raw sender closed")

// maxBatch is the most messages one sendmmsg call takes (UIO_MAXIOV).
const maxBatch = 1024

// RawSender puts whole Ethernet frames on one interface through an
// AF_PACKET SOCK_RAW socket, many per system call (sendmmsg). It needs
// CAP_NET_RAW. The socket is opened with protocol 0, so it receives
// nothing.
//
// Send must not be called from two goroutines at once; Close may be called
// from any goroutine, waits for a Send in progress and is idempotent.
type RawSender struct {
	mu      sync.Mutex
	fd      int
	ifindex int
	closed  bool
	msgs    []unix.Mmsghdr
	iovs    []unix.Iovec
}

// NewRawSender opens a sender on iface, an interface name or a decimal
// interface index.
func NewRawSender(iface string) (*RawSender, error) { return newRawSender(iface, false) }

// NewRawSenderBypass is NewRawSender with PACKET_QDISC_BYPASS: each frame
// goes to the driver directly (no qdisc), which on a veth delivers it to
// the peer within the call.
func NewRawSenderBypass(iface string) (*RawSender, error) { return newRawSender(iface, true) }

// findIface finds an interface by name or decimal index.
func findIface(iface string) (*net.Interface, error) {
	var ifi *net.Interface
	var err error
	if idx, aerr := strconv.Atoi(iface); aerr == nil {
		ifi, err = net.InterfaceByIndex(idx)
	} else {
		ifi, err = net.InterfaceByName(iface)
	}
	if err != nil {
		return nil, fmt.Errorf("find interface %q: %w", iface, err)
	}
	return ifi, nil
}

func newRawSender(iface string, bypass bool) (*RawSender, error) {
	ifi, err := findIface(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	// Protocol 0: bound for sending only; the kernel takes each frame's
	// protocol from its Ethernet header.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind AF_PACKET socket to %s: %w", ifi.Name, err)
	}
	if bypass {
		// Frames go to the driver directly, not through the qdisc.
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("set PACKET_QDISC_BYPASS: %w", err)
		}
	}
	return &RawSender{fd: fd, ifindex: ifi.Index,
		msgs: make([]unix.Mmsghdr, maxBatch), iovs: make([]unix.Iovec, maxBatch)}, nil
}

// Send transmits frames in order, up to 1024 per sendmmsg call, and
// returns how many went out. It stops at the first error (ENOBUFS when the
// device queue is full, EMSGSIZE for a frame over the MTU), which it
// returns with the count sent before it.
func (s *RawSender) Send(frames [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	defer clear(s.iovs[:min(len(frames), maxBatch)]) // drop references to the caller's frames
	sent := 0
	for sent < len(frames) {
		batch := frames[sent:min(len(frames), sent+maxBatch)]
		n := 0
		for _, f := range batch {
			if len(f) == 0 {
				return sent, fmt.Errorf("send frame %d: empty frame", sent+n)
			}
			s.iovs[n].Base = &f[0]
			s.iovs[n].SetLen(len(f))
			s.msgs[n].Hdr = unix.Msghdr{Iov: &s.iovs[n]}
			s.msgs[n].Hdr.SetIovlen(1)
			n++
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd),
			uintptr(unsafe.Pointer(&s.msgs[0])), uintptr(n), 0, 0, 0)
		runtime.KeepAlive(batch)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return sent, fmt.Errorf("sendmmsg on interface %d: %w", s.ifindex, errno)
		}
		sent += int(r)
	}
	return sent, nil
}

// Close closes the socket.
func (s *RawSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := unix.Close(s.fd); err != nil {
		return fmt.Errorf("close AF_PACKET socket: %w", err)
	}
	return nil
}
