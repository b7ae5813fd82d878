//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/agent"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/bpf"
)

// The live capture run: two network namespaces joined by a veth pair,
//
//	xbench-a-PID: xbench0 (the agent's capture interface, XDP ringbuf)
//	xbench-b-PID: xbench1 (the generator's RawSender)
//
// The agent runs as a child process (this executable again, told by
// LiveChildEnv), so its CPU and memory are its own: /proc/<pid>/stat and
// /proc/<pid>/status. It opens the live source inside namespace a and sends
// HEP over UDP, then (a second series of steps) over TCP, to a listener of
// this process on the host's loopback.

// LiveChildEnv, when set in the environment, makes LiveChildMain the
// program: cmd/xhep-bench (and the package's tests) check it first.
const LiveChildEnv = "XHEP_BENCH_LIVE_AGENT"

// childReport is what the agent child prints when it stops.
type childReport struct {
	Frames     uint64            `json:"frames"`
	HEP        uint64            `json:"hep"`
	Drops      map[string]uint64 `json:"pipeline_drops"`
	Sent       uint64            `json:"sent"`
	SendDrops  uint64            `json:"send_drops"`
	Kernel     bpf.Counters      `json:"kernel"`
	KernelErr  string            `json:"kernel_error,omitempty"`
	RunError   string            `json:"run_error,omitempty"`
	MaxRSSKiB  int               `json:"max_rss_kib"`
	FinalRSSKB int               `json:"rss_kib"`
	// RSS split at the end of the run, before the source closes: anonymous
	// memory is the agent's own (Go heap, queues); file-backed pages are
	// the BPF ring buffer's mapping (data pages mapped twice), which the
	// kernel counts in RSS once touched.
	RssAnonKiB int    `json:"rss_anon_kib"`
	RssFileKiB int    `json:"rss_file_kib"`
	Batches    string `json:"batches"`
}

// LiveChildMain is the agent side of the live run. It reads its settings
// from the environment (namespace, interface, collector), opens a ringbuf
// live source, prints "ready", runs the pipeline until SIGTERM or stdin
// closes, then prints a JSON childReport and returns the exit code.
func LiveChildMain(stdin io.Reader, stdout, stderr io.Writer) int {
	nsName, iface, coll := os.Getenv("XHEP_BENCH_NETNS"), os.Getenv("XHEP_BENCH_IFACE"), os.Getenv("XHEP_BENCH_COLLECTOR")
	fail := func(err error) int {
		fmt.Fprintf(stderr, "xhep-bench live agent: %v\n", err)
		return 1
	}
	_, hostport, _ := strings.Cut(coll, "://")
	exclude, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return fail(fmt.Errorf("collector %q: %w", coll, err))
	}
	var src source.Source
	err = vethns.DoNamed(nsName, func() error {
		var err error
		src, err = source.OpenLive(source.LiveConfig{Ifaces: []string{iface}, Mode: "ringbuf",
			SIPByContent: true, RTCP: true, Exclude: []netip.AddrPort{exclude}})
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("open live source: %w", err))
	}
	p, err := agent.New(agentConfig(coll, false))
	if err != nil {
		src.Close()
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	go func() {
		select {
		case <-sig:
		case <-ctx.Done():
		}
		close(stop)
	}()
	go func() { io.Copy(io.Discard, stdin); sig <- syscall.SIGTERM }()
	if path := os.Getenv("XHEP_BENCH_CPUPROFILE"); path != "" {
		// A CPU profile of the agent child, for go tool pprof.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	done := make(chan error, 1)
	go func() { _, err := p.Run(ctx, src); done <- err }()
	fmt.Fprintln(stdout, "ready")
	var rep childReport
	select {
	case <-stop:
	case err := <-done:
		rep.RunError = fmt.Sprint(err)
	}
	rep.RssAnonKiB, _ = procStatusKB(0, "RssAnon")
	rep.RssFileKiB, _ = procStatusKB(0, "RssFile")
	// Kernel counters before the source closes.
	if c, ok := src.(interface{ Counters() (bpf.Counters, error) }); ok {
		if k, err := c.Counters(); err == nil {
			rep.Kernel = k
		} else {
			rep.KernelErr = err.Error()
		}
	} else {
		rep.KernelErr = "source has no kernel counters"
	}
	cancel()
	if rep.RunError == "" {
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			rep.RunError = err.Error()
		}
	}
	p.Close()
	src.Close()
	sum := p.Summary()
	rep.Frames, rep.HEP, rep.Drops = sum.Frames, sum.HEPTotal(), sum.Drops
	if sum.Send != nil {
		rep.Sent, rep.SendDrops = sum.Send.Sent(), sum.Send.Dropped()
		rep.Batches = batchNote(sum.Send)
	}
	rep.MaxRSSKiB, _ = procStatusKB(0, "VmHWM")
	rep.FinalRSSKB, _ = procStatusKB(0, "VmRSS")
	json.NewEncoder(stdout).Encode(rep)
	return 0
}

