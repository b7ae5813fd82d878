package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

func (s *suite) collector() {
	s.ingestUDP()
	s.ingestTCP()
	s.storeRows()
}

// hepSample is one encoded HEP message carrying a generated ~600-byte SIP
// message.
func hepSample() ([]byte, error) {
	p, err := sipSample(600)
	if err != nil {
		return nil, err
	}
	return sampleHEP(p).AppendTo(nil)
}

// ingestUDP offers HEP over UDP on loopback at fixed rates to a collector
// ingest listener (several SO_REUSEPORT readers, recvmmsg) whose handler
// decodes every message, and reports what arrived.
func (s *suite) ingestUDP() {
	const sec = "collector"
	msg, err := hepSample()
	if err != nil {
		s.skip(sec, "HEP ingest, UDP", err.Error())
		return
	}
	rates := []int{100_000, 200_000}
	if !s.opt.Quick {
		rates = append(rates, 300_000)
	}
	d := s.dur(time.Second, 3*time.Second)
	for _, rate := range rates {
		if s.ctx.Err() != nil {
			return
		}
		name := fmt.Sprintf("HEP ingest, UDP loopback, sender paced at %s msg/s", FormatValue(float64(rate), ""))
		l, err := newHEPListener("udp://127.0.0.1:0")
		if err != nil {
			s.skip(sec, name, err.Error())
			return
		}
		st := l.srv.Status()[0]
		sent, elapsed, err := offerUDP(s.ctx, st.Addr.String(), msg, rate, d, 2)
		if err != nil {
			l.Close()
			s.skip(sec, name, err.Error())
			return
		}
		l.settle(sent, 3*time.Second)
		got := l.received.Load()
		drops := l.srv.Stats().UDPDrops
		l.Close()
		target := ""
		if rate == 100_000 {
			target = "no loss at 100,000 msg/s"
		}
		s.add(Result{Section: sec, Name: name, Value: float64(got) / elapsed.Seconds(), Unit: "msg/s received", Target: target,
			Note: fmt.Sprintf("sent %d at %.0f msg/s in %v (%d-byte HEP); received %d; loss %d (%.3f%%), kernel socket drops %d; %d readers, SO_RCVBUF %d",
				sent, float64(sent)/elapsed.Seconds(), elapsed.Round(time.Millisecond), len(msg), got, int64(sent)-int64(got),
				100*float64(int64(sent)-int64(got))/float64(max(sent, 1)), drops, st.Readers, st.RcvBuf)})
	}
}

// offerUDP sends msg to addr at rate messages per second for d from n
// goroutines, each with its own connected socket sending batches with
// sendmmsg, paced every half millisecond.
func offerUDP(ctx context.Context, addr string, msg []byte, rate int, d time.Duration, n int) (uint64, time.Duration, error) {
	ws := make([]*batchWriter, n)
	for i := range ws {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return 0, 0, err
		}
		defer c.Close()
		if ws[i], err = newBatchWriter(c.(*net.UDPConn), msg, 64); err != nil {
			return 0, 0, err
		}
	}
	var sent atomic.Uint64
	var wg sync.WaitGroup
	begin := time.Now()
	per := float64(rate) / float64(n)
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := 0
			for ctx.Err() == nil {
				el := time.Since(begin)
				if el >= d {
					return
				}
				for due := int(per * el.Seconds()); k < due; {
					m, err := w.send(due - k)
					k += m
					sent.Add(uint64(m))
					if err != nil {
						return
					}
				}
				time.Sleep(500 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	return sent.Load(), time.Since(begin), nil
}

// ingestTCP streams HEP over TCP connections as fast as they take it.
func (s *suite) ingestTCP() {
	const sec = "collector"
	const conns = 4
	name := fmt.Sprintf("HEP ingest, TCP loopback, %d connections, as fast as possible", conns)
	msg, err := hepSample()
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	l, err := newHEPListener("tcp://127.0.0.1:0")
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer l.Close()
	addr := l.srv.Status()[0].Addr.String()
	d := s.dur(time.Second, 3*time.Second)
	var sent atomic.Uint64
	var wg sync.WaitGroup
	begin := time.Now()
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			s.skip(sec, name, err.Error())
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			w := bufio.NewWriterSize(c, 64<<10)
			for s.ctx.Err() == nil && time.Since(begin) < d {
				for range 64 {
					w.Write(msg)
				}
				if err := w.Flush(); err != nil {
					return
				}
				sent.Add(64)
			}
		}()
	}
	wg.Wait()
	l.settle(sent.Load(), 5*time.Second)
	elapsed := time.Since(begin)
	got := l.received.Load()
	s.add(Result{Section: sec, Name: name, Value: float64(got) / elapsed.Seconds(), Unit: "msg/s received",
		Note: fmt.Sprintf("sent %d, received %d (loss %d) in %v until the listener drained", sent.Load(), got, int64(sent.Load())-int64(got), elapsed.Round(time.Millisecond))})
}

