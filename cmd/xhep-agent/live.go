package main

import (
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bpf"
)

// openLive opens the live capture the flags describe, matching what rules
// say (the decoder's, so the kernel and the decoder agree). exclude holds
// the collectors' addresses, so the agent never captures its own HEP
// output.
func openLive(c config, rules bpf.Rules, exclude []netip.AddrPort) (source.Source, []prometheus.Collector, error) {
	lc := source.LiveConfig{
		Ifaces:  c.Ifaces,
		Mode:    c.Mode,
		XDPMode: c.XDPMode,
		Config: bpf.Config{
			Rules:         rules,
			Snaplen:       c.Snaplen,
			RingBytes:     int(c.RingSize),
			Buffer:        bpf.Buffer(c.BPFBuffer),
			PerfBytes:     int(c.PerfSize),
			Legacy:        c.BPFLegacy,
			DropUnmatched: c.DropUnmatched,
			Allow:         c.Allow,
			Deny:          c.Deny,
			Exclude:       exclude,
		},
	}
	if c.RTPStats {
		// ringbuf, afxdp: the kernel's stream table; afpacket: the socket
		// filter passes RTP to the userspace tracker
		lc.RTPStreams, lc.RTPEndpoints = c.RTPMaxStreams, c.RTPMaxEndpoints
	}
	src, err := source.OpenLive(lc)
	if err != nil {
		return nil, nil, err
	}
	return src, source.LiveCollectors(src), nil
}

// liveVariant is what the BPF loader chose for a live source ("" for
// sources without BPF programs), for the start-up log line.
func liveVariant(src source.Source) string {
	if v, ok := src.(interface{ Variant() bpf.Variant }); ok {
		return v.Variant().String()
	}
	return ""
}
