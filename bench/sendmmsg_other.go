//go:build !linux

package bench

import "net"

// batchWriter sends one message n times, one write each.
type batchWriter struct {
	c   *net.UDPConn
	msg []byte
}

func newBatchWriter(c *net.UDPConn, msg []byte, batch int) (*batchWriter, error) {
	return &batchWriter{c: c, msg: msg}, nil
}

func (w *batchWriter) send(n int) (int, error) {
	for i := range min(n, 64) {
		if _, err := w.c.Write(w.msg); err != nil {
			return i, err
		}
	}
	return min(n, 64), nil
}
