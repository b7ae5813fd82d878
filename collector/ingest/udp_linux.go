//go:build linux

package ingest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpGroup is the set of SO_REUSEPORT sockets bound to one udp:// address.
type udpGroup struct {
	status  Status
	readers []*udpReader
}

// udpReader owns one socket and the buffers of one recvmmsg batch.
//
// recvmmsg(2) fills an array of
//
//	struct mmsghdr {            // 64 bytes on 64-bit Linux
//	    struct msghdr msg_hdr;  // msg_name → sockaddr buffer, msg_iov → one iovec
//	    unsigned int  msg_len;  // bytes received into the iovec
//	};
//
// msg_name receives a sockaddr_in (family u16 host order, port u16 big
// endian, addr [4]u8) or sockaddr_in6 (family, port, flowinfo u32, addr
// [16]u8, scope u32); msg_namelen is in/out and is reset before each call.
type udpReader struct {
	conn  *net.UDPConn
	raw   syscall.RawConn
	bufs  [][]byte
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	hdrs  []unix.Mmsghdr

	// results of the last recv call; recvFn is the method value given to
	// RawConn.Read, made once so a read does not allocate.
	n      int
	errno  syscall.Errno
	recvFn func(fd uintptr) bool

	lastDrops atomic.Uint64 // last SK_MEMINFO_DROPS read, kept after close
}

func newUDPReader(conn *net.UDPConn, batch, size int) (*udpReader, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw socket: %w", err)
	}
	r := &udpReader{
		conn:  conn,
		raw:   raw,
		bufs:  make([][]byte, batch),
		iovs:  make([]unix.Iovec, batch),
		names: make([]unix.RawSockaddrInet6, batch),
		hdrs:  make([]unix.Mmsghdr, batch),
	}
	mem := make([]byte, batch*size)
	for i := range batch {
		r.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(size)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
		r.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	r.recvFn = r.recv
	return r, nil
}

// recv runs inside RawConn.Read: one non-blocking recvmmsg. Returning false
// on EAGAIN parks the goroutine in the network poller until readable.
func (r *udpReader) recv(fd uintptr) bool {
	for i := range r.hdrs {
		r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		r.hdrs[i].Len = 0
	}
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])),
		uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
		return false
	}
	r.n, r.errno = int(n), e
	return true
}

// from decodes the sockaddr of datagram i.
func (r *udpReader) from(i int) netip.AddrPort {
	sa := &r.names[i]
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

func (s *Server) readUDP(r *udpReader) {
	cnt := s.byTransport[UDP]
	for {
		err := r.raw.Read(r.recvFn)
		if err != nil {
			if s.draining.Load() {
				// Close woke us with a past deadline: take what is queued.
				s.drainUDP(r, cnt)
				return
			}
			// The poller failed for good (the socket cannot be read).
			if !errors.Is(err, net.ErrClosed) {
				s.countError(UDP, "read")
			}
			return
		}
		if r.errno != 0 {
			if r.errno != unix.EINTR {
				s.countError(UDP, "read")
			}
			continue
		}
		r.deliverBatch(s, cnt)
	}
}

// drainUDP reads what is queued in r's socket, without waiting, until the
// socket is empty or the drain deadline passes.
func (s *Server) drainUDP(r *udpReader, cnt *counters) {
	for time.Now().Before(s.drainBy) {
		got := false
		if err := r.raw.Control(func(fd uintptr) { got = r.recv(fd) }); err != nil || !got {
			return
		}
		if r.errno != 0 {
			if r.errno == unix.EINTR {
				continue
			}
			return
		}
		r.deliverBatch(s, cnt)
	}
}

// deliverBatch hands the datagrams of the last recvmmsg to the handler.
func (r *udpReader) deliverBatch(s *Server, cnt *counters) {
	for i := range r.n {
		if r.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			s.countError(UDP, "truncated")
			continue
		}
		s.deliver(cnt, r.bufs[i][:r.hdrs[i].Len], r.from(i), UDP)
	}
}

