package correlate

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/xhep/xhep/hep/sip"
)

// Config bounds a [Table]. Zero fields take the defaults of [DefaultConfig].
type Config struct {
	// MaxEntries is the number of media endpoints kept (each call usually
	// has two to four). Memory is about MaxEntries × (MaxCallIDLen + 64) bytes.
	MaxEntries int
	// MaxCallIDLen is the longest Call-ID stored; SIP messages with a longer
	// one are not tracked (counted in Stats.TooLong).
	MaxCallIDLen int
	// TTL is how long an endpoint is kept after the last SDP naming it or
	// the last RTCP packet matching it.
	TTL time.Duration
	// EndTTL is what is left of an endpoint's life after its call ended
	// (BYE, CANCEL, final error to INVITE): late RTCP still correlates.
	EndTTL time.Duration
}

// DefaultConfig: 65536 endpoints, Call-IDs up to 128 bytes, 10 minutes of
// life renewed by RTCP, 30 seconds after the call ended.
func DefaultConfig() Config {
	return Config{MaxEntries: 1 << 16, MaxCallIDLen: 128, TTL: 10 * time.Minute, EndTTL: 30 * time.Second}
}

// ErrConfig is wrapped by the errors of [New] for a bad [Config].
var ErrConfig = errors.New("invalid correlation config")

// Stats counts what the table did. All counters only grow, but Entries.
type Stats struct {
	Entries  uint64 // endpoints in the table now
	Added    uint64 // endpoints inserted
	Updated  uint64 // endpoints confirmed again by SDP (same or new Call-ID)
	Evicted  uint64 // live endpoints pushed out because the table was full
	Expired  uint64 // endpoints removed after their TTL
	Ended    uint64 // calls ended by BYE, CANCEL or a final error that had endpoints
	SDP      uint64 // SDP bodies read
	BadSDP   uint64 // SDP bodies that did not decode
	TooLong  uint64 // SIP messages with SDP whose Call-ID exceeds MaxCallIDLen
	Hits     uint64 // Lookup calls that found a Call-ID
	Misses   uint64 // Lookup calls that found none
	Capacity uint64 // MaxEntries
}

const none = -1

// entry is one media endpoint. expires == 0 marks a free slot.
type entry struct {
	key        netip.AddrPort
	expires    int64  // Unix ns
	hash       uint64 // FNV-1a of the Call-ID
	prev, next int32  // the doubly linked list of the endpoints with the same hash
	n          uint16 // Call-ID length in ids
	ended      bool   // the call ended: RTCP no longer extends the life
}

// Table maps media endpoints to Call-IDs. See the package documentation.
type Table struct {
	cfg     Config
	ttl     int64
	endTTL  int64
	entries []entry
	ids     []byte // MaxEntries × MaxCallIDLen: slot i's Call-ID at i*MaxCallIDLen
	index   map[netip.AddrPort]int32
	calls   map[uint64]int32 // Call-ID hash → first endpoint of the list
	free    []int32
	hand    int // eviction clock hand
	sweep   int // Expire's position
	sdp     sip.SDP

	entriesN, added, updated, evicted, expired, ended atomic.Uint64
	sdpN, badSDP, tooLong, hits, misses               atomic.Uint64
}

// New returns an empty table with all its memory allocated.
func New(cfg Config) (*Table, error) {
	def := DefaultConfig()
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = def.MaxEntries
	}
	if cfg.MaxCallIDLen == 0 {
		cfg.MaxCallIDLen = def.MaxCallIDLen
	}
	if cfg.TTL == 0 {
		cfg.TTL = def.TTL
	}
	if cfg.EndTTL == 0 {
		cfg.EndTTL = def.EndTTL
	}
	switch {
	case cfg.MaxEntries < 1 || cfg.MaxEntries > 1<<28:
		return nil, fmt.Errorf("%w: MaxEntries %d not in 1..%d", ErrConfig, cfg.MaxEntries, 1<<28)
	case cfg.MaxCallIDLen < 1 || cfg.MaxCallIDLen > 65535:
		return nil, fmt.Errorf("%w: MaxCallIDLen %d not in 1..65535", ErrConfig, cfg.MaxCallIDLen)
	case cfg.TTL < 0 || cfg.EndTTL < 0:
		return nil, fmt.Errorf("%w: negative TTL", ErrConfig)
	}
	t := &Table{
		cfg:     cfg,
		ttl:     int64(cfg.TTL),
		endTTL:  int64(min(cfg.EndTTL, cfg.TTL)),
		entries: make([]entry, cfg.MaxEntries),
		ids:     make([]byte, cfg.MaxEntries*cfg.MaxCallIDLen),
		index:   make(map[netip.AddrPort]int32, cfg.MaxEntries),
		calls:   make(map[uint64]int32, cfg.MaxEntries),
		free:    make([]int32, cfg.MaxEntries),
	}
	for i := range t.free {
		t.free[i] = int32(cfg.MaxEntries - 1 - i) // pop from the end: slot 0 first
	}
	return t, nil
}

