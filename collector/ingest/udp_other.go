//go:build !linux

package ingest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// udpGroup is one socket per udp:// address off Linux (no SO_REUSEPORT
// spreading, no recvmmsg): a portable fallback.
type udpGroup struct {
	status  Status
	readers []*udpReader
}

type udpReader struct {
	conn *net.UDPConn
	buf  []byte
}

func listenUDP(addr string, cfg Config) (*udpGroup, error) {
	pc, err := new(net.ListenConfig).ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	_ = conn.SetReadBuffer(cfg.RcvBuf)
	ap := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return &udpGroup{
		status:  Status{Transport: UDP, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Readers: 1, RcvBufWanted: cfg.RcvBuf},
		readers: []*udpReader{{conn: conn, buf: make([]byte, cfg.MaxMessage)}},
	}, nil
}

func (s *Server) readUDP(r *udpReader) {
	cnt := s.byTransport[UDP]
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(r.buf)
		if err != nil {
			if s.draining.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.countError(UDP, "read")
			continue
		}
		s.deliver(cnt, r.buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), UDP)
	}
}

// wake makes blocked readers return (no drain off Linux).
func (g *udpGroup) wake() {
	for _, r := range g.readers {
		r.conn.SetReadDeadline(time.Now())
	}
}

func (g *udpGroup) close() {
	for _, r := range g.readers {
		r.conn.Close()
	}
}

func (g *udpGroup) drops() uint64 { return 0 }
