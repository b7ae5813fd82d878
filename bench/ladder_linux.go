//go:build linux

package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/bpf"
)

// liveTopo is the namespace pair of the live sections: the agent's side
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
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs iproute2's ip command (ip netns exec)"
	}
	return ""
}

// xhepModes are the agent's live capture modes, each run in the ladder.
var xhepModes = []string{"ringbuf", "afxdp", "afpacket"}

// agentSpec is one capture agent under test: xhep in a mode, or a peer.
type agentSpec struct {
	mode string // xhep's mode; "" for a peer, "none" for no agent at all
	peer *Peer
	rtp  *rtpSpec // xhep with --rtp-stats: the SDP sent first, the reports tallied (rtp_linux.go)
}

func (a agentSpec) String() string {
	if a.peer != nil {
		return a.peer.Name
	}
	if a.mode == "none" {
		return "no capture"
	}
	return "xhep " + a.mode
}

// agentProc is a running agent child.
type agentProc struct {
	spec   agentSpec
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	rd     *bufio.Reader
	stderr *strings.Builder
	done   bool
}

// startAgent starts a inside namespace topo.NameA, sending HEP to coll
// (scheme://127.0.0.1:port on that namespace's loopback), and waits until
// it captures.
func startAgent(exe string, a agentSpec, topo *liveTopo, coll string, logf func(string, ...any)) (*agentProc, error) {
	scheme, hostport, _ := strings.Cut(coll, "://")
	var cmd *exec.Cmd
	if a.peer != nil {
		cmd = exec.Command("ip", append([]string{"netns", "exec", topo.NameA, a.peer.Path}, a.peer.args("xbench0", scheme, hostport)...)...)
	} else {
		cmd = exec.Command("ip", "netns", "exec", topo.NameA, exe)
		cmd.Env = append(os.Environ(), LiveChildEnv+"=1", "XHEP_BENCH_NETNS=", "XHEP_BENCH_IFACE=xbench0",
			"XHEP_BENCH_COLLECTOR="+coll, "XHEP_BENCH_MODE="+a.mode)
		if a.rtp != nil && !a.rtp.off {
			cmd.Env = append(cmd.Env, rtpChildEnv+"=1")
		}
	}
	p := &agentProc{spec: a, cmd: cmd, stderr: &strings.Builder{}}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.rd = bufio.NewReader(out)
	cmd.Stderr = &limitedWriter{b: p.stderr, n: 64 << 10, fwd: func(line string) {
		if strings.HasPrefix(line, "dropping") {
			logf("    %s agent: %s", a, line)
		}
	}}
	// Its own process group, killed with us: a stuck agent never outlives
	// the suite.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", a, err)
	}
	if a.peer != nil {
		go io.Copy(io.Discard, p.rd)
		// A peer says nothing machine-readable when it is ready: give it
		// time to open its capture, and check it is still there.
		time.Sleep(1500 * time.Millisecond)
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			p.kill()
			return nil, fmt.Errorf("%s exited at start: %s", a, strings.TrimSpace(p.stderr.String()))
		}
		return p, nil
	}
	ready := make(chan error, 1)
	go func() {
		line, err := p.rd.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("unexpected %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			p.kill()
			return nil, fmt.Errorf("agent did not start: %v: %s", err, strings.TrimSpace(p.stderr.String()))
		}
	case <-time.After(20 * time.Second):
		p.kill()
		return nil, fmt.Errorf("agent did not start within 20 s: %s", p.stderr.String())
	}
	time.Sleep(200 * time.Millisecond) // XDP attached; let the rings settle
	return p, nil
}

func (p *agentProc) pid() int { return p.cmd.Process.Pid }

func (p *agentProc) kill() {
	if !p.done {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Wait()
		p.done = true
	}
}

