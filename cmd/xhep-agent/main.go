package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/xhep/xhep/agent"
	"github.com/xhep/xhep/agent/correlate"
	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/send"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
	"github.com/xhep/xhep/cmd/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit code: 0 done, 1 failed,
// 2 bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if version.Requested(args) {
		fmt.Fprint(stdout, version.String("xhep-agent", true))
		return 0
	}
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "xhep-agent: %v\n", err)
		return 2
	}
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel)) // validated by parseFlags
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := runAgent(ctx, c, log, stdout); err != nil {
		log.Error("xhep-agent failed", "err", err)
		return 1
	}
	return 0
}

// pipelineConfig turns flags into the pipeline's configuration.
func pipelineConfig(c config) (agent.Config, error) {
	dec := packet.DefaultConfig()
	var err error
	// The decoder and the live capture's filters share these Rules
	// (openLive takes them from here).
	if dec.SIPPorts, err = bpf.ParsePorts(c.SIPPorts); err != nil {
		return agent.Config{}, fmt.Errorf("--sip-ports: %w", err)
	}
	if dec.DNSPorts, err = bpf.ParsePorts(c.DNSPorts); err != nil {
		return agent.Config{}, fmt.Errorf("--dns-ports: %w", err)
	}
	dec.SIPByContent, dec.RTCP = c.SIPByContent, c.RTCP
	if c.WSPorts != "" {
		if dec.WebSocketPorts, err = bpf.ParsePorts(c.WSPorts); err != nil {
			return agent.Config{}, fmt.Errorf("--ws-ports: %w", err)
		}
	}
	// Zero keeps the decoder's default for each bound.
	setInt := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setInt(&dec.MaxFragments, c.FragMax)
	setInt(&dec.MaxFragBytes, int(c.FragBytes))
	setDur(&dec.FragTimeout, c.FragTimeout)
	setInt(&dec.MaxStreams, c.TCPMaxStreams)
	setInt(&dec.MaxStreamBytes, int(c.TCPStreamBytes))
	setInt(&dec.MaxTotalStreamBytes, int(c.TCPTotalBytes))
	setDur(&dec.StreamIdle, c.TCPIdle)
	setDur(&dec.GapTimeout, c.TCPGapTimeout)
	for _, m := range c.DropMethods {
		dec.DropMethods = append(dec.DropMethods, []byte(m))
	}
	for _, p := range c.DropPayload {
		dec.DropPayload = append(dec.DropPayload, []byte(p))
	}
	dec.DropIPs = c.DropIPs

	corr := correlate.DefaultConfig()
	corr.MaxEntries, corr.TTL = c.CorrelateMax, c.CorrelateTTL

	mode, err := send.ParseMode(c.SendMode)
	if err != nil {
		return agent.Config{}, err
	}
	sc := send.DefaultConfig()
	sc.Collectors, sc.Mode = c.Collectors, mode
	sc.QueueLen, sc.SpoolDir, sc.SpoolMax = c.Queue, c.SpoolDir, c.SpoolMax
	sc.TLSCA, sc.TLSInsecure, sc.DrainTimeout = c.TLSCA, c.TLSInsecure, c.DrainTimeout
	// A file can wait for the collector; a live capture cannot (the kernel
	// ring would overflow), so it spools when the queue is full instead.
	sc.Block = c.Read != ""
	sc.NoAck, sc.AckTimeout = c.NoAck, c.AckTimeout

	var tracker *media.Tracker
	if c.RTPStats {
		if c.RTPJitterBuffer < 0 {
			return agent.Config{}, fmt.Errorf("--rtp-jitter-buffer %d: want 0 or more ms", c.RTPJitterBuffer)
		}
		mc := media.DefaultConfig()
		mc.Interval, mc.Idle = c.RTPReportInterval, c.RTPIdle
		mc.MaxStreams, mc.MaxEndpoints = c.RTPMaxStreams, c.RTPMaxEndpoints
		mc.Model.JitterBuffer = uint32(c.RTPJitterBuffer)
		if tracker, err = media.New(mc, nil); err != nil {
			return agent.Config{}, err
		}
	}

	return agent.Config{
		Media:        tracker,
		MediaClock:   monotonic,
		NodeID:       c.NodeID,
		NodeName:     c.NodeName,
		AuthKey:      c.AuthKey,
		CompressOver: c.CompressOver,
		Decoder:      dec,
		Correlate:    corr,
		Send:         sc,
	}, nil
}

