//go:build linux

package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/asavie/xdp"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bpf"
)

// AF_XDP socket geometry: 16384 frames of 4096 bytes (64 MiB of UMEM,
// as much as the ringbuf mode's ring) per queue, fill and rx rings of
// 8192: with 1024-entry rings (8 MiB) a veth at 100k pkts/s on a busy
// machine found the fill ring empty or the rx ring full within
// milliseconds of the reader falling behind. A frame longer than a UMEM
// frame minus the kernel's headroom (about 3.8 KiB) cannot be received in
// AF_XDP mode.
//
// afxdpBatch bounds the frames Read takes from an rx ring at once: the
// batch's frames go back to the fill ring only once it is read, so a
// small batch keeps the fill ring nearly full.
const afxdpBatch = 512

var afxdpOptions = xdp.SocketOptions{
	NumFrames:              16384,
	FrameSize:              4096,
	FillRingNumDescs:       8192,
	CompletionRingNumDescs: 64,
	RxRingNumDescs:         8192,
	TxRingNumDescs:         0,
}

type xskQueue struct {
	sock    *xdp.Socket
	ifindex int
	queue   int
}

// afxdpSource reads frames the XDP program redirected into AF_XDP sockets,
// one per rx queue of each interface. Read is called from one goroutine;
// Close from any.
type afxdpSource struct {
	filters []*bpf.Filter // one per interface (each has its own socket map)
	queues  []xskQueue
	pfds    []unix.PollFd // the sockets, then the close eventfd
	wake    int           // eventfd written by Close
	snaplen int

	// Current batch: descriptors received from queues[cur] not yet returned.
	cur   int
	batch []xdp.Desc
	next  int
	ts    int64

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
	readMu    sync.Mutex // held by Read while it touches the sockets
}

// rxQueues counts an interface's rx queues from sysfs.
func rxQueues(name string) int {
	m, _ := filepath.Glob(filepath.Join("/sys/class/net", name, "queues", "rx-*"))
	if len(m) == 0 {
		return 1
	}
	return len(m)
}

func openAFXDP(cfg LiveConfig) (*afxdpSource, error) {
	fc, err := filterConfig(cfg)
	if err != nil {
		return nil, err
	}
	mode, err := xdpMode(cfg.XDPMode)
	if err != nil {
		return nil, err
	}
	idx, err := ifaceIndexes(cfg.Ifaces)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("open AF_XDP source: eventfd: %w", err)
	}
	s := &afxdpSource{wake: wake, snaplen: cfg.Snaplen}
	if s.snaplen == 0 {
		s.snaplen = bpf.MaxSnaplen
	}
	fail := func(err error) (*afxdpSource, error) {
		s.release()
		return nil, err
	}
	for i, ix := range idx {
		n := rxQueues(cfg.Ifaces[i])
		c := fc
		c.AFXDP = true
		c.Queues = n
		c.RingBytes = 1 << 16 // the ring buffer is unused in this mode
		f, err := bpf.Load(c)
		if err != nil {
			return fail(fmt.Errorf("open AF_XDP source on %s: %w", cfg.Ifaces[i], err))
		}
		s.filters = append(s.filters, f)
		for q := range n {
			sock, err := xdp.NewSocket(ix, q, &afxdpOptions)
			if err != nil {
				if errors.Is(err, unix.EAFNOSUPPORT) {
					// One line naming what is missing and what to use.
					return fail(fmt.Errorf("%w: Linux %s has no AF_XDP sockets (4.18+, CONFIG_XDP_SOCKETS); use --mode ringbuf or afpacket: %v",
						bpf.ErrUnsupported, bpf.KernelRelease(), err))
				}
				return fail(fmt.Errorf("open AF_XDP socket on %s queue %d: %w", cfg.Ifaces[i], q, err))
			}
			s.queues = append(s.queues, xskQueue{sock: sock, ifindex: ix, queue: q})
			sock.Fill(sock.GetDescs(sock.NumFreeFillSlots()))
			if err := f.RegisterXSK(q, sock.FD()); err != nil {
				return fail(err)
			}
		}
		if err := f.AttachXDP(ix, mode); err != nil {
			return fail(fmt.Errorf("open AF_XDP source on %s: %w", cfg.Ifaces[i], err))
		}
	}
	for _, q := range s.queues {
		s.pfds = append(s.pfds, unix.PollFd{Fd: int32(q.sock.FD()), Events: unix.POLLIN})
	}
	s.pfds = append(s.pfds, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
	return s, nil
}

