package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ackCutter is a loopback TCP proxy to the database that, once armed,
// forwards the next COMMIT and then cuts the connection instead of
// passing the server's reply back: the transaction is committed, but the
// client never hears so (a lost ack).
type ackCutter struct {
	ln    net.Listener
	to    string
	armed atomic.Bool
	cuts  atomic.Int32
	wg    sync.WaitGroup
}

func newAckCutter(t *testing.T, to string) *ackCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ackCutter{ln: ln, to: to}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *ackCutter) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		var cut atomic.Bool
		p.wg.Add(2)
		go func() { // server → client, unless cut
			defer p.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if cut.Load() {
					c.Close()
					s.Close()
					return
				}
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
		}()
		go func() { // client → server, packet by packet
			defer p.wg.Done()
			// MySQL packet: 3-byte little-endian payload length, 1-byte
			// sequence id, payload. COMMIT is COM_QUERY (0x03) "COMMIT".
			hdr := make([]byte, 4)
			for {
				if _, err := io.ReadFull(c, hdr); err != nil {
					break
				}
				n := int(binary.LittleEndian.Uint32(append(hdr[:3:3], 0)))
				pl := make([]byte, n)
				if _, err := io.ReadFull(c, pl); err != nil {
					break
				}
				if len(pl) > 0 && pl[0] == 0x03 && strings.EqualFold(string(bytes.TrimSpace(pl[1:])), "COMMIT") && p.armed.CompareAndSwap(true, false) {
					cut.Store(true)
					p.cuts.Add(1)
				}
				if _, err := s.Write(append(hdr, pl...)); err != nil {
					break
				}
			}
			s.Close()
		}()
	}
}

// TestLostCommitAck: a batch whose COMMIT reached the server but whose
// reply was lost is retried, found in the batch log and not stored twice.
func TestLostCommitAck(t *testing.T) {
	dsn := testDSN(t)
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if dc.Net != "tcp" {
		t.Skipf("the lost-ack proxy needs a TCP DSN, have %s", dc.Net)
	}
	proxy := newAckCutter(t, dc.Addr)
	dc.Addr = proxy.ln.Addr().String()
	s := openTest(t, Config{DSN: dc.FormatDSN(), BatchRows: 100, Conns: 1})
	var g rowGen
	const n = 1000
	for i := range n {
		if i == n/2 {
			proxy.armed.Store(true)
		}
		if err := s.Write(g.sip("hep_proto_1_call", i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if proxy.cuts.Load() != 1 {
		t.Fatalf("proxy cut %d commit replies, want 1", proxy.cuts.Load())
	}
	if got := metricValue(s.m.dupBatches); got != 1 {
		t.Errorf("duplicate batches skipped = %v, want 1", got)
	}
	if got := count(t, s, "SELECT COUNT(*) FROM hep_proto_1_call"); got != n {
		t.Errorf("rows = %d, want %d", got, n)
	}
	if got := count(t, s, "SELECT COUNT(DISTINCT JSON_EXTRACT(payload, '$.id')) FROM hep_proto_1_call"); got != n {
		t.Errorf("distinct rows = %d, want %d", got, n)
	}
}