// Config returns the table's configuration with defaults filled in.
func (t *Table) Config() Config { return t.cfg }

// Len returns the number of endpoints in the table. Any goroutine.
func (t *Table) Len() int { return int(t.entriesN.Load()) }

// Stats returns a snapshot of the counters. Any goroutine.
func (t *Table) Stats() Stats {
	return Stats{
		Entries:  t.entriesN.Load(),
		Added:    t.added.Load(),
		Updated:  t.updated.Load(),
		Evicted:  t.evicted.Load(),
		Expired:  t.expired.Load(),
		Ended:    t.ended.Load(),
		SDP:      t.sdpN.Load(),
		BadSDP:   t.badSDP.Load(),
		TooLong:  t.tooLong.Load(),
		Hits:     t.hits.Load(),
		Misses:   t.misses.Load(),
		Capacity: uint64(t.cfg.MaxEntries),
	}
}

// hashCallID is 64-bit FNV-1a.
func hashCallID(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

func (t *Table) callID(i int32) []byte {
	off := int(i) * t.cfg.MaxCallIDLen
	return t.ids[off : off+int(t.entries[i].n) : off+int(t.entries[i].n)]
}

// link puts slot i at the head of its hash's list.
func (t *Table) link(i int32) {
	e := &t.entries[i]
	e.prev = none
	e.next = none
	if head, ok := t.calls[e.hash]; ok {
		e.next = head
		t.entries[head].prev = i
	}
	t.calls[e.hash] = i
}

func (t *Table) unlink(i int32) {
	e := &t.entries[i]
	if e.prev != none {
		t.entries[e.prev].next = e.next
	} else if e.next != none {
		t.calls[e.hash] = e.next
	} else {
		delete(t.calls, e.hash)
	}
	if e.next != none {
		t.entries[e.next].prev = e.prev
	}
	e.prev, e.next = none, none
}

// remove frees slot i.
func (t *Table) remove(i int32) {
	t.unlink(i)
	delete(t.index, t.entries[i].key)
	t.entries[i] = entry{prev: none, next: none}
	t.free = append(t.free, i)
	t.entriesN.Add(^uint64(0))
}

// slot returns a free slot, evicting one when the table is full: of the
// next four slots from the clock hand, the one closest to expiry.
func (t *Table) slot(now int64) int32 {
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		return i
	}
	const sample = 4
	victim := int32(t.hand)
	for k := range min(sample, len(t.entries)) {
		i := int32((t.hand + k) % len(t.entries))
		if t.entries[i].expires < t.entries[victim].expires {
			victim = i
		}
	}
	t.hand = (t.hand + sample) % len(t.entries)
	if t.entries[victim].expires <= now {
		t.expired.Add(1)
	} else {
		t.evicted.Add(1)
	}
	t.remove(victim)
	n := len(t.free)
	i := t.free[n-1]
	t.free = t.free[:n-1]
	return i
}

