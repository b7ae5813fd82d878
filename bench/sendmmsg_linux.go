//go:build linux

package bench

import (
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchWriter sends one message many times per sendmmsg(2) call on a
// connected UDP socket.
type batchWriter struct {
	rc interface {
		Write(func(uintptr) bool) error
	}
	msgs []unix.Mmsghdr
	iov  unix.Iovec
}

func newBatchWriter(c *net.UDPConn, msg []byte, batch int) (*batchWriter, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &batchWriter{rc: rc, msgs: make([]unix.Mmsghdr, batch)}
	w.iov.Base = &msg[0]
	w.iov.SetLen(len(msg))
	for i := range w.msgs {
		w.msgs[i].Hdr.Iov = &w.iov
		w.msgs[i].Hdr.SetIovlen(1)
	}
	return w, nil
}

// send sends up to n copies (at most the batch size) and returns how many
// the kernel took; it waits through the poller while the socket buffer is
// full.
func (w *batchWriter) send(n int) (int, error) {
	n = min(n, len(w.msgs))
	var sent int
	var serr error
	err := w.rc.Write(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.msgs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN {
			return false
		}
		if e != 0 {
			serr = e
		}
		sent = int(r)
		return true
	})
	if err == nil {
		err = serr
	}
	return sent, err
}
