package packet

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/xhep/xhep/bpf"
)

// Config configures a [Decoder]. Start from [DefaultConfig].
type Config struct {
	// Rules are the capture filter's rules, shared with the kernel
	// programs and the classic BPF of the live sources (package bpf; unset
	// port sets take their defaults). In the decoder: UDP, TCP and SCTP
	// with either port in SIPPorts is SIP, and there CRLF keep-alives and
	// tiny non-SIP datagrams are counted as keep-alives and anything else
	// that is not SIP as junk, neither emitted; UDP and TCP with either
	// port in DNSPorts is DNS; with SIPByContent, SIP on any port is
	// recognised by its first line (a request line ending in "SIP/2.0",
	// any token as method, or a status line "SIP/2.0 NNN "); with RTCP,
	// UDP payloads on any port that pass the RTCP compound check (version
	// 2, packet types 200-207, lengths adding up) are RTCP.
	bpf.Rules
	// WebSocketPorts: TCP streams on these ports are followed even before
	// their HTTP Upgrade is seen. Streams on any port are followed once an
	// HTTP request with "Upgrade: websocket" (or its 101 answer) is seen, so
	// this set is needed only for captures that start after the handshake.
	WebSocketPorts bpf.PortSet
	// HEP: the traffic is HEP itself (the collector reading a capture of
	// what agents sent): every UDP payload (an empty one is a keep-alive)
	// and SCTP user message is one HEP message, every TCP stream on any
	// port is cut into HEP v3 messages by their length (hep.FrameLength;
	// bytes before a "HEP3" are junk, a stream resyncs there after a hole),
	// all emitted as [ClassUnknown] (the HEP type is inside each message,
	// and hep/proto has a class only per payload type); the SIP, DNS, RTCP
	// and WebSocket rules are not used.
	HEP bool
	// Unclassified, if set, is given every UDP payload that matched
	// nothing above (the RTP statistics of agent/media), with the frame's
	// capture time. It must not keep b.
	Unclassified func(src, dst netip.AddrPort, b []byte, ts int64)

	// IP defragmentation bounds. MaxFragments datagrams may be in
	// reassembly at once, holding at most MaxFragBytes bytes together; the
	// oldest is evicted when a new one needs room. A datagram not completed
	// within FragTimeout of its first fragment is dropped by Expire.
	MaxFragments int
	MaxFragBytes int
	FragTimeout  time.Duration

	// TCP reassembly bounds. At most MaxStreams directions are followed (the
	// least recently used is evicted when a new one starts); one direction
	// buffers at most MaxStreamBytes (in-order bytes of an incomplete message
	// plus out-of-order segments) and all together MaxTotalStreamBytes. A
	// direction idle for StreamIdle is flushed by Expire. A hole in the
	// sequence space that has not been filled after GapTimeout (measured on
	// frame timestamps) is skipped: reassembly resyncs at the next SIP start
	// line after it.
	MaxStreams          int
	MaxStreamBytes      int
	MaxTotalStreamBytes int
	StreamIdle          time.Duration
	GapTimeout          time.Duration

	// Filters, like heplify's: a SIP message whose method (request line, or
	// the CSeq method of a response) equals one of DropMethods
	// (case-sensitive, e.g. "OPTIONS") is dropped; any message with its
	// source or destination address in one of DropIPs is dropped; any
	// message whose payload contains one of DropPayload is dropped. Each is
	// counted in [Stats].Filtered by reason.
	DropMethods [][]byte
	DropIPs     []netip.Prefix
	DropPayload [][]byte
}

// DefaultConfig returns the agent's defaults: [bpf.DefaultRules] (SIP on
// 5060-5061, DNS on 53, SIP by content and RTCP heuristics on), 1024 datagrams / 16 MiB for
// defragmentation with a 30 s timeout, 65536 TCP directions of at most
// 256 KiB each and 256 MiB in total, idle after 5 minutes, gaps skipped
// after 2 s.
func DefaultConfig() Config {
	return Config{
		Rules:               bpf.DefaultRules(),
		MaxFragments:        1024,
		MaxFragBytes:        16 << 20,
		FragTimeout:         30 * time.Second,
		MaxStreams:          65536,
		MaxStreamBytes:      256 << 10,
		MaxTotalStreamBytes: 256 << 20,
		StreamIdle:          5 * time.Minute,
		GapTimeout:          2 * time.Second,
	}
}

// ErrConfig is returned (wrapped) by [NewDecoder] for an unusable Config.
var ErrConfig = errors.New("invalid decoder config")

func (c *Config) validate() error {
	switch {
	case c.MaxFragments < 1:
		return fmt.Errorf("%w: MaxFragments %d < 1", ErrConfig, c.MaxFragments)
	case c.MaxFragBytes < 1500:
		return fmt.Errorf("%w: MaxFragBytes %d < 1500", ErrConfig, c.MaxFragBytes)
	case c.FragTimeout <= 0:
		return fmt.Errorf("%w: FragTimeout %v <= 0", ErrConfig, c.FragTimeout)
	case c.MaxStreams < 1:
		return fmt.Errorf("%w: MaxStreams %d < 1", ErrConfig, c.MaxStreams)
	case c.MaxStreamBytes < 1500:
		return fmt.Errorf("%w: MaxStreamBytes %d < 1500", ErrConfig, c.MaxStreamBytes)
	case c.MaxTotalStreamBytes < c.MaxStreamBytes:
		return fmt.Errorf("%w: MaxTotalStreamBytes %d < MaxStreamBytes %d", ErrConfig, c.MaxTotalStreamBytes, c.MaxStreamBytes)
	case c.StreamIdle <= 0:
		return fmt.Errorf("%w: StreamIdle %v <= 0", ErrConfig, c.StreamIdle)
	case c.GapTimeout <= 0:
		return fmt.Errorf("%w: GapTimeout %v <= 0", ErrConfig, c.GapTimeout)
	}
	for _, m := range c.DropMethods {
		if len(m) == 0 {
			return fmt.Errorf("%w: empty method in DropMethods", ErrConfig)
		}
	}
	for _, p := range c.DropPayload {
		if len(p) == 0 {
			return fmt.Errorf("%w: empty substring in DropPayload", ErrConfig)
		}
	}
	for _, p := range c.DropIPs {
		if !p.IsValid() {
			return fmt.Errorf("%w: invalid prefix in DropIPs", ErrConfig)
		}
	}
	return nil
}