// Add maps the media endpoint ep to callID, at capture time now (Unix ns).
// An endpoint already known is confirmed: its life is renewed and it moves
// to callID if that differs. Endpoints without an address or port, or with
// the unspecified address (a call on hold), are ignored. Add reports whether
// the endpoint is in the table afterwards.
func (t *Table) Add(ep netip.AddrPort, callID []byte, now int64) bool {
	if !ep.IsValid() || ep.Port() == 0 || ep.Addr().IsUnspecified() || len(callID) == 0 {
		return false
	}
	if len(callID) > t.cfg.MaxCallIDLen {
		t.tooLong.Add(1)
		return false
	}
	ep = netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port())
	h := hashCallID(callID)
	if i, ok := t.index[ep]; ok {
		e := &t.entries[i]
		if e.hash != h || !bytes.Equal(t.callID(i), callID) {
			t.unlink(i)
			e.hash = h
			e.n = uint16(copy(t.ids[int(i)*t.cfg.MaxCallIDLen:], callID))
			t.link(i)
		}
		e.expires = now + t.ttl
		e.ended = false
		t.updated.Add(1)
		return true
	}
	i := t.slot(now)
	t.entries[i] = entry{key: ep, expires: now + t.ttl, hash: h}
	t.entries[i].n = uint16(copy(t.ids[int(i)*t.cfg.MaxCallIDLen:], callID))
	t.link(i)
	t.index[ep] = i
	t.entriesN.Add(1)
	t.added.Add(1)
	return true
}

// End marks the endpoints of callID as belonging to an ended call: each
// keeps at most EndTTL of life and RTCP no longer extends it. It reports
// whether the call had endpoints.
func (t *Table) End(callID []byte, now int64) bool {
	h := hashCallID(callID)
	head, ok := t.calls[h]
	if !ok {
		return false
	}
	found := false
	for i := head; i != none; i = t.entries[i].next {
		if !bytes.Equal(t.callID(i), callID) {
			continue
		}
		e := &t.entries[i]
		e.expires = min(e.expires, now+t.endTTL)
		e.ended = true
		found = true
	}
	if found {
		t.ended.Add(1)
	}
	return found
}

// Lookup returns the Call-ID of the call whose media uses src or dst (src
// is tried first), at capture time now. A hit on a call that has not ended
// renews the endpoint's life. The returned slice aliases the table and is
// valid until the next call that changes it (Add, ObserveSDP, End, Expire);
// copy it to keep it. Lookup does not allocate.
func (t *Table) Lookup(src, dst netip.AddrPort, now int64) ([]byte, bool) {
	for _, ap := range [2]netip.AddrPort{src, dst} {
		if ap.Addr().Is4In6() {
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		}
		i, ok := t.index[ap]
		if !ok {
			continue
		}
		e := &t.entries[i]
		if e.expires <= now {
			t.expired.Add(1)
			t.remove(i)
			continue
		}
		if !e.ended {
			e.expires = now + t.ttl
		}
		t.hits.Add(1)
		return t.callID(i), true
	}
	t.misses.Add(1)
	return nil, false
}

// expireScan is how many slots one Expire call visits.
const expireScan = 8192

// Expire removes endpoints whose life ended before now, visiting at most
// 8192 slots per call from where the last call stopped (a full sweep of a
// big table takes several calls; Lookup and eviction check expiry on their
// own), and returns how many it removed. The pipeline calls it once per
// second of capture time.
func (t *Table) Expire(now int64) int {
	n := 0
	for range min(expireScan, len(t.entries)) {
		i := t.sweep
		if t.sweep++; t.sweep == len(t.entries) {
			t.sweep = 0
		}
		if e := &t.entries[i]; e.expires != 0 && e.expires <= now {
			t.remove(int32(i))
			n++
		}
	}
	t.expired.Add(uint64(n))
	return n
}

// ObserveSDP adds the RTCP endpoint of every enabled m= section of an SDP
// body, and its RTP endpoint as well with rtcp-mux, under callID. SDP with
// lines that do not decode is counted (Stats.BadSDP); the media sections
// that did decode are still used.
func (t *Table) ObserveSDP(callID, body []byte, now int64) {
	t.sdpN.Add(1)
	if len(callID) == 0 {
		return
	}
	if len(callID) > t.cfg.MaxCallIDLen {
		t.tooLong.Add(1)
		return
	}
	if err := t.sdp.DecodeFromBytes(body); err != nil {
		// The decoder skips the bad lines and keeps the rest.
		t.badSDP.Add(1)
	}
	for k := range t.sdp.Media {
		md := &t.sdp.Media[k]
		if md.Port == 0 {
			continue // rejected or disabled stream
		}
		rtcp := md.RTCPEndpoint()
		t.Add(rtcp, callID, now)
		if md.RTCPMux {
			if rtp := md.RTPEndpoint(); rtp != rtcp {
				t.Add(rtp, callID, now)
			}
		}
	}
}
