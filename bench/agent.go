package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xhep/xhep/agent"
	"github.com/xhep/xhep/agent/correlate"
	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/send"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// sipCapture writes (once per work directory) a SIP-only UDP capture of
// about n frames and returns its path and what the generator put in it.
// rate is the capture-time spacing in packets per second.
func (s *suite) sipCapture(n int, rate float64) (string, gen.Stats, error) {
	cfg := gen.DefaultConfig()
	cfg.RTCP, cfg.DNS = false, false
	cfg.Rate = rate
	cfg.CountsOnly = true
	// About 10 frames per scenario on average.
	cfg.Calls, cfg.Registrations, cfg.Options = max(1, n/18), max(1, n/60), max(1, n/60)
	base := filepath.Join(s.opt.WorkDir, fmt.Sprintf("sip-%d-%.0fpps", n, rate))
	var st gen.Stats
	if b, err := os.ReadFile(base + ".truth.json"); err == nil && json.Unmarshal(b, &st) == nil && st.Frames > 0 {
		if _, err := os.Stat(base + ".pcap"); err == nil {
			return base + ".pcap", st, nil
		}
	}
	t0 := time.Now()
	truth, err := gen.WritePcapFile(base+".pcap", cfg)
	if err != nil {
		return "", st, fmt.Errorf("generate capture: %w", err)
	}
	b, _ := json.Marshal(truth.Stats)
	if err := os.WriteFile(base+".truth.json", b, 0o644); err != nil {
		return "", st, err
	}
	s.logf("  generated %s: %d frames, %d SIP messages in %v", base+".pcap", truth.Stats.Frames, truth.Stats.SIPMessages, time.Since(t0).Round(time.Millisecond))
	return base + ".pcap", truth.Stats, nil
}

// hepListener is a collector ingest listener that counts the HEP messages
// that decode. Over TCP it acknowledges what it counted, as the collector
// does once a message is durable, so that the agent's acknowledged
// delivery runs as in production (a peer that sends plain HEP gets none).
type hepListener struct {
	srv      *ingest.Server
	received atomic.Uint64 // every HEP message but media reports (type 34)
	media    mediaListener
	bad      atomic.Uint64
	acks     countAcker
}

// countAcker holds a message durable once counted: the highest sequence
// seen per stream. Changed's channel is closed at the first advance after
// someone took it, so an advance costs no allocation while nobody waits.
type countAcker struct {
	mu    sync.Mutex
	hi    map[uint64]uint64
	ch    chan struct{}
	taken bool
}

func (a *countAcker) saw(msg []byte) {
	stream, seq, ok := hep.SeqOf(msg)
	if !ok {
		return
	}
	a.mu.Lock()
	if seq > a.hi[stream] {
		a.hi[stream] = seq
		if a.taken {
			close(a.ch)
			a.ch, a.taken = make(chan struct{}), false
		}
	}
	a.mu.Unlock()
}

func (a *countAcker) Durable(stream uint64) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hi[stream]
}

func (a *countAcker) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.taken = true
	return a.ch
}

func newHEPListener(listen ...string) (*hepListener, error) {
	l := &hepListener{acks: countAcker{hi: map[uint64]uint64{}, ch: make(chan struct{})}}
	srv, err := ingest.New(ingest.Config{
		Listen:    listen,
		NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
		Acker:     &l.acks,
	}, func(b []byte, _ netip.AddrPort, _ string) {
		var m hep.Message
		if m.DecodeFromBytes(b) != nil {
			l.bad.Add(1)
			return
		}
		if m.Proto == hep.ProtoMOSFull {
			l.media.add(m.Payload)
		} else {
			l.received.Add(1)
		}
		l.acks.saw(b)
	})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := srv.Start(); err != nil {
		srv.Close()
		return nil, err
	}
	l.srv = srv
	return l, nil
}

// addr returns the i-th listener's address as a collector URL.
func (l *hepListener) url(i int) string {
	st := l.srv.Status()[i]
	return st.Transport + "://" + st.Addr.String()
}

// settle waits until the count stops moving for 200 ms (at most max).
func (l *hepListener) settle(want uint64, max time.Duration) {
	deadline := time.Now().Add(max)
	last, still := l.received.Load(), 0
	for still < 20 && time.Now().Before(deadline) {
		if last >= want && still >= 5 {
			return
		}
		time.Sleep(10 * time.Millisecond)
		if r := l.received.Load(); r != last {
			last, still = r, 0
		} else {
			still++
		}
	}
}

func (l *hepListener) Close() error { return l.srv.Close() }

