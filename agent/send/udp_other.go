//go:build !linux

package send

import (
	"fmt"
	"net"
	"time"
)

// udpConn sends one datagram per write where sendmmsg(2) does not exist.
type udpConn struct {
	conn *net.UDPConn
	hist *batchHist
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
	if probe {
		if _, err := c.Write(nil); err != nil {
			c.Close()
			return nil, fmt.Errorf("probe collector udp://%s: %w", addr, err)
		}
		time.Sleep(wait)
	}
	return &udpConn{conn: c, hist: hist}, nil
}

func (u *udpConn) send(msgs [][]byte) (int, error) {
	for i, m := range msgs {
		if _, err := u.conn.Write(m); err != nil {
			return i, fmt.Errorf("send UDP datagram: %w", err)
		}
		u.hist.add(1)
	}
	return len(msgs), nil
}

func (u *udpConn) broken() bool { return false }

func (u *udpConn) close() error { return u.conn.Close() }