// sipRowsSample builds store rows from generated SIP messages: HEP encode,
// decode and dissect, as the collector does.
func sipRowsSample(n int) ([]store.Row, error) {
	cfg := gen.DefaultConfig()
	cfg.Calls, cfg.Registrations, cfg.Options = 60, 20, 20
	cfg.RTCP, cfg.DNS = false, false
	_, truth, err := gen.Collect(cfg)
	if err != nil {
		return nil, err
	}
	d, err := dissect.New(dissect.Config{})
	if err != nil {
		return nil, err
	}
	rows := make([]store.Row, 0, min(n, len(truth.SIP)))
	for _, sm := range truth.SIP {
		if len(rows) == cap(rows) {
			break
		}
		r, err := sipRow(d, sm)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// sipRow is one generated SIP message as the collector stores it: HEP
// encoded, decoded and dissected, with private copies of the row's bytes
// (the row aliases the decoder's buffers).
func sipRow(d *dissect.Dissector, sm gen.SIPMessage) (store.Row, error) {
	m := sampleHEP(sm.Raw)
	m.SrcIP, m.DstIP, m.SrcPort, m.DstPort = sm.Src.Addr(), sm.Dst.Addr(), sm.Src.Port(), sm.Dst.Port()
	m.TsSec, m.TsUsec = uint32(sm.TS.Unix()), uint32(sm.TS.Nanosecond()/1000)
	wire, err := m.AppendTo(nil)
	if err != nil {
		return store.Row{}, err
	}
	var dm hep.Message
	if err := dm.DecodeFromBytes(wire); err != nil {
		return store.Row{}, err
	}
	var r store.Row
	if err := d.Dissect(&dm, &r); err != nil {
		return store.Row{}, err
	}
	r.HepHeader = append([]byte(nil), r.HepHeader...)
	r.ProtocolHeader = append([]byte(nil), r.ProtocolHeader...)
	r.Payload = append([]byte(nil), r.Payload...)
	r.Raw = append([]byte(nil), r.Raw...)
	return r, nil
}

// storeRows writes dissected SIP rows through collector/store into the
// database as fast as Write takes them and times until Flush returns.
func (s *suite) storeRows() {
	const sec = "collector"
	n := s.pick(10_000, 100_000)
	name := fmt.Sprintf("database rows/s, %s SIP rows through collector/store into MariaDB", FormatValue(float64(n), ""))
	bdb, err := s.openDB("xhep_bench_")
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer s.closeDB(bdb)
	rows, err := sipRowsSample(1000)
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	reg := prometheus.NewRegistry()
	st, err := store.Open(s.ctx, store.Config{DSN: bdb.dsn, Database: bdb.name, Registerer: reg, SpillDir: bdb.spill})
	if err != nil {
		s.skip(sec, name, "open store: "+err.Error())
		return
	}
	dbPID := bdb.serverPID(s.ctx)
	now := time.Now().UTC()
	meter := startCPU(dbPID)
	begin := time.Now()
	var werr error
	for i := range n {
		r := rows[i%len(rows)]
		r.CreateDate = now.Add(time.Duration(i) * time.Microsecond)
		if err := st.Write(&r); err != nil && werr == nil {
			werr = err
		}
	}
	ferr := st.Flush(s.ctx)
	elapsed := time.Since(begin)
	self, db := meter.cores()
	cerr := st.Close()
	if werr != nil || ferr != nil {
		s.skip(sec, name, fmt.Sprintf("write: %v, flush: %v", werr, ferr))
		return
	}
	if cerr != nil {
		s.logf("  store close: %v", cerr)
	}
	stored, err := bdb.sipRows(s.ctx)
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	s.add(Result{Section: sec, Name: name, Value: float64(stored) / elapsed.Seconds(), Unit: "rows/s",
		Target: "≥ 50,000 SIP rows/s, collector < 1 core",
		Note: fmt.Sprintf("%d of %d rows stored (loss %d) in %v, first Write to Flush; prepared multi-row INSERT, 4 writer connections, batches ≤ 2000 rows; server shared with other test runs",
			stored, n, int64(n)-stored, elapsed.Round(time.Millisecond))})
	if cnt, mean, p99, ok := histogram(reg, "xhep_store_batch_seconds"); ok {
		p99s := "> 8 s"
		if p99 < 1e9 {
			p99s = fmt.Sprintf("≤ %.0f ms", p99*1000)
		}
		s.add(Result{Section: sec, Name: "database batch latency (write + commit), mean", Value: mean * 1000, Unit: "ms",
			Note: fmt.Sprintf("%d batches; p99 %s (histogram bucket)", cnt, p99s)})
	}
	s.add(Result{Section: sec, Name: "collector store CPU while writing", Value: self * 100, Unit: "% of one core", Note: "this process: row copies, batching, INSERT parameter encoding"})
	if db >= 0 {
		s.add(Result{Section: sec, Name: "mariadbd CPU while writing", Value: db * 100, Unit: "% of one core", Note: fmt.Sprintf("pid %d from @@pid_file, /proc/<pid>/stat delta", dbPID)})
	} else {
		s.skip(sec, "mariadbd CPU while writing", "database server process not found on this machine (@@pid_file unreadable)")
	}
}