// agentConfig is the agent's pipeline sending to one collector URL.
func agentConfig(collector string, block bool) agent.Config {
	sc := send.DefaultConfig()
	sc.Collectors = []string{collector}
	sc.Block = block
	return agent.Config{NodeID: 2001, NodeName: "probe-1",
		Decoder: packet.DefaultConfig(), Correlate: correlate.DefaultConfig(), Send: sc}
}

// agentReplay: `xhep-agent --read` of a generated SIP capture, delivered to
// a collector ingest listener on loopback in this process: over UDP (the
// issue's figure), then over TCP; and the floor that loopback UDP sets on
// this machine, sendmmsg's own CPU per datagram.
func (s *suite) agentReplay() {
	s.agentReplayOver("udp")
	s.udpFloor()
	s.agentReplayOver("tcp")
}

func (s *suite) agentReplayOver(scheme string) {
	const sec = "agent"
	n := s.pick(50_000, 1_000_000)
	up := strings.ToUpper(scheme)
	name := fmt.Sprintf("pcap replay, %s-frame SIP capture → HEP over %s (loopback)", FormatValue(float64(n), ""), up)
	path, truth, err := s.sipCapture(n, 100_000)
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	l, err := newHEPListener(scheme + "://127.0.0.1:0")
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer l.Close()
	p, err := agent.New(agentConfig(l.url(0), true))
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	src, err := source.OpenFile(path, 1)
	if err != nil {
		p.Close()
		s.skip(sec, name, err.Error())
		return
	}
	drops0 := l.srv.Stats().UDPDrops
	cpu0 := selfCPU()
	start := time.Now()
	_, err = p.Run(s.ctx, src)
	src.Close()
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	if err != nil {
		s.skip(sec, name, "agent run: "+err.Error())
		return
	}
	sum := p.Summary()
	sent := sum.Send.Sent()
	expected := uint64(truth.SIPMessages)
	l.settle(expected, 5*time.Second)
	cpu := selfCPU() - cpu0
	got := l.received.Load()
	rate := float64(sent) / elapsed.Seconds()
	var peers []string
	for _, pr := range s.opt.Peers {
		peers = append(peers, s.peerReplay(pr, path, scheme, expected, rate))
	}
	s.add(Result{Section: sec, Name: name, Value: rate, Unit: "HEP/s",
		Target: "≥ 500,000 HEP/s, nothing lost", Peer: strings.Join(peers, "; "),
		Note: fmt.Sprintf("%d SIP messages in %d frames in %v; from first frame read to senders drained; %s",
			expected, truth.Frames, elapsed.Round(time.Millisecond), batchNote(sum.Send))})
	s.add(Result{Section: sec, Name: fmt.Sprintf("pcap replay over %s: loss (generator's truth − received)", up), Value: float64(int64(expected) - int64(got)), Unit: "messages",
		Target: "0",
		Note: fmt.Sprintf("agent encoded %d, sent %d, dropped %d; listener received %d, kernel socket drops %d",
			sum.HEPTotal(), sent, sum.Send.Dropped(), got, l.srv.Stats().UDPDrops-drops0)})
	s.add(Result{Section: sec, Name: fmt.Sprintf("pcap replay over %s: CPU (agent + in-process listener)", up), Value: cpu.Seconds() / float64(max(sent, 1)) * 1e9, Unit: "CPU ns/HEP",
		Note: fmt.Sprintf("%.2f cores busy on average; load average %s", cpu.Seconds()/elapsed.Seconds(), loadAvg())})
}

// batchNote describes the senders' syscalls: how many, and messages per
// syscall.
func batchNote(st *send.Stats) string {
	if st == nil || len(st.Collectors) == 0 {
		return ""
	}
	c := st.Collectors[0]
	calls := c.Syscalls()
	if calls == 0 {
		return "no send syscalls"
	}
	var q send.QueueStats
	if len(st.Queues) > 0 {
		q = st.Queues[0]
	}
	var hist []string
	for i, v := range c.Batches {
		if v > 0 {
			hist = append(hist, fmt.Sprintf("%d+: %d", 1<<i, v))
		}
	}
	return fmt.Sprintf("%d send syscalls, %.1f messages each (by size: %s); sender parked %d times, lingered %d; queue buffers %d",
		calls, float64(c.Sent)/float64(calls), strings.Join(hist, ", "), q.Parks, q.Lingers, q.Buffers)
}

