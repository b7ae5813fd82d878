//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/agent"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/bpf"
)

// The live capture run: two network namespaces joined by a veth pair,
//
//	xbench-a-PID: xbench0 (the agent's capture interface) and the HEP listener on its loopback
//	xbench-b-PID: xbench1 (the generator's senders)
//
// The agent runs as a child process started inside namespace a (ip netns
// exec): this executable again, told by LiveChildEnv (ringbuf, afxdp or
// afpacket mode), or a peer's binary (heplify), so its CPU and memory are
// its own: /proc/<pid>/stat and /proc/<pid>/status. It sends HEP over UDP
// or TCP to a listener of this process whose socket lives in namespace a.

// LiveChildEnv, when set in the environment, makes LiveChildMain the
// program: cmd/xhep-bench (and the package's tests) check it first.
const LiveChildEnv = "XHEP_BENCH_LIVE_AGENT"

// childReport is what the agent child prints when it stops.
type childReport struct {
	Frames    uint64            `json:"frames"`
	HEP       uint64            `json:"hep"`
	Drops     map[string]uint64 `json:"pipeline_drops"`
	Sent      uint64            `json:"sent"`
	SendDrops uint64            `json:"send_drops"`
	Kernel    bpf.Counters      `json:"kernel"`
	KernelErr string            `json:"kernel_error,omitempty"`
	// KernelPassOnly: Kernel.Seen counts only the frames the filter passed
	// (AF_PACKET), not every frame on the interface.
	KernelPassOnly bool `json:"kernel_pass_only,omitempty"`
	// SocketDrops are the capture socket's own drop counters where the
	// source exports them (AF_XDP XDP_STATISTICS), by reason.
	SocketDrops map[string]uint64 `json:"socket_drops,omitempty"`
	RunError    string            `json:"run_error,omitempty"`
	MaxRSSKiB   int               `json:"max_rss_kib"`
	FinalRSSKB  int               `json:"rss_kib"`
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
	mode := os.Getenv("XHEP_BENCH_MODE")
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
	rtpStats := os.Getenv(rtpChildEnv) == "1"
	open := func() error {
		fc := bpf.Config{Rules: bpf.DefaultRules(), Exclude: []netip.AddrPort{exclude}}
		if rtpStats {
			fc.RTPStreams, fc.RTPEndpoints = rtpChildStreams, rtpChildStreams
		}
		var err error
		src, err = source.OpenLive(source.LiveConfig{Ifaces: []string{iface}, Mode: mode, XDPMode: "generic", Config: fc})
		return err
	}
	if nsName != "" {
		err = vethns.DoNamed(nsName, open)
	} else {
		err = open() // started inside the namespace (ip netns exec)
	}
	if err != nil {
		return fail(fmt.Errorf("open live source: %w", err))
	}
	acfg := agentConfig(coll, false)
	if rtpStats {
		if acfg.Media, err = rtpChildTracker(src); err != nil {
			src.Close()
			return fail(err)
		}
		acfg.MediaClock = monoNs
	}
	p, err := agent.New(acfg)
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
		path = strings.ReplaceAll(path, "{pid}", strconv.Itoa(os.Getpid()))
		// A CPU profile of the agent child, for go tool pprof.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	done := make(chan error, 1)
	go func() { _, err := p.Run(ctx, src); done <- err }()
	go p.MediaTicks(ctx, time.Second) // --rtp-stats: reports from the kernel's table
	go func() {
		// Drops while they happen, on stderr (the suite's log shows them).
		var w agent.DropWatch
		w.Every = time.Second
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if d, ok := w.Check(now, p.Summary()); ok {
					fmt.Fprintf(stderr, "dropping: %v\n", d)
				}
			}
		}
	}()
	fmt.Fprintln(stdout, "ready")
	var rep childReport
	select {
	case <-stop:
	case err := <-done:
		rep.RunError = fmt.Sprint(err)
	}
	rep.RssAnonKiB, _ = procStatusKB(0, "RssAnon")
	rep.RssFileKiB, _ = procStatusKB(0, "RssFile")
	rep.SocketDrops = socketDrops(src)
	// Kernel counters before the source closes.
	switch c := src.(type) {
	case interface{ Counters() (bpf.Counters, error) }:
		if k, err := c.Counters(); err == nil {
			rep.Kernel = k
		} else {
			rep.KernelErr = err.Error()
		}
	case interface {
		Stats() (packets, drops, freezes uint64, err error)
	}:
		// AF_PACKET: PACKET_STATISTICS counts what the filter passed
		// (received plus dropped) and the ring-full drops.
		if pk, dr, _, err := c.Stats(); err == nil {
			rep.Kernel = bpf.Counters{Seen: pk, Captured: pk - dr, RingDrops: dr}
			rep.KernelPassOnly = true
		} else {
			rep.KernelErr = err.Error()
		}
	default:
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

// socketDrops reads the live source's exported counters and keeps the
// AF_XDP socket's drop counters that are not zero.
func socketDrops(src source.Source) map[string]uint64 {
	reg := prometheus.NewRegistry()
	for _, c := range source.LiveCollectors(src) {
		if reg.Register(c) != nil {
			return nil
		}
	}
	fams, _ := reg.Gather()
	out := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "xhep_agent_socket_drops_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue()
			if v <= 0 {
				continue
			}
			var k string
			for _, lp := range m.GetLabel() {
				k += lp.GetValue()
			}
			out[k] = uint64(v)
		}
	}
	return out
}