// liveTopo is the namespace pair of the live section: the agent's side
// (xbench0) and the generator's (xbench1).
type liveTopo = vethns.Pair

func newLiveTopo() (*liveTopo, error) {
	return vethns.New(vethns.Config{
		NameA: fmt.Sprintf("xbench-a-%d", os.Getpid()), NameB: fmt.Sprintf("xbench-b-%d", os.Getpid()),
		IfA: "xbench0", IfB: "xbench1", TxQLen: 10000,
	})
}

// liveReason says why the live run cannot happen here, or "".
func liveReason() string {
	if os.Geteuid() != 0 {
		return "needs root (BPF, network namespaces, raw sockets)"
	}
	if err := bpf.Probe(false); err != nil {
		return "BPF not permitted or not supported: " + err.Error()
	}
	return ""
}

// live steps the offered rate of generated SIP frames sent onto the veth
// until the agent loses some, one fresh agent process per step.
func (s *suite) live() {
	const sec = "agent"
	if r := liveReason(); r != "" {
		s.skip(sec, "live ringbuf capture on veth", r)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		s.skip(sec, "live ringbuf capture on veth", "cannot re-execute this program as the agent: "+err.Error())
		return
	}
	pkts, _, err := sipFrames(300)
	if err != nil {
		s.skip(sec, "live ringbuf capture on veth", err.Error())
		return
	}
	var frames [][]byte
	for _, p := range pkts {
		if p.Kind == gen.KindSIP {
			frames = append(frames, p.Data)
		}
	}
	topo, err := newLiveTopo()
	if err != nil {
		s.skip(sec, "live ringbuf capture on veth", "network namespaces: "+err.Error())
		return
	}
	defer topo.Close()
	for _, scheme := range []string{"udp", "tcp"} {
		if !s.liveOver(exe, topo, frames, scheme) {
			return
		}
	}
}

