// Package media turns RTP into HEP type 34 quality reports: a [Tracker]
// learns media endpoints from SDP (c=, m=, a=rtpmap; static payload types
// of RFC 3551), keeps per-stream state by hep/rtp's arithmetic — in
// userspace for frames it is given ([Tracker.Packet]: pcap replay, AF_PACKET),
// or in the kernel ([Kernel]: bpf/rtp.h) — and every Interval and when a
// stream ends (its call's BYE/CANCEL, or Idle without packets) emits one
// report per stream, correlated with the Call-ID.
//
// Bounds: at most MaxEndpoints endpoints and MaxStreams userspace streams;
// beyond them the least recently confirmed endpoint, or a new stream, is
// dropped and counted ([Stats]). All methods are safe for concurrent use.
package media

import (
	"errors"
	"fmt"
	"github.com/xhep/xhep/hep/ascii"
	"hash/fnv"
	"net/netip"
	"sync"
	"time"

	"github.com/xhep/xhep/hep/rtp"
	"github.com/xhep/xhep/hep/sip"
)

// Config bounds a [Tracker]; zero fields take the defaults of [DefaultConfig]
// (as agent/correlate's Config does).
type Config struct {
	MaxEndpoints int
	MaxStreams   int
	Interval     time.Duration // periodic reports
	Idle         time.Duration // a stream without packets this long ends (TIMEOUT)
	EndTTL       time.Duration // endpoints of an ended call live this long
	TTL          time.Duration // endpoints not confirmed by SDP live this long
	Model        rtp.EModel
}

// DefaultConfig: 65536 endpoints, 16384 userspace streams, reports every
// 5 s, a stream idle for 15 s ends, endpoints live 2 h (30 s after the
// call ended); the G.107 defaults with a 60 ms jitter buffer.
func DefaultConfig() Config {
	return Config{MaxEndpoints: 1 << 16, MaxStreams: 1 << 14, Interval: 5 * time.Second,
		Idle: 15 * time.Second, EndTTL: 30 * time.Second, TTL: 2 * time.Hour, Model: rtp.DefaultEModel()}
}

// ErrConfig is wrapped by [New]'s errors.
var ErrConfig = errors.New("invalid media config")

// Kernel is the in-kernel stream table (bpf.Filter's RTP methods through
// an adapter): endpoints pushed in, stream states read out. Call is the
// FNV-1a 64 hash of the Call-ID; pts has bit n%32 of word n/32 set for each
// announced payload type n.
type Kernel interface {
	PutEndpoint(ap netip.AddrPort, call uint64, pts [4]uint32, p *rtp.Params) error
	DeleteEndpoint(ap netip.AddrPort) error
	Streams(fn func(src, dst netip.AddrPort, ssrc uint32, dir uint8, st *rtp.State) bool) error
	DeleteStream(src, dst netip.AddrPort, ssrc uint32) error
}

// Stats counts what the tracker did; all only grow but the two sizes.
type Stats struct {
	Endpoints, Streams uint64 // in the tables now
	EndpointsEvicted   uint64 // live endpoints dropped for room
	StreamsRefused     uint64 // new userspace streams not tracked: MaxStreams reached
	NotRTP             uint64 // datagrams to/from an endpoint that were not RTP of an announced type
	Packets            uint64 // RTP packets counted in userspace
	Reports            uint64 // reports emitted
	KernelErrors       uint64 // failed kernel map operations
	KernelOrphans      uint64 // kernel streams dropped unreported: their endpoint was gone or its call had ended
	ClocksRefused      uint64 // payload types given the default clock: more than rtp.MaxClocks clock rates in one m= line
}

type codec struct {
	pt    uint8
	name  string
	clock uint32
}

type endpoint struct {
	callID  []byte
	call    uint64
	codecs  []codec
	pts     [4]uint32
	params  rtp.Params // each payload type's clock, the telephone-event type
	expires int64
	ended   bool
}

func (e *endpoint) codec(pt uint8) (codec, bool) {
	for _, c := range e.codecs {
		if c.pt == pt {
			return c, true
		}
	}
	return codec{}, false
}

type streamKey struct {
	src, dst netip.AddrPort
	ssrc     uint32
}

type stream struct {
	ep       *endpoint // nil once the endpoint is gone
	callID   []byte
	dir      uint8
	params   rtp.Params // the endpoint's when the stream was last reported
	state    rtp.State
	rep      rtp.Reporter
	pt       uint8
	codec    string
	last     int64 // capture time (userspace) or kernel time of the last packet seen changing
	lastPk   uint64
	reported int64
	kernel   bool
}

