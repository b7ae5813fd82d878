//go:build !linux

package source

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrLiveUnsupported is returned by OpenLive on systems other than Linux.
var ErrLiveUnsupported = errors.New("live capture needs Linux (eBPF, AF_XDP or AF_PACKET); use --read FILE here")

// OpenLive is not available on this system: live capture uses Linux
// eBPF, AF_XDP or AF_PACKET.
func OpenLive(cfg LiveConfig) (Source, error) { return nil, ErrLiveUnsupported }

// LiveCollectors returns nil: there are no live sources on this system.
func LiveCollectors(src Source) []prometheus.Collector { return nil }