// liveOver runs the steps with HEP delivered over scheme; false means stop
// (interrupted, or the run cannot go on).
func (s *suite) liveOver(exe string, topo *liveTopo, frames [][]byte, scheme string) bool {
	const sec = "agent"
	up := strings.ToUpper(scheme)
	rates := []int{50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 400_000}
	if s.opt.Quick {
		rates = []int{50_000, 100_000}
	}
	d := s.dur(time.Second, 3*time.Second)
	best := -1.0
	var bestStep, lossy *liveStep
	for _, rate := range rates {
		if s.ctx.Err() != nil {
			return false
		}
		st, err := s.liveStep(exe, topo, frames, rate, d, scheme)
		if s.ctx.Err() != nil {
			return false // interrupted: the step was cut short, it says nothing
		}
		if err != nil {
			s.skip(sec, fmt.Sprintf("live ringbuf capture, HEP over %s, generator paced at %s pkts/s", up, FormatValue(float64(rate), "")), err.Error())
			return false
		}
		s.add(Result{Section: sec, Name: fmt.Sprintf("live ringbuf capture on veth, HEP over %s, generator paced at %s SIP pkts/s", up, FormatValue(float64(rate), "")),
			Value: float64(st.loss()), Unit: "frames lost", Note: st.note()})
		if st.loss() > 0 {
			lossy = st
			break
		}
		if st.rate > best {
			best, bestStep = st.rate, st
		}
	}
	if bestStep == nil {
		s.add(Result{Section: sec, Name: fmt.Sprintf("live ringbuf, HEP over %s: highest lossless rate", up), Value: 0, Unit: "pkts/s",
			Target: "0 loss at 200,000 pkts/s", Peer: "heplify (AF_PACKET) loses 31% at 79,000 pkts/s", Note: "loss at every step"})
		return true
	}
	s.add(Result{Section: sec, Name: fmt.Sprintf("live ringbuf, HEP over %s: highest lossless rate (sent = HEP received)", up), Value: best, Unit: "pkts/s",
		Target: "0 loss at 200,000 pkts/s", Peer: "heplify (AF_PACKET) loses 31% at 79,000 pkts/s",
		Note: fmt.Sprintf("%d-frame SIP set (UDP, %d–%d B), steps of %v; %s; load average %s", len(frames), minLen(frames), maxLen(frames), d, lossy.where(rates), loadAvg())})
	s.add(Result{Section: sec, Name: fmt.Sprintf("live agent CPU per 100,000 pkts/s, HEP over %s (at the highest lossless rate)", up), Value: bestStep.cpuPer100k(), Unit: "% of one core",
		Note: fmt.Sprintf("agent process (ring read, decode, HEP encode, %s send): /proc/<pid>/stat utime+stime over the step and its drain, per second of sending", up)})
	c := bestStep.child
	s.add(Result{Section: sec, Name: fmt.Sprintf("live agent memory, HEP over %s (peak RSS)", up), Value: float64(c.MaxRSSKiB) / 1024, Unit: "MiB",
		Note: fmt.Sprintf("VmHWM of the agent process; at the end of the step: %.1f MiB anonymous (Go heap, queues), %.1f MiB file-backed (the BPF ring's mapping: 64 MiB of data pages mapped twice, counted once touched); RSS at exit %.1f MiB",
			float64(c.RssAnonKiB)/1024, float64(c.RssFileKiB)/1024, float64(c.FinalRSSKB)/1024)})
	return true
}

func minLen(f [][]byte) int {
	m := 1 << 30
	for _, b := range f {
		m = min(m, len(b))
	}
	return m
}

func maxLen(f [][]byte) int {
	m := 0
	for _, b := range f {
		m = max(m, len(b))
	}
	return m
}

// liveStep is one offered rate's outcome.
type liveStep struct {
	offered   int
	sent      uint64 // frames the generator put on the veth
	genErrors uint64 // sendmmsg calls refused (ENOBUFS)
	rate      float64
	received  uint64 // HEP the listener got
	udpDrops  uint64
	cpu       time.Duration
	dur       time.Duration
	child     childReport
}

// where says at which step and stage loss appeared (st may be nil: none).
func (st *liveStep) where(rates []int) string {
	if st == nil {
		return "no loss at any step up to " + FormatValue(float64(rates[len(rates)-1]), "pkts/s") +
			" offered (the generator, on the same cores, may reach less: each step's note has the rate it reached)"
	}
	k := st.child.Kernel
	var pd uint64
	for _, v := range st.child.Drops {
		pd += v
	}
	return fmt.Sprintf("first loss at the %s step: %d of %d frames (kernel ring %d, not captured %d, pipeline %d, agent sender %d, collector socket %d)",
		FormatValue(float64(st.offered), "pkts/s"), st.loss(), st.sent, k.RingDrops, int64(st.sent)-int64(k.Captured)-int64(k.RingDrops),
		pd, st.child.SendDrops, st.udpDrops)
}

func (st *liveStep) loss() int64 { return int64(st.sent) - int64(st.received) }

func (st *liveStep) cpuPer100k() float64 {
	if st.rate <= 0 {
		return 0
	}
	return st.cpu.Seconds() / st.dur.Seconds() * 100 * 100_000 / st.rate
}

