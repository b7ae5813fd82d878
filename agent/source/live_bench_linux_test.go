//go:build linux

package source

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time (user+system) the calling OS thread has
// used, from /proc/thread-self/stat fields 14 and 15, in clock ticks.
func threadCPU() time.Duration {
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseUint(f[11], 10, 64)
	k, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(u+k) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// rawSIPFrame is an Ethernet/IPv4/UDP frame of size bytes carrying a SIP
// OPTIONS to 10.199.0.1:5060, sent to a MAC address nobody has, so the
// receiving stack drops it early (PACKET_OTHERHOST) after XDP has seen it.
func rawSIPFrame(size int, seq int) []byte {
	payload := []byte(fmt.Sprintf("OPTIONS sip:bench@10.199.0.1 SIP/2.0\r\nCall-ID: %d@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", seq))
	for len(payload) < size-42 {
		payload = append(payload, 'x')
	}
	b := make([]byte, 42, 42+len(payload))
	copy(b, []byte{2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 1, 8, 0})
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:], []byte{10, 199, 0, 2})
	copy(ip[16:], []byte{10, 199, 0, 1})
	udp := b[34:]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 5060)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

// rawSender sends frames on an interface with sendmmsg(2) on an AF_PACKET
// socket that bypasses the qdisc.
type rawSender struct {
	fd   int
	msgs []unix.Mmsghdr
	iov  []unix.Iovec
}

func newRawSender(t testing.TB, ifname string, frames [][]byte) *rawSender {
	t.Helper()
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 8<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: l.Attrs().Index}); err != nil {
		t.Fatal(err)
	}
	s := &rawSender{fd: fd, msgs: make([]unix.Mmsghdr, len(frames)), iov: make([]unix.Iovec, len(frames))}
	for i, f := range frames {
		s.iov[i].Base = &f[0]
		s.iov[i].SetLen(len(f))
		s.msgs[i].Hdr.Iov = &s.iov[i]
		s.msgs[i].Hdr.SetIovlen(1)
	}
	return s
}

// send sends the first n frames; it returns how many the kernel took.
func (s *rawSender) send(n int) int {
	sent := 0
	for sent < n {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.msgs[sent])), uintptr(n-sent), 0, 0, 0)
		if e != 0 {
			if e == unix.EAGAIN || e == unix.ENOBUFS || e == unix.EINTR {
				runtime.Gosched()
				continue
			}
			return sent
		}
		sent += int(r)
	}
	return sent
}

// BenchmarkLiveRingbuf sends SIP frames of 600 bytes at fixed rates from
// the other namespace over a veth pair into xbpf0, where the ring buffer
// source captures them (XDP, native mode on veth). One iteration is one
// second of traffic. Reported: frames sent, the share that reached the
// reader (loss-pct), ring drops, and the reader thread's CPU per 100,000
// frames/s. Run with -benchtime=1x (or 3x) on an idle machine; the rates
// the sender reaches depend on the machine.
func BenchmarkLiveRingbuf(b *testing.B) {
	for _, rate := range []int{50_000, 100_000, 200_000, 300_000} {
		b.Run(fmt.Sprintf("rate=%dk", rate/1000), func(b *testing.B) {
			benchLive(b, rate, LiveConfig{Mode: "ringbuf"})
		})
	}
}

func benchLive(b *testing.B, rate int, cfg LiveConfig) {
	tp := newTopo(b)
	cfg.Ifaces = []string{"xbpf0"}
	cfg.SIPByContent = true
	cfg.RTCP = true
	var src Source
	var err error
	inNS(b, tp.a, func() { src, err = OpenLive(cfg) })
	if err != nil {
		b.Fatalf("OpenLive: %v", err)
	}
	b.Cleanup(func() { src.Close() })

	// The reader: its own OS thread, so its CPU time can be read.
	var read atomic.Int64
	cpu := make(chan time.Duration, 1)
	startCPU := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		var f Frame
		var c0 time.Duration
		started := false
		for {
			select {
			case <-startCPU:
				c0, started = threadCPU(), true
				startCPU = nil
			default:
			}
			if err := src.Read(&f); err != nil {
				if started {
					cpu <- threadCPU() - c0
				} else {
					cpu <- 0
				}
				return
			}
			read.Add(1)
		}
	}()

	// Senders: two threads in namespace b, each with its own socket,
	// each sending half the rate, paced every 100 µs.
	const batch = 64
	const senders = 2
	socks := make([]*rawSender, senders)
	for i := range socks {
		frames := make([][]byte, batch)
		for j := range frames {
			frames[j] = rawSIPFrame(600, i*batch+j)
		}
		inNS(b, tp.b, func() { socks[i] = newRawSender(b, "xbpf1", frames) })
	}
	time.Sleep(100 * time.Millisecond)
	close(startCPU)
	var sent atomic.Int64
	var elapsed time.Duration
	for b.Loop() {
		begin := time.Now()
		done := make(chan struct{})
		for i := range socks {
			go func(s *rawSender) {
				defer func() { done <- struct{}{} }()
				per := float64(rate) / senders
				n := 0
				for {
					el := time.Since(begin)
					if el >= time.Second {
						return
					}
					for target := int(per * el.Seconds()); n < target; {
						k := s.send(min(batch, target-n))
						if k == 0 {
							return
						}
						n += k
						sent.Add(int64(k))
					}
					time.Sleep(100 * time.Microsecond)
				}
			}(socks[i])
		}
		for range socks {
			<-done
		}
		elapsed += time.Since(begin)
	}
	// Let the reader drain, then stop it.
	deadline := time.Now().Add(3 * time.Second)
	for read.Load() < sent.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	rs := src.(*ringbufSource)
	k, _ := rs.Counters()
	src.Close()
	used := <-cpu
	got := read.Load()
	total := sent.Load()
	pps := float64(total) / elapsed.Seconds()
	b.ReportMetric(pps, "sent-pkts/s")
	b.ReportMetric(100*float64(total-got)/float64(total), "loss-pct")
	b.ReportMetric(float64(k.RingDrops), "ringdrops")
	b.ReportMetric(float64(int64(k.Seen)-total), "seen-minus-sent")
	if pps > 0 {
		b.ReportMetric(used.Seconds()/elapsed.Seconds()*100*(100_000/pps), "reader-cpu-pct-per-100kpps")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}