// Report is what [Tracker.Tick] hands out: one HEP type 34 JSON payload.
type Report struct {
	CallID   []byte
	Src, Dst netip.AddrPort
	TimeNs   int64
	JSON     []byte
	MOS      float64
	LossPct  float64
	Final    bool
}

// Tracker: see the package documentation.
type Tracker struct {
	cfg Config
	k   Kernel

	mu       sync.Mutex
	eps      map[netip.AddrPort]*endpoint
	streams  map[streamKey]*stream
	tuples   map[[2]netip.AddrPort]uint32 // SSRCs seen per 5-tuple
	sdp      sip.SDP
	hdr      rtp.Header
	lastTick int64
	buf      []byte
	st       Stats
}

// withDefaults is cfg with its zero fields taken from [DefaultConfig]:
// the one place defaults are applied ([New] and the agent's flags both
// start from DefaultConfig).
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if cfg.MaxEndpoints == 0 {
		cfg.MaxEndpoints = d.MaxEndpoints
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = d.MaxStreams
	}
	if cfg.Interval == 0 {
		cfg.Interval = d.Interval
	}
	if cfg.Idle == 0 {
		cfg.Idle = d.Idle
	}
	if cfg.EndTTL == 0 {
		cfg.EndTTL = d.EndTTL
	}
	if cfg.TTL == 0 {
		cfg.TTL = d.TTL
	}
	if cfg.Model == (rtp.EModel{}) {
		cfg.Model = d.Model
	}
	return cfg
}

// MaxJitterBuffer bounds EModel.JitterBuffer (ms): the delay-variation
// buckets end at 200 ms, and a buffer beyond 1 s is no VoIP setting.
const MaxJitterBuffer = 1000

// New returns a Tracker; k may be nil (userspace only). Zero fields of cfg
// take the defaults; out-of-range ones are an error wrapping [ErrConfig].
func New(cfg Config, k Kernel) (*Tracker, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.MaxEndpoints < 1 || cfg.MaxEndpoints > 1<<24:
		return nil, fmt.Errorf("new media tracker: %w: MaxEndpoints %d not in 1..%d", ErrConfig, cfg.MaxEndpoints, 1<<24)
	case cfg.MaxStreams < 1 || cfg.MaxStreams > 1<<24:
		return nil, fmt.Errorf("new media tracker: %w: MaxStreams %d not in 1..%d", ErrConfig, cfg.MaxStreams, 1<<24)
	case cfg.Interval < 0 || cfg.Idle < 0 || cfg.EndTTL < 0 || cfg.TTL < 0:
		return nil, fmt.Errorf("new media tracker: %w: negative duration", ErrConfig)
	case cfg.Model.JitterBuffer > MaxJitterBuffer:
		return nil, fmt.Errorf("new media tracker: %w: jitter buffer %d ms above %d", ErrConfig, cfg.Model.JitterBuffer, MaxJitterBuffer)
	}
	return &Tracker{cfg: cfg, k: k, eps: map[netip.AddrPort]*endpoint{}, streams: map[streamKey]*stream{},
		tuples: map[[2]netip.AddrPort]uint32{}, buf: make([]byte, 0, 2048)}, nil
}

// SetKernel makes the tracker keep its streams in the kernel: endpoints
// learnt from now on are pushed into k, and Tick reads k's streams. Set it
// before the first SDP.
func (t *Tracker) SetKernel(k Kernel) {
	t.mu.Lock()
	t.k = k
	t.mu.Unlock()
}

// Stats returns the counters.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.st
	s.Endpoints, s.Streams = uint64(len(t.eps)), uint64(len(t.streams))
	return s
}

// HashCallID is the Call-ID hash the kernel keeps (FNV-1a 64).
func HashCallID(id []byte) uint64 {
	h := fnv.New64a()
	h.Write(id)
	return h.Sum64()
}