func (st *liveStep) note() string {
	k := st.child.Kernel
	var pd uint64
	for _, v := range st.child.Drops {
		pd += v
	}
	s := fmt.Sprintf("sent %d (%.0f pkts/s); kernel saw %d, captured %d, ring drops %d; agent read %d, HEP %d, pipeline drops %d, sender drops %d, sent %d; listener received %d (socket drops %d); agent CPU %.0f%% of a core per 100k pkts/s, peak RSS %.1f MiB",
		st.sent, st.rate, k.Seen, k.Captured, k.RingDrops, st.child.Frames, st.child.HEP, pd, st.child.SendDrops, st.child.Sent,
		st.received, st.udpDrops, st.cpuPer100k(), float64(st.child.MaxRSSKiB)/1024)
	if st.genErrors > 0 {
		s += fmt.Sprintf("; generator refused by the kernel %d times (ENOBUFS), rate short of offered", st.genErrors)
	}
	if st.child.Batches != "" {
		s += "; " + st.child.Batches
	}
	if st.child.KernelErr != "" {
		s += "; kernel counters: " + st.child.KernelErr
	}
	if st.child.RunError != "" {
		s += "; agent: " + st.child.RunError
	}
	return s
}

// liveStep starts an agent child, offers rate frames/s for d from two
// RawSenders in namespace b, waits for the HEP to drain, stops the child.
func (s *suite) liveStep(exe string, topo *liveTopo, frames [][]byte, rate int, d time.Duration, scheme string) (*liveStep, error) {
	l, err := newHEPListener(scheme + "://127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), LiveChildEnv+"=1", "XHEP_BENCH_NETNS="+topo.NameA, "XHEP_BENCH_IFACE=xbench0", "XHEP_BENCH_COLLECTOR="+l.url(0))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	// Its own process group, killed with us: a stuck agent never outlives
	// the suite.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	killed := false
	defer func() {
		if !killed {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	}()
	rd := bufio.NewReader(out)
	ready := make(chan error, 1)
	go func() {
		line, err := rd.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("unexpected %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Wait()
			killed = true
			return nil, fmt.Errorf("agent did not start: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
	case <-time.After(20 * time.Second):
		return nil, fmt.Errorf("agent did not start within 20 s: %s", stderr.String())
	}
	time.Sleep(200 * time.Millisecond) // XDP attached; let the rings settle
	pid := cmd.Process.Pid

	// Two senders in namespace b, each with its own socket and half the rate.
	const senders = 2
	socks := make([]*gen.RawSender, senders)
	for i := range socks {
		err := vethns.DoNamed(topo.NameB, func() error {
			var err error
			socks[i], err = gen.NewRawSender("xbench1")
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("raw sender: %w", err)
		}
		defer socks[i].Close()
	}
	st := &liveStep{offered: rate}
	cpu0, _ := procCPU(pid)
	var sent, refused atomic.Uint64
	var wg sync.WaitGroup
	begin := time.Now()
	per := float64(rate) / senders
	for i, sk := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, next := 0, i*len(frames)/senders
			batch := make([][]byte, 0, 256)
			for s.ctx.Err() == nil {
				el := time.Since(begin)
				if el >= d {
					return
				}
				due := int(per * el.Seconds())
				for n < due {
					batch = batch[:0]
					for len(batch) < min(cap(batch), due-n) {
						batch = append(batch, frames[next%len(frames)])
						next++
					}
					k, err := sk.Send(batch)
					n += k
					sent.Add(uint64(k))
					next -= len(batch) - k
					if err != nil {
						if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN) {
							refused.Add(1)
							runtime.Gosched()
							break
						}
						return
					}
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	st.dur = time.Since(begin)
	st.sent, st.genErrors = sent.Load(), refused.Load()
	st.rate = float64(st.sent) / st.dur.Seconds()
	l.settle(st.sent, 5*time.Second)
	cpu1, _ := procCPU(pid)
	st.cpu = cpu1 - cpu0
	st.received = l.received.Load()
	st.udpDrops = l.srv.Stats().UDPDrops

	cmd.Process.Signal(syscall.SIGTERM)
	stdin.Close()
	repDone := make(chan error, 1)
	go func() { repDone <- json.NewDecoder(rd).Decode(&st.child) }()
	select {
	case err := <-repDone:
		cmd.Wait()
		killed = true
		if err != nil {
			return nil, fmt.Errorf("agent report: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("agent did not stop within 30 s")
	}
	s.logf("  %s step %d pkts/s: %s", scheme, rate, st.note())
	return st, nil
}