// Read returns the next frame. Frame.Data aliases the socket's UMEM and
// is valid until the next Read; frames go back to the fill ring only when
// the whole batch they arrived in has been read. AF_XDP carries no capture
// time: Frame.TS is the time the batch was taken from the rx ring.
func (s *afxdpSource) Read(f *Frame) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		if s.next < len(s.batch) {
			q := s.queues[s.cur]
			d := s.batch[s.next]
			s.next++
			data := q.sock.GetFrame(d)
			orig := len(data)
			if len(data) > s.snaplen {
				data = data[:s.snaplen]
			}
			*f = Frame{Data: data, TS: s.ts, LinkType: LinkEthernet, OrigLen: orig, IfIndex: q.ifindex}
			return nil
		}
		if s.batch != nil {
			// The batch is consumed: its frames may be refilled now.
			q := s.queues[s.cur].sock
			q.Fill(q.GetDescs(q.NumFreeFillSlots()))
			s.batch, s.next = nil, 0
			s.cur = (s.cur + 1) % len(s.queues)
		}
		// Take a batch from the first queue with frames, round robin.
		for i := range s.queues {
			j := (s.cur + i) % len(s.queues)
			sock := s.queues[j].sock
			if n := sock.NumReceived(); n > 0 {
				s.cur = j
				s.batch = sock.Receive(min(n, afxdpBatch))
				s.next = 0
				s.ts = time.Now().UnixNano()
				break
			}
		}
		if s.batch != nil {
			continue
		}
		for i := range s.pfds {
			s.pfds[i].Revents = 0
		}
		if _, err := unix.Poll(s.pfds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll AF_XDP sockets: %w", err)
		}
	}
}

// Close detaches the program, closes the sockets and unblocks Read.
// Filters are the BPF filters, one per interface (RTP statistics read
// their stream tables).
func (s *afxdpSource) Filters() []*bpf.Filter { return s.filters }

func (s *afxdpSource) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var one [8]byte
		one[0] = 1
		_, _ = unix.Write(s.wake, one[:])
		s.readMu.Lock() // wait for Read to leave the sockets
		defer s.readMu.Unlock()
		s.closeErr = s.release()
	})
	return s.closeErr
}

func (s *afxdpSource) release() error {
	var errs []error
	for _, f := range s.filters {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, q := range s.queues {
		if err := q.sock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close AF_XDP socket: %w", err))
		}
	}
	if s.wake >= 0 {
		if err := unix.Close(s.wake); err != nil {
			errs = append(errs, os.NewSyscallError("close", err))
		}
		s.wake = -1
	}
	return errors.Join(errs...)
}

// Counters returns the kernel counters summed over the interfaces.
func (s *afxdpSource) Counters() (bpf.Counters, error) {
	var sum bpf.Counters
	for _, f := range s.filters {
		c, err := f.Counters()
		if err != nil {
			return bpf.Counters{}, err
		}
		sum = addCounters(sum, c)
	}
	return sum, nil
}

func addCounters(a, b bpf.Counters) bpf.Counters {
	return bpf.Counters{
		Seen: a.Seen + b.Seen, SIP: a.SIP + b.SIP, SIPContent: a.SIPContent + b.SIPContent,
		RTCP: a.RTCP + b.RTCP, DNS: a.DNS + b.DNS, Flow: a.Flow + b.Flow, Fragment: a.Fragment + b.Fragment,
		Captured: a.Captured + b.Captured, RingDrops: a.RingDrops + b.RingDrops,
		FragTracked: a.FragTracked + b.FragTracked, FlowTracked: a.FlowTracked + b.FlowTracked,
		ParseErrors: a.ParseErrors + b.ParseErrors, Excluded: a.Excluded + b.Excluded,
		Filtered: a.Filtered + b.Filtered, Truncated: a.Truncated + b.Truncated,
		RedirectErrors: a.RedirectErrors + b.RedirectErrors,
		FragEarly:      a.FragEarly + b.FragEarly, FragEarlyLimited: a.FragEarlyLimited + b.FragEarlyLimited,
	}
}

func (s *afxdpSource) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		&bpfCollector{counters: s.Counters, bad: func() uint64 { return 0 }},
		&xskCollector{s: s},
	}
}

// xskCollector exports the kernel's AF_XDP socket statistics
// (XDP_STATISTICS), summed over the sockets.
type xskCollector struct{ s *afxdpSource }

func (c *xskCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descSockDrop }

func (c *xskCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.closed.Load() {
		return
	}
	var st unix.XDPStatistics
	for _, q := range c.s.queues {
		v, err := xdpStatistics(q.sock.FD())
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descSockDrop, fmt.Errorf("read AF_XDP statistics: %w", err))
			return
		}
		st.Rx_dropped += v.Rx_dropped
		st.Rx_invalid_descs += v.Rx_invalid_descs
		st.Rx_ring_full += v.Rx_ring_full
		st.Rx_fill_ring_empty_descs += v.Rx_fill_ring_empty_descs
	}
	ch <- prometheus.MustNewConstMetric(descSockDrop, prometheus.CounterValue, float64(st.Rx_dropped), "rx_dropped")
	ch <- prometheus.MustNewConstMetric(descSockDrop, prometheus.CounterValue, float64(st.Rx_ring_full), "rx_ring_full")
	ch <- prometheus.MustNewConstMetric(descSockDrop, prometheus.CounterValue, float64(st.Rx_invalid_descs), "rx_invalid_descs")
	ch <- prometheus.MustNewConstMetric(descSockDrop, prometheus.CounterValue, float64(st.Rx_fill_ring_empty_descs), "fill_ring_empty")
}

// xdpStatistics reads struct xdp_statistics (getsockopt SOL_XDP,
// XDP_STATISTICS): six u64 counters.
func xdpStatistics(fd int) (unix.XDPStatistics, error) {
	var st unix.XDPStatistics
	l := uint32(unsafe.Sizeof(st))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return st, e
	}
	return st, nil
}