// stop ends the agent and returns its report: xhep's own, or for a peer
// only its peak RSS.
func (p *agentProc) stop() (childReport, error) {
	var rep childReport
	defer p.kill()
	if p.spec.peer != nil {
		rep.MaxRSSKiB, _ = procStatusKB(p.pid(), "VmHWM")
		rep.FinalRSSKB, _ = procStatusKB(p.pid(), "VmRSS")
		rep.RssAnonKiB, _ = procStatusKB(p.pid(), "RssAnon")
		rep.RssFileKiB, _ = procStatusKB(p.pid(), "RssFile")
		p.cmd.Process.Signal(syscall.SIGTERM)
		w := make(chan struct{})
		go func() { p.cmd.Wait(); close(w) }()
		select {
		case <-w:
			p.done = true
		case <-time.After(10 * time.Second):
		}
		return rep, nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.stdin.Close()
	repDone := make(chan error, 1)
	go func() { repDone <- json.NewDecoder(p.rd).Decode(&rep) }()
	select {
	case err := <-repDone:
		p.cmd.Wait()
		p.done = true
		if err != nil {
			return rep, fmt.Errorf("agent report: %v: %s", err, strings.TrimSpace(p.stderr.String()))
		}
	case <-time.After(40 * time.Second):
		return rep, errors.New("agent did not stop within 40 s")
	}
	return rep, nil
}

// load is one stream of generated frames in a step: Frames cycled at Rate
// per second (0: as fast as the senders go) by Senders goroutines, each
// with its own socket in namespace b. Capture says the agent should send
// one HEP message for each of these frames.
type load struct {
	Name    string
	Frames  [][]byte
	Rate    float64
	Senders int
	Capture bool
}

// loadResult is what a load's senders did.
type loadResult struct {
	gen.BlastStats
	Name    string
	offered float64       // the load's Rate (0: as fast as the senders go)
	CPU     time.Duration // the sender threads' CPU (their softirq work included)
}

// step is one measured interval: an agent (or none), loads, HEP received.
type step struct {
	agent    agentSpec
	scheme   string
	loads    []loadResult
	expected uint64 // frames that should each give a HEP message
	received uint64
	sockDrop uint64 // listener's UDP socket drops
	agentCPU time.Duration
	softirq  time.Duration // /proc/stat softirq time, all CPUs
	cpuAll   time.Duration // /proc/stat busy time, all CPUs
	dur      time.Duration
	child    childReport
	media    mediaTally // --rtp-stats: the last report of each stream
}

func (st *step) sent() uint64 {
	var n uint64
	for _, l := range st.loads {
		n += l.Sent
	}
	return n
}

func (st *step) lost() int64 { return int64(st.expected) - int64(st.received) }

// cpuPer100k is the agent's CPU in % of one core per 100,000 captured
// frames per second.
func (st *step) cpuPer100k() float64 {
	if st.expected == 0 || st.dur <= 0 {
		return 0
	}
	rate := float64(st.expected) / st.dur.Seconds()
	return st.agentCPU.Seconds() / st.dur.Seconds() * 100 * 100_000 / rate
}

// softirqPerPkt is the kernel's softirq time per frame sent, ns.
func (st *step) softirqPerPkt() float64 {
	if n := st.sent(); n > 0 {
		return float64(st.softirq.Nanoseconds()) / float64(n)
	}
	return 0
}

// stages says where frames were lost: kernel, pipeline, sender, socket.
func (st *step) stages() string {
	if st.agent.peer != nil {
		return fmt.Sprintf("peer: no internal counters; listener socket drops %d", st.sockDrop)
	}
	c := st.child
	k := c.Kernel
	var pd uint64
	for _, v := range c.Drops {
		pd += v
	}
	ring := "ring"
	if st.agent.mode == "afpacket" {
		ring = "AF_PACKET ring"
	}
	notCaptured := int64(st.expected) - int64(k.Captured) - int64(k.RingDrops)
	s := fmt.Sprintf("kernel: not captured %d, %s full %d; pipeline %d; sender %d; listener socket %d",
		max(notCaptured, 0), ring, k.RingDrops, pd, c.SendDrops, st.sockDrop)
	if len(c.SocketDrops) > 0 && st.agent.mode == "afxdp" { // AF_PACKET's are the ring full above
		s += "; AF_XDP socket:"
		for _, k := range slices.Sorted(maps.Keys(c.SocketDrops)) {
			s += fmt.Sprintf(" %s %d", k, c.SocketDrops[k])
		}
	}
	if c.KernelErr != "" {
		s += "; kernel counters: " + c.KernelErr
	}
	if c.RunError != "" {
		s += "; agent: " + c.RunError
	}
	return s
}

// procStat returns the busy and softirq times of all CPUs from the "cpu"
// line of /proc/stat (user nice system idle iowait irq softirq steal ...,
// in USER_HZ ticks).
func procStat() (busy, softirq time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var v [8]uint64
	for i := range v {
		v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
	}
	busyTicks := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return time.Duration(busyTicks) * clockTick, time.Duration(v[6]) * clockTick
}

// runStep starts the agent (unless a.mode is "none"), runs the loads for
// d, waits for the HEP to drain and stops the agent.
func (s *suite) runStep(exe string, topo *liveTopo, a agentSpec, scheme string, loads []load, d time.Duration) (*step, error) {
	var l *hepListener
	err := vethns.DoNamed(topo.NameA, func() error {
		var err error
		l, err = newHEPListener(scheme + "://127.0.0.1:0")
		return err
	})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	var ap *agentProc
	if a.mode != "none" {
		if ap, err = startAgent(exe, a, topo, l.url(0), s.logf); err != nil {
			return nil, err
		}
		defer ap.kill()
	}
	st := &step{agent: a, scheme: scheme, loads: make([]loadResult, len(loads))}
	for i, ld := range loads {
		st.loads[i].Name, st.loads[i].offered = ld.Name, ld.Rate
	}
	type sender struct {
		li int
		gen.Sender
		close func() error
	}
	var senders []sender
	defer func() {
		for _, sk := range senders {
			sk.close()
		}
	}()
	for li, ld := range loads {
		for range max(ld.Senders, 1) {
			var rs *gen.RawSender
			if err := vethns.DoNamed(topo.NameB, func() (err error) {
				rs, err = gen.NewRawSenderBypass("xbench1")
				return err
			}); err != nil {
				return nil, fmt.Errorf("raw sender: %w", err)
			}
			senders = append(senders, sender{li, rs, rs.Close})
		}
	}
	if a.rtp != nil && len(senders) > 0 {
		// the calls' SDP before the media, so the agent knows the endpoints
		if err := a.rtp.announce(senders[len(senders)-1].Sender); err != nil {
			return nil, err
		}
	}
	var cpu0 time.Duration
	if ap != nil {
		cpu0, _ = procCPU(ap.pid())
	}
	busy0, soft0 := procStat()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	begin := time.Now()
	for i, sk := range senders {
		ld := loads[sk.li]
		n := max(ld.Senders, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			bs, err := gen.Blast(s.ctx, sk, ld.Frames, gen.BlastConfig{Rate: ld.Rate / float64(n), Duration: d,
				Start: i * len(ld.Frames) / len(senders), Refused: refusedByDevice})
			c := threadCPU() - c0
			mu.Lock()
			defer mu.Unlock()
			r := &st.loads[sk.li]
			r.Sent += bs.Sent
			r.Refused += bs.Refused
			r.Calls += bs.Calls
			r.Elapsed = max(r.Elapsed, bs.Elapsed)
			r.CPU += c
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	st.dur = time.Since(begin)
	if firstErr != nil {
		return nil, fmt.Errorf("generator: %w", firstErr)
	}
	for i, ld := range loads {
		if ld.Capture {
			st.expected += st.loads[i].Sent
		}
	}
	if a.rtp != nil {
		st.expected += uint64(len(a.rtp.invites))
	}
	if ap != nil {
		l.settle(st.expected, 5*time.Second)
	}
	if a.rtp != nil && !a.rtp.off && ap != nil {
		st.media = l.media.settle(a.rtp.streams, st.loads[0].Sent, 10*time.Second)
	}
	busy1, soft1 := procStat()
	st.cpuAll, st.softirq = busy1-busy0, soft1-soft0
	if ap != nil {
		cpu1, _ := procCPU(ap.pid())
		st.agentCPU = cpu1 - cpu0
	}
	st.received = l.received.Load()
	st.sockDrop = l.srv.Stats().UDPDrops
	if ap != nil {
		if st.child, err = ap.stop(); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// refusedByDevice: the veth's peer backlog was full; try again.
func refusedByDevice(err error) bool {
	return errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EAGAIN)
}

// liveAgents lists xhep's modes, then the peers.
func (s *suite) liveAgents() []agentSpec {
	var out []agentSpec
	modes := xhepModes
	if s.opt.Quick {
		modes = []string{"ringbuf"}
	}
	if len(s.opt.Modes) > 0 {
		modes = s.opt.Modes
	}
	for _, m := range modes {
		out = append(out, agentSpec{mode: m})
	}
	for i := range s.opt.Peers {
		out = append(out, agentSpec{peer: &s.opt.Peers[i]})
	}
	return out
}

// live: the generator's ceiling on this veth, then the ladder of offered
// SIP rates for every agent and transport.
func (s *suite) live() {
	const sec = "agent"
	if r := liveReason(); r != "" {
		s.skip(sec, "live capture on veth", r)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		s.skip(sec, "live capture on veth", "cannot re-execute this program as the agent: "+err.Error())
		return
	}
	frames, err := liveSIPFrames()
	if err != nil {
		s.skip(sec, "live capture on veth", err.Error())
		return
	}
	topo, err := newLiveTopo()
	if err != nil {
		s.skip(sec, "live capture on veth", "network namespaces: "+err.Error())
		return
	}
	defer topo.Close()
	ceil := s.generatorCeiling(exe, topo, frames)
	if s.ctx.Err() != nil {
		return
	}
	rates := []float64{100_000, 250_000, 500_000, 750_000, 1_000_000}
	if s.opt.Quick {
		rates = []float64{50_000, 150_000}
	}
	d := s.dur(time.Second, 3*time.Second)
	for _, scheme := range []string{"udp", "tcp"} {
		var steps []*step
		for _, a := range s.liveAgents() {
			for _, rate := range rates {
				if s.ctx.Err() != nil {
					return
				}
				st, err := s.runStep(exe, topo, a, scheme, []load{{Name: "SIP", Frames: frames, Rate: rate, Senders: 2, Capture: true}}, d)
				if s.ctx.Err() != nil {
					return // interrupted: the step was cut short, it says nothing
				}
				if err != nil {
					s.skip(sec, fmt.Sprintf("live %s, HEP over %s, %s pkts/s offered", a, strings.ToUpper(scheme), FormatValue(rate, "")), err.Error())
					break
				}
				s.logf("  %s %s %s pkts/s: reached %.0f, lost %d (%s), CPU %.1f%%/100k, softirq %.0f ns/pkt, RSS %.1f MiB",
					a, scheme, FormatValue(rate, ""), st.loads[0].Rate(), st.lost(), st.stages(), st.cpuPer100k(), st.softirqPerPkt(), float64(st.child.MaxRSSKiB)/1024)
				steps = append(steps, st)
			}
		}
		s.ladderTable(sec, scheme, steps, rates, ceil, frames, d)
	}
}

// liveSIPFrames is the live ladder's frame set: generated SIP over UDP,
// one message per frame.
func liveSIPFrames() ([][]byte, error) {
	pkts, _, err := sipFrames(300)
	if err != nil {
		return nil, err
	}
	var frames [][]byte
	for _, p := range pkts {
		if p.Kind == gen.KindSIP {
			frames = append(frames, p.Data)
		}
	}
	return frames, nil
}

// generatorCeiling measures how fast the generator puts the SIP set on the
// veth with nothing capturing, as fast as it goes: one and two senders,
// and the ways the generator could send (sendmmsg with and without qdisc
// bypass, a TX ring). It returns the two-sender rate.
func (s *suite) generatorCeiling(exe string, topo *liveTopo, frames [][]byte) float64 {
	const sec = "agent"
	d := s.dur(500*time.Millisecond, 2*time.Second)
	var best float64
	type way struct {
		name string
		open func() (gen.Sender, func() error, error)
	}
	ways := []way{
		{"sendmmsg, qdisc bypass", func() (gen.Sender, func() error, error) {
			r, err := gen.NewRawSenderBypass("xbench1")
			return r, func() error { return r.Close() }, err
		}},
		{"sendmmsg through the qdisc", func() (gen.Sender, func() error, error) {
			r, err := gen.NewRawSender("xbench1")
			return r, func() error { return r.Close() }, err
		}},
		{"TX ring (TPACKET_V2), qdisc bypass", func() (gen.Sender, func() error, error) {
			r, err := gen.NewTxRing("xbench1", gen.TxRingConfig{})
			return r, func() error { return r.Close() }, err
		}},
	}
	if s.opt.Quick {
		ways = ways[:1]
	}
	for wi, w := range ways {
		for _, n := range []int{1, 2} {
			if wi > 0 && n == 2 {
				continue
			}
			var stats []loadResult
			var mu sync.Mutex
			var wg sync.WaitGroup
			var ferr error
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					var sk gen.Sender
					var closeFn func() error
					err := vethns.DoNamed(topo.NameB, func() (err error) { sk, closeFn, err = w.open(); return err })
					if err == nil {
						defer closeFn()
						c0 := threadCPU()
						var bs gen.BlastStats
						bs, err = gen.Blast(s.ctx, sk, frames, gen.BlastConfig{Duration: d, Start: i * len(frames) / n, Refused: refusedByDevice})
						mu.Lock()
						stats = append(stats, loadResult{BlastStats: bs, CPU: threadCPU() - c0})
						mu.Unlock()
					}
					if err != nil {
						mu.Lock()
						ferr = err
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			name := fmt.Sprintf("generator ceiling: %s, %d sender thread(s), SIP set onto the veth, nothing capturing", w.name, n)
			if ferr != nil {
				s.skip(sec, name, ferr.Error())
				continue
			}
			var sent uint64
			var el, cpu time.Duration
			for _, b := range stats {
				sent += b.Sent
				el = max(el, b.Elapsed)
				cpu += b.CPU
			}
			rate := float64(sent) / el.Seconds()
			if wi == 0 && n == 2 {
				best = rate
			}
			s.add(Result{Section: sec, Name: name, Value: rate, Unit: "pkts/s",
				Note: fmt.Sprintf("%d frames in %v; sender CPU %.0f ns per frame (the veth peer's receive path runs in the sender's system call and is charged to it); load average %s",
					sent, el.Round(time.Millisecond), float64(cpu.Nanoseconds())/float64(max(sent, 1)), loadAvg())})
		}
	}
	return best
}

// ladderTable adds the ladder of one transport as a table, and the
// highest lossless rate of each agent as figures (with the ratio to each
// peer where one ran).
func (s *suite) ladderTable(sec, scheme string, steps []*step, rates []float64, ceil float64, frames [][]byte, d time.Duration) {
	up := strings.ToUpper(scheme)
	t := Table{Section: sec, Title: fmt.Sprintf("Live ladder, SIP frames onto a veth, HEP over %s to a listener on loopback (steps of %v; generator ceiling with nothing capturing: %s pkts/s)", up, d, FormatValue(ceil, "")),
		Columns: []string{"agent", "offered pkts/s", "generator reached pkts/s", "frames sent", "HEP received", "lost", "loss by stage", "agent CPU % of a core per 100k pkts/s", "softirq ns/pkt", "peak RSS MiB"}}
	peers := map[string]map[float64]*step{}
	for _, st := range steps {
		if st.agent.peer != nil {
			if peers[st.agent.peer.Name] == nil {
				peers[st.agent.peer.Name] = map[float64]*step{}
			}
			peers[st.agent.peer.Name][st.loads[0].rateOffered()] = st
		}
	}
	peerNames := slices.Sorted(maps.Keys(peers))
	for _, name := range peerNames {
		t.Columns = append(t.Columns, "CPU ÷ "+name, "lost by "+name)
	}
	best := map[string]*step{}
	order := []string{}
	for _, st := range steps {
		offered := st.loads[0].rateOffered()
		reached := st.loads[0].Rate()
		gnote := FormatValue(reached, "")
		if reached < 0.97*offered {
			gnote += " (generator short)"
		}
		row := []string{st.agent.String(), FormatValue(offered, ""), gnote, FormatValue(float64(st.expected), ""), FormatValue(float64(st.received), ""),
			lostText(st), st.stages(), fmt.Sprintf("%.1f", st.cpuPer100k()), fmt.Sprintf("%.0f", st.softirqPerPkt()),
			fmt.Sprintf("%.1f", float64(st.child.MaxRSSKiB)/1024)}
		for _, name := range peerNames {
			if p := peers[name][offered]; p != nil && st.agent.peer == nil {
				row = append(row, ratio(st.cpuPer100k(), p.cpuPer100k()), lostText(p))
			} else {
				row = append(row, "", "")
			}
		}
		t.Rows = append(t.Rows, row)
		k := st.agent.String()
		if _, ok := best[k]; !ok {
			best[k] = nil
			order = append(order, k)
		}
		if st.lost() <= 0 && (best[k] == nil || reached > best[k].loads[0].Rate()) {
			best[k] = st
		}
	}
	t.Note = fmt.Sprintf("%d-frame generated SIP set (UDP, %d–%d bytes), two sender threads (sendmmsg, qdisc bypass) in the generator's namespace; each step a fresh agent process; lost = frames sent − HEP received; CPU from /proc/<pid>/stat over the step and its drain; softirq from /proc/stat (all CPUs, whatever runs there) per frame sent; load average %s.",
		len(frames), minLen(frames), maxLen(frames), loadAvg())
	s.addTable(t)
	for _, k := range order {
		b := best[k]
		name := fmt.Sprintf("live %s, HEP over %s: highest lossless rate reached", k, up)
		if b == nil {
			s.add(Result{Section: sec, Name: name, Value: 0, Unit: "pkts/s", Note: "loss at every step"})
			continue
		}
		r := Result{Section: sec, Name: name, Value: b.loads[0].Rate(), Unit: "pkts/s",
			Note: fmt.Sprintf("at %s offered: agent CPU %.1f%% of a core per 100k pkts/s, softirq %.0f ns/pkt, peak RSS %.1f MiB; generator ceiling %s pkts/s",
				FormatValue(b.loads[0].rateOffered(), ""), b.cpuPer100k(), b.softirqPerPkt(), float64(b.child.MaxRSSKiB)/1024, FormatValue(ceil, ""))}
		if !strings.HasPrefix(k, "xhep") {
			r.Note = "peer, measured in this run; " + r.Note
		} else {
			var ps []string
			for _, pk := range order {
				if strings.HasPrefix(pk, "xhep") {
					continue
				}
				if pb := best[pk]; pb != nil {
					ps = append(ps, fmt.Sprintf("%s %s pkts/s (xhep ÷ %s = %s)", pk, FormatValue(pb.loads[0].Rate(), ""), pk, ratio(b.loads[0].Rate(), pb.loads[0].Rate())))
				} else {
					ps = append(ps, pk+": loss at every step")
				}
			}
			r.Peer = strings.Join(ps, "; ")
		}
		s.add(r)
	}
}

func lostText(st *step) string {
	l := st.lost()
	if st.expected == 0 {
		return "n/a"
	}
	if l <= 0 {
		return "0"
	}
	return fmt.Sprintf("%s (%.2f%%)", FormatValue(float64(l), ""), 100*float64(l)/float64(st.expected))
}

// rateOffered is the load's offered rate.
func (l loadResult) rateOffered() float64 { return l.offered }

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