// udpFloor measures what one HEP-sized datagram costs the sender on
// loopback: sendmmsg(2) of 256 copies of a 600-byte message per call to a
// socket drained by another goroutine, CPU of the sending thread only. On
// loopback the receiving side's softirq work (IP and UDP input, queueing on
// the socket) runs in the sender's syscall and is charged to it: this is
// the floor under the agent's UDP figure on this machine.
func (s *suite) udpFloor() {
	const sec = "agent"
	name := "UDP floor: sendmmsg CPU per 600-byte datagram on loopback (256 per call, receiver's softirq included)"
	rc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer rc.Close()
	rc.SetReadBuffer(8 << 20)
	go func() {
		b := make([]byte, 2048)
		for {
			if _, err := rc.Read(b); err != nil {
				return
			}
		}
	}()
	c, err := net.DialUDP("udp", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer c.Close()
	c.SetWriteBuffer(4 << 20)
	w, err := newBatchWriter(c, make([]byte, 600), 256)
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d := s.dur(300*time.Millisecond, 2*time.Second)
	cpu0, t0 := threadCPU(), time.Now()
	var n int
	for time.Since(t0) < d && s.ctx.Err() == nil {
		k, err := w.send(256)
		if err != nil && !errors.Is(err, syscall.ENOBUFS) {
			s.skip(sec, name, err.Error())
			return
		}
		n += k
	}
	cpu, el := threadCPU()-cpu0, time.Since(t0)
	if cpu <= 0 {
		cpu = el
	}
	s.add(Result{Section: sec, Name: name, Value: cpu.Seconds() / float64(max(n, 1)) * 1e9, Unit: "CPU ns/datagram",
		Note: fmt.Sprintf("%d datagrams in %v: %.0f/s per core of sender CPU, %.0f/s wall; load average %s",
			n, el.Round(time.Millisecond), float64(n)/cpu.Seconds(), float64(n)/el.Seconds(), loadAvg())})
}

// runAgentFile runs the agent pipeline on a capture until the senders
// drained; ctx cancels it.
func runAgentFile(ctx context.Context, cfg agent.Config, path string, speed float64) (agent.Summary, time.Duration, error) {
	p, err := agent.New(cfg)
	if err != nil {
		return agent.Summary{}, 0, err
	}
	var src source.Source
	f, err := source.OpenFile(path, 1)
	if err != nil {
		p.Close()
		return agent.Summary{}, 0, err
	}
	src = f
	if speed > 0 {
		src = agent.Paced(f, speed)
	}
	start := time.Now()
	_, err = p.Run(ctx, src)
	src.Close()
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	return p.Summary(), time.Since(start), err
}

// peerReplay replays the capture with a peer's binary as fast as it goes,
// HEP over scheme to a listener of this process, and returns the Peer
// column's text (HEP/s, loss, CPU, and the ratio xhep ÷ peer); the peer's
// figures are also added as their own rows.
func (s *suite) peerReplay(pr Peer, path, scheme string, expected uint64, xhepRate float64) string {
	const sec = "agent"
	up := strings.ToUpper(scheme)
	name := fmt.Sprintf("peer %s: pcap replay of the same capture → HEP over %s (loopback)", pr.Name, up)
	l, err := newHEPListener(scheme + "://127.0.0.1:0")
	if err != nil {
		s.skip(sec, name, err.Error())
		return pr.Name + ": " + err.Error()
	}
	defer l.Close()
	_, hostport, _ := strings.Cut(l.url(0), "://")
	cmd := exec.CommandContext(s.ctx, pr.Path, pr.replayArgs(path, scheme, hostport)...)
	var stderr limitedWriter
	stderr.b, stderr.n = &strings.Builder{}, 16<<10
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		s.skip(sec, name, err.Error())
		return pr.Name + ": " + err.Error()
	}
	// The peer may exit before its last messages reached the listener.
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-werr:
	case <-time.After(10 * time.Minute):
		cmd.Process.Kill()
		runErr = <-werr
	}
	elapsed := time.Since(start)
	l.settle(expected, 5*time.Second)
	got := l.received.Load()
	if runErr != nil && got == 0 {
		s.skip(sec, name, fmt.Sprintf("%v: %s", runErr, strings.TrimSpace(stderr.b.String())))
		return pr.Name + ": did not run"
	}
	var cpu time.Duration
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime()
	}
	rate := float64(got) / elapsed.Seconds()
	lost := int64(expected) - int64(got)
	s.add(Result{Section: sec, Name: name, Value: rate, Unit: "HEP/s",
		Note: fmt.Sprintf("%s (%s), measured in this run: %d of %d SIP messages received (lost %d) in %v from start to exit; CPU %.0f ns per HEP received (its process only); load average %s",
			pr.Version, pr.Path, got, expected, max(lost, 0), elapsed.Round(time.Millisecond), float64(cpu.Nanoseconds())/float64(max(got, 1)), loadAvg())})
	return fmt.Sprintf("%s %s HEP/s, lost %d (xhep ÷ %s = %s)", pr.Name, FormatValue(rate, ""), max(lost, 0), pr.Name, ratio(xhepRate, rate))
}
