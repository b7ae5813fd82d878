//go:build linux

package send

import (
	"fmt"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpConn sends batches with sendmmsg(2) on a connected UDP socket:
//
//	int sendmmsg(int fd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
//
//	struct mmsghdr {            // 64 bytes on 64-bit Linux
//	    struct msghdr msg_hdr;  // msg_name NULL (connected), msg_iov → one iovec
//	    unsigned int  msg_len;  // set by the kernel: bytes sent
//	};
//
// It returns how many messages were sent; an error (ECONNREFUSED after an
// ICMP port unreachable, ENOBUFS, ...) is returned only when the first
// message of the call fails, so a partial batch is followed by a call that
// reports the error.
type udpConn struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	hist *batchHist
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec

	// arguments and results of the syscall made inside rc.Write; fn is the
	// method value made once so that a send does not allocate.
	vlen  int
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

func dialUDP(addr string, probe bool, wait time.Duration, hist *batchHist) (transport, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolve collector %s: %w", addr, err)
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		return nil, fmt.Errorf("connect UDP socket to %s: %w", addr, err)
	}
	c.SetWriteBuffer(4 << 20)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("raw UDP socket: %w", err)
	}
	u := &udpConn{conn: c, rc: rc, hist: hist}
	u.fn = u.sendmmsg
	if probe {
		if err := u.probe(wait); err != nil {
			c.Close()
			return nil, fmt.Errorf("probe collector udp://%s: %w", addr, err)
		}
	}
	return u, nil
}

// probe sends an empty datagram and waits: when nothing listens, the ICMP
// port unreachable that comes back is reported by SO_ERROR.
func (u *udpConn) probe(wait time.Duration) error {
	if _, err := u.conn.Write(nil); err != nil {
		return err
	}
	time.Sleep(wait)
	var soErr int
	var gerr error
	if err := u.rc.Control(func(fd uintptr) {
		soErr, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	}); err != nil {
		return err
	}
	if gerr != nil {
		return gerr
	}
	if soErr != 0 {
		return syscall.Errno(soErr)
	}
	return nil
}

func (u *udpConn) sendmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&u.hdrs[0])), uintptr(u.vlen), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until writable
		}
		u.n, u.errno = int(n), e
		return true
	}
}

func (u *udpConn) send(msgs [][]byte) (int, error) {
	if len(u.hdrs) < len(msgs) {
		u.hdrs = make([]unix.Mmsghdr, len(msgs))
		u.iovs = make([]unix.Iovec, len(msgs))
	}
	done := 0
	for done < len(msgs) {
		batch := msgs[done:]
		// Group.Send never queues an empty message.
		for k, m := range batch {
			u.iovs[k] = unix.Iovec{Base: &m[0], Len: uint64(len(m))}
			u.hdrs[k] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: &u.iovs[k], Iovlen: 1}}
		}
		u.vlen = len(batch)
		if err := u.rc.Write(u.fn); err != nil {
			return done, fmt.Errorf("sendmmsg: %w", err)
		}
		if u.errno != 0 {
			return done, fmt.Errorf("sendmmsg: %w", u.errno)
		}
		u.hist.add(u.n)
		done += u.n
	}
	return done, nil
}

func (u *udpConn) broken() bool { return false }

func (u *udpConn) close() error { return u.conn.Close() }
