package send

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mode says how messages are spread over several collectors.
type Mode uint8

// Send modes.
const (
	ModeAll      Mode = iota // every message to every collector
	ModeFailover             // every message to the first collector that answers
	ModeHash                 // each message to one collector, by hash of its key (Call-ID)
)

func (m Mode) String() string {
	switch m {
	case ModeAll:
		return "all"
	case ModeFailover:
		return "failover"
	case ModeHash:
		return "hash"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "all", "failover" or "hash".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "all", "":
		return ModeAll, nil
	case "failover":
		return ModeFailover, nil
	case "hash":
		return ModeHash, nil
	}
	return 0, fmt.Errorf("%w: send mode %q (want all, failover or hash)", ErrConfig, s)
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid sender config")

// Target is one collector address.
type Target struct {
	Scheme string // "udp", "tcp" or "tls"
	Host   string // as given: a name or an address
	Port   uint16
}

func (t Target) String() string {
	return t.Scheme + "://" + net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
}

// ParseTarget parses "udp://HOST:PORT", "tcp://HOST:PORT" or
// "tls://HOST:PORT" (IPv6 hosts in brackets).
func ParseTarget(s string) (Target, error) {
	scheme, hostport, ok := strings.Cut(s, "://")
	if !ok {
		return Target{}, fmt.Errorf("%w: collector %q: want udp://, tcp:// or tls://HOST:PORT", ErrConfig, s)
	}
	switch scheme {
	case "udp", "tcp", "tls":
	default:
		return Target{}, fmt.Errorf("%w: collector %q: scheme %q (want udp, tcp or tls)", ErrConfig, s, scheme)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return Target{}, fmt.Errorf("%w: collector %q: %v", ErrConfig, s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || host == "" {
		return Target{}, fmt.Errorf("%w: collector %q: want a host and a port 1-65535", ErrConfig, s)
	}
	return Target{Scheme: scheme, Host: host, Port: uint16(p)}, nil
}

// Config configures a [Group]. Zero fields take the defaults of
// [DefaultConfig].
type Config struct {
	Collectors []string // udp://, tcp:// or tls://HOST:PORT; at least one
	Mode       Mode

	QueueLen int  // messages queued in memory per lane
	Block    bool // queue full and collector up: Send waits instead of spooling

	SpoolDir string // "" disables the spool
	SpoolMax int64  // bytes on disk for all lanes together

	TLSCA       string // PEM file with the CAs that sign the collectors' certificates ("" = system roots)
	TLSInsecure bool   // do not verify the collectors' certificates

	BatchLen     int           // messages per sendmmsg, or taken per stream write (written in pieces of at most 256 KiB)
	Linger       time.Duration // how long a short batch (under BatchLen/2) may wait for more; negative: never
	BackoffMin   time.Duration // first reconnect delay
	BackoffMax   time.Duration // reconnect delay cap
	DialTimeout  time.Duration
	WriteTimeout time.Duration // a stream write that takes longer fails the connection
	ProbeWait    time.Duration // UDP: how long to wait for ICMP after a probe
	DrainTimeout time.Duration // Close: how long a lane may keep trying to deliver

	// NoAck sends plain HEP over tcp:// and tls:// too: no sequence
	// chunks, nothing waits for an acknowledgement (the behaviour before
	// acknowledged delivery; UDP never has acks).
	NoAck bool
	// AckTimeout is how long a new connection may stay without any ack
	// after its first write before the collector is taken for one that
	// never acknowledges (heplify-server, Kamailio) and the lane falls
	// back to plain HEP. A collector that acknowledged once is never
	// taken for such a peer again by this process.
	AckTimeout time.Duration
	// SpoolSync is how often a lane whose collector is down seals its
	// spool's open segment (fsync): the most a kill -9 of the agent can
	// lose of what it spooled.
	SpoolSync time.Duration
	// Logger, when set, receives the lane's fallback to plain HEP.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: 65536 messages per queue, 1 GiB of
// spool, batches of 256 lingering at most 500 µs, backoff from 100 ms to
// 5 s.
func DefaultConfig() Config {
	return Config{
		QueueLen:     1 << 16,
		SpoolMax:     1 << 30,
		BatchLen:     256,
		Linger:       500 * time.Microsecond,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   5 * time.Second,
		DialTimeout:  5 * time.Second,
		WriteTimeout: 30 * time.Second,
		ProbeWait:    200 * time.Millisecond,
		DrainTimeout: 30 * time.Second,
		AckTimeout:   3 * time.Second,
		SpoolSync:    200 * time.Millisecond,
	}
}

func (c *Config) fill() {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.QueueLen <= 0 {
		c.QueueLen = d.QueueLen
	}
	if c.SpoolMax <= 0 {
		c.SpoolMax = d.SpoolMax
	}
	if c.BatchLen <= 0 {
		c.BatchLen = d.BatchLen
	}
	if c.Linger == 0 {
		c.Linger = d.Linger
	}
	set(&c.BackoffMin, d.BackoffMin)
	set(&c.BackoffMax, d.BackoffMax)
	set(&c.DialTimeout, d.DialTimeout)
	set(&c.WriteTimeout, d.WriteTimeout)
	set(&c.ProbeWait, d.ProbeWait)
	set(&c.DrainTimeout, d.DrainTimeout)
	set(&c.AckTimeout, d.AckTimeout)
	set(&c.SpoolSync, d.SpoolSync)
	c.BatchLen = min(c.BatchLen, 1024, c.QueueLen)
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: c.TLSInsecure, MinVersion: tls.VersionTLS12}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("read TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: TLS CA file %s holds no PEM certificate", ErrConfig, c.TLSCA)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// ResolveTargets resolves the collectors' host names to addresses, for
// LiveConfig.Exclude (the agent must not capture its own output). A name
// that resolves to several addresses yields them all.
func ResolveTargets(collectors []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, c := range collectors {
		t, err := ParseTarget(c)
		if err != nil {
			return nil, err
		}
		if a, err := netip.ParseAddr(t.Host); err == nil {
			out = append(out, netip.AddrPortFrom(a.Unmap(), t.Port))
			continue
		}
		addrs, err := net.LookupHost(t.Host)
		if err != nil {
			return nil, fmt.Errorf("resolve collector %s: %w", t, err)
		}
		for _, s := range addrs {
			if a, err := netip.ParseAddr(s); err == nil {
				out = append(out, netip.AddrPortFrom(a.Unmap(), t.Port))
			}
		}
	}
	return out, nil
}