// wake makes blocked readers return, so they drain and stop.
func (g *udpGroup) wake() {
	for _, r := range g.readers {
		r.conn.SetReadDeadline(time.Now())
	}
}

// listenUDP binds cfg.Readers sockets to addr with SO_REUSEPORT and the
// receive buffer asked for.
func listenUDP(addr string, cfg Config) (*udpGroup, error) {
	g := &udpGroup{status: Status{Transport: UDP, Readers: cfg.Readers, RcvBufWanted: cfg.RcvBuf}}
	var sockErr error
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		err := c.Control(func(fd uintptr) {
			sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if sockErr != nil {
				sockErr = fmt.Errorf("set SO_REUSEPORT: %w", sockErr)
				return
			}
			// SO_RCVBUFFORCE passes net.core.rmem_max when we have
			// CAP_NET_ADMIN; otherwise the plain option, capped by the kernel.
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RcvBuf) != nil {
				if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RcvBuf); err != nil {
					sockErr = fmt.Errorf("set SO_RCVBUF: %w", err)
				}
			}
		})
		if err != nil {
			return err
		}
		return sockErr
	}}
	if !cfg.SharePort {
		if err := probeUDP(addr); err != nil {
			return nil, err
		}
	}
	bind := addr
	for i := range cfg.Readers {
		pc, err := lc.ListenPacket(context.Background(), "udp", bind)
		if err != nil {
			g.close()
			return nil, err
		}
		conn := pc.(*net.UDPConn)
		if i == 0 {
			// With port 0 the first socket picks the port; the others join it.
			g.status.Addr = conn.LocalAddr().(*net.UDPAddr).AddrPort()
			g.status.Addr = netip.AddrPortFrom(g.status.Addr.Addr().Unmap(), g.status.Addr.Port())
			bind = conn.LocalAddr().String()
			got, err := sockoptInt(conn, unix.SO_RCVBUF)
			if err != nil {
				conn.Close()
				g.close()
				return nil, fmt.Errorf("read SO_RCVBUF: %w", err)
			}
			g.status.RcvBuf = got
			g.status.Capped = got < cfg.RcvBuf
		}
		r, err := newUDPReader(conn, cfg.Batch, cfg.MaxMessage)
		if err != nil {
			conn.Close()
			g.close()
			return nil, err
		}
		g.readers = append(g.readers, r)
	}
	return g, nil
}

func (g *udpGroup) close() {
	g.drops() // keep the final count
	for _, r := range g.readers {
		r.conn.Close()
	}
}

// drops sums the kernel's per-socket drop counters (SK_MEMINFO_DROPS:
// datagrams dropped because the receive buffer was full, or for bad
// checksums) over the group's sockets.
func (g *udpGroup) drops() uint64 {
	var sum uint64
	for _, r := range g.readers {
		var mem [unix.SK_MEMINFO_VARS]uint32
		l := uint32(unsafe.Sizeof(mem))
		var e syscall.Errno
		err := r.raw.Control(func(fd uintptr) {
			_, _, e = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
				uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
		})
		if err == nil && e == 0 {
			r.lastDrops.Store(uint64(mem[unix.SK_MEMINFO_DROPS]))
		}
		sum += r.lastDrops.Load()
	}
	return sum
}

func sockoptInt(conn *net.UDPConn, opt int) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) }); err != nil {
		return 0, err
	}
	return v, serr
}

// ErrAddrHeld is returned by New for a udp:// address that another socket
// (another process: SO_REUSEPORT would let it share) already holds.
var ErrAddrHeld = errors.New("UDP address already held by another socket (SO_REUSEPORT would split the stream between the processes; stop the other one, or pass --udp-share-port to share on purpose)")

// probeUDP binds addr once without SO_REUSEPORT and closes it again: the
// kernel refuses the bind while any socket holds the port on an
// overlapping address, whether or not it set SO_REUSEPORT. A port of 0 is
// always free.
func probeUDP(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" || port == "" {
		return nil
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return ErrAddrHeld
		}
		return err
	}
	return pc.Close()
}