// ObserveSDP learns the RTP endpoints of an SDP body under callID: each
// enabled RTP m= section's c= address and port, with its payload types.
func (t *Tracker) ObserveSDP(callID, body []byte, now int64) {
	if len(callID) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.sdp.DecodeFromBytes(body) // bad lines are skipped; what decoded is used
	for i := range t.sdp.Media {
		md := &t.sdp.Media[i]
		ap := md.RTPEndpoint()
		if !ap.IsValid() {
			continue
		}
		e := &endpoint{callID: append([]byte(nil), callID...), call: HashCallID(callID), expires: now + int64(t.cfg.TTL)}
		var def uint32 // the first codec's clock is the default of types without one
		var dtmf uint8
		for _, c := range md.Codecs {
			rate := uint32(c.Rate)
			name := string(c.Name)
			e.pts[(c.PT>>5)&3] |= 1 << (c.PT & 31)
			if ascii.EqualFold(name, "telephone-event") {
				dtmf = c.PT
			} else if def == 0 && rate != 0 {
				def = rate
			}
			e.codecs = append(e.codecs, codec{pt: c.PT, name: name, clock: rate})
		}
		e.params = rtp.NewParams(def, dtmf)
		for _, c := range e.codecs {
			if c.clock != 0 && !e.params.SetPT(c.pt, c.clock) {
				t.st.ClocksRefused++
			}
		}
		old, ok := t.eps[ap]
		switch {
		case ok && !old.ended && string(old.callID) == string(callID):
			// The same call again (200 after INVITE, re-INVITE, UPDATE):
			// its streams go on; the codecs are the latest offer's.
			old.codecs, old.pts, old.params, old.expires = e.codecs, e.pts, e.params, e.expires
			e = old
		case ok:
			old.ended = true // another call took the endpoint: the old one's streams end
		case len(t.eps) >= t.cfg.MaxEndpoints:
			t.evictEndpoint()
		}
		t.eps[ap] = e
		if t.k != nil {
			if err := t.k.PutEndpoint(ap, e.call, e.pts, &e.params); err != nil {
				t.st.KernelErrors++
			}
		}
	}
}

func (t *Tracker) evictEndpoint() {
	var victim netip.AddrPort
	var exp int64 = 1<<63 - 1
	n := 0
	for ap, e := range t.eps { // map order is random: sample a few
		if e.expires < exp {
			victim, exp = ap, e.expires
		}
		if n++; n == 8 {
			break
		}
	}
	t.dropEndpoint(victim)
	t.st.EndpointsEvicted++
}

func (t *Tracker) dropEndpoint(ap netip.AddrPort) {
	delete(t.eps, ap)
	if t.k != nil {
		if err := t.k.DeleteEndpoint(ap); err != nil {
			t.st.KernelErrors++
		}
	}
}

// End marks callID's endpoints ended (BYE, CANCEL, final error): their
// streams get their final report (HANGUP) at the next Tick.
func (t *Tracker) End(callID []byte, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ap, e := range t.eps {
		if !e.ended && string(e.callID) == string(callID) {
			e.ended = true
			e.expires = now + int64(t.cfg.EndTTL)
			// The kernel stops counting it; the streams get their final
			// report from what it counted so far.
			if t.k != nil {
				if err := t.k.DeleteEndpoint(ap); err != nil {
					t.st.KernelErrors++
				}
			}
		}
	}
}

// Packet counts one UDP datagram b from src to dst captured at ts, if it
// is RTP to or from a known endpoint. The per-packet path: no allocation
// once the stream exists.
func (t *Tracker) Packet(src, dst netip.AddrPort, b []byte, ts int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var dir uint8
	e := t.eps[dst]
	if e == nil || e.ended {
		if e = t.eps[src]; e == nil || e.ended {
			return // unknown, or media after the call ended
		}
		dir = 1
	}
	h := &t.hdr
	if h.DecodeFromBytes(b) != nil || e.pts[(h.PT>>5)&3]&(1<<(h.PT&31)) == 0 {
		t.st.NotRTP++
		return
	}
	k := streamKey{src, dst, h.SSRC}
	s := t.streams[k]
	if s == nil {
		if len(t.streams) >= t.cfg.MaxStreams {
			t.st.StreamsRefused++
			return
		}
		s = t.newStream(k, e, dir, h.PT)
		s.reported = ts // the first periodic report comes one Interval in
	}
	// the endpoint's latest SDP: a re-INVITE's codecs apply from then on
	s.state.Update(&e.params, h, uint32(len(b)), uint64(ts))
	s.last = ts
	t.st.Packets++
}

func (t *Tracker) newStream(k streamKey, e *endpoint, dir uint8, pt uint8) *stream {
	s := &stream{ep: e, callID: e.callID, dir: dir, pt: pt, params: e.params}
	if c, ok := e.codec(pt); ok {
		s.codec = c.name
	}
	t.streams[k] = s
	t.tuples[[2]netip.AddrPort{k.src, k.dst}]++
	return s
}
