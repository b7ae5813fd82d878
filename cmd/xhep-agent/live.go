package main

import (
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/xhep/xhep/agent/source"
)

// openLive opens the live capture the flags describe. exclude holds the
// collectors' addresses, so the agent never captures its own HEP output.
func openLive(c config, exclude []netip.AddrPort) (source.Source, []prometheus.Collector, error) {
	lc := source.LiveConfig{
		Ifaces:        c.Ifaces,
		Mode:          c.Mode,
		XDPMode:       c.XDPMode,
		SIPPorts:      c.SIPPorts,
		DNSPorts:      c.DNSPorts,
		RTCP:          c.RTCP,
		SIPByContent:  c.SIPByContent,
		Snaplen:       c.Snaplen,
		RingBytes:     int(c.RingSize),
		DropUnmatched: c.DropUnmatched,
		Allow:         c.Allow,
		Deny:          c.Deny,
		Exclude:       exclude,
	}
	src, err := source.OpenLive(lc)
	if err != nil {
		return nil, nil, err
	}
	return src, source.LiveCollectors(src), nil
}