func runAgent(ctx context.Context, c config, log *slog.Logger, stdout io.Writer) error {
	pcfg, err := pipelineConfig(c)
	if err != nil {
		return err
	}
	// Resolve before anything starts: a typo fails fast, and a live
	// capture learns what not to capture.
	exclude, err := send.ResolveTargets(c.Collectors)
	if err != nil {
		return err
	}
	p, err := agent.New(pcfg)
	if err != nil {
		return err
	}
	defer p.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var src source.Source
	if c.Read != "" {
		f, err := source.OpenFile(c.Read, c.Loop)
		if err != nil {
			return err
		}
		src = f
		if c.Speed > 0 {
			src = agent.Paced(src, c.Speed)
		}
		log.Info("reading capture file", "file", c.Read, "loops", c.Loop, "speed", c.Speed, "collectors", c.Collectors)
	} else {
		live, cols, err := openLive(c, pcfg.Decoder.Rules, exclude)
		if err != nil {
			return fmt.Errorf("open live capture: %w", err)
		}
		for _, col := range cols {
			if err := reg.Register(col); err != nil {
				live.Close()
				return fmt.Errorf("register capture metrics: %w", err)
			}
		}
		src = live
		if kernelMedia(pcfg.Media, live) {
			log.Info("rtp statistics in the kernel", "max_streams", c.RTPMaxStreams, "max_endpoints", c.RTPMaxEndpoints)
		}
		go p.MediaTicks(ctx, time.Second)
		log.Info("capturing", "ifaces", c.Ifaces, "mode", c.Mode, "collectors", c.Collectors, "excluded", exclude)
		if v := liveVariant(live); v != "" {
			log.Info("bpf variant", "variant", v)
		}
	}
	defer src.Close()

	if c.Metrics != "" {
		ln, err := net.Listen("tcp", c.Metrics)
		if err != nil {
			return fmt.Errorf("listen for metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}

	if c.Read == "" {
		go logProgress(ctx, p, log)
	}
	_, runErr := p.Run(ctx, src)
	src.Close()
	if errors.Is(runErr, context.Canceled) {
		log.Info("stopping: draining the senders")
		runErr = nil
	}
	closeErr := p.Close()
	sum := p.Summary()
	if err := sum.WriteText(stdout); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return closeErr
	}
	// A file run must deliver everything: say what did not arrive, and
	// where what is kept for the next run is.
	if lost, spooled, dirs := sum.Undelivered(); c.Read != "" && (lost > 0 || spooled > 0) {
		msg := fmt.Sprintf("%d messages not delivered within --drain-timeout %v: %d lost", lost+spooled, c.DrainTimeout, lost)
		if spooled > 0 {
			msg += fmt.Sprintf(", %d kept in the spool at %s (sent by the next run with the same --spool-dir)", spooled, strings.Join(dirs, ", "))
		}
		return errors.New(msg)
	}
	return nil
}

// logProgress logs the main counters once a minute during live capture,
// and drops while they happen: checked every second, one warning per 10 s
// at most with what was lost since the last one, by reason.
func logProgress(ctx context.Context, p *agent.Pipeline, log *slog.Logger) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var w agent.DropWatch
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := p.Summary()
			if d, ok := w.Check(now, s); ok {
				args := []any{"frames", s.Frames}
				for _, k := range slices.Sorted(maps.Keys(d)) {
					args = append(args, k, d[k])
				}
				log.Warn("dropping messages (counts since the last warning)", args...)
			}
			if now.Sub(last) < time.Minute {
				continue
			}
			last = now
			args := []any{"frames", s.Frames, "hep", s.HEPTotal()}
			if s.Send != nil {
				args = append(args, "sent", s.Send.Sent(), "dropped", s.Send.Dropped())
			}
			log.Info("progress", args...)
		}
	}
}
