package packet

import "time"

// fragKey identifies a datagram being reassembled: addresses, IP
// identification (16 bits for IPv4, 32 for IPv6), protocol (IPv4 Protocol,
// or the fragment header's Next Header for IPv6) and family.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
}

// span is a half-open byte range [start, end) of a datagram's payload.
type span struct{ start, end int }

// datagram is one datagram in reassembly. buf holds the payload bytes at
// their offsets (len(buf) is the highest end seen), have the byte ranges
// received, sorted and merged.
type datagram struct {
	key   fragKey
	first int64 // timestamp of the first fragment, Unix ns
	total int   // payload length once the last fragment is seen, else -1
	buf   []byte
	have  []span
}

func (g *datagram) data() []byte { return g.buf[:g.total] }

// maxDatagram is the largest payload a fragmented datagram may reassemble
// to (offset 8191*8 plus a fragment, capped at the IPv4/IPv6 length field).
const maxDatagram = 65535

// maxFreeDatagrams bounds the reassembly buffers kept for reuse.
const maxFreeDatagrams = 64

// defragger reassembles IPv4 and IPv6 fragments.
//
// Overlaps: an exact duplicate (every byte already held) is ignored and
// counted FragDuplicate, for both families. Any other overlap is counted
// FragOverlap; for IPv4 the bytes already held win (first-wins) and only
// the new bytes are copied; for IPv6 the whole datagram is dropped, as RFC
// 5722 requires (later fragments of it start a new datagram that will time
// out).
//
// Bounds: at most cfg.MaxFragments datagrams and cfg.MaxFragBytes
// reassembly buffer bytes; to make room the datagram with the oldest first
// fragment is evicted (FragEvicted). Datagrams older than cfg.FragTimeout
// are dropped by expire, or when their next fragment arrives (FragExpired).
type defragger struct {
	cfg   *Config
	st    *Stats
	table map[fragKey]*datagram
	bytes int // sum of len(buf) over table
	free  []*datagram
}

func newDefragger(cfg *Config, st *Stats) *defragger {
	return &defragger{cfg: cfg, st: st, table: make(map[fragKey]*datagram)}
}

// add adds a fragment with payload p at byte offset off (more: the MF flag
// or M bit). It returns the completed datagram, which the caller must
// release after use, or nil.
func (f *defragger) add(k fragKey, off int, more bool, p []byte, ts int64) *datagram {
	f.st.FragSeen++
	end := off + len(p)
	if end > maxDatagram || len(p) == 0 || (more && len(p)%8 != 0) {
		f.st.Errors[ReasonBadFragment]++
		return nil
	}
	g := f.table[k]
	if g != nil && ts-g.first > int64(f.cfg.FragTimeout) {
		f.st.FragExpired++
		f.drop(g)
		g = nil
	}
	if g == nil {
		for len(f.table) >= f.cfg.MaxFragments {
			f.evictOldest(nil)
		}
		g = f.get()
		g.key, g.first, g.total = k, ts, -1
		f.table[k] = g
	}
	// Length consistency: one last fragment, nothing beyond it.
	if !more {
		if (g.total >= 0 && g.total != end) || (len(g.have) > 0 && g.have[len(g.have)-1].end > end) {
			f.st.Errors[ReasonBadFragment]++
			f.drop(g)
			return nil
		}
		g.total = end
	} else if g.total >= 0 && end > g.total {
		f.st.Errors[ReasonBadFragment]++
		f.drop(g)
		return nil
	}
	covered := g.covered(off, end)
	switch {
	case covered == len(p):
		f.st.FragDuplicate++
		return nil
	case covered > 0:
		f.st.FragOverlap++
		if k.v6 {
			f.drop(g)
			return nil
		}
	}
	if end > len(g.buf) {
		grow := end - len(g.buf)
		for f.bytes+grow > f.cfg.MaxFragBytes && len(f.table) > 1 {
			f.evictOldest(g)
		}
		if f.bytes+grow > f.cfg.MaxFragBytes {
			f.st.FragEvicted++
			f.drop(g)
			return nil
		}
		f.bytes += grow
		if end > cap(g.buf) {
			nb := make([]byte, end, max(end, 2*cap(g.buf)))
			copy(nb, g.buf)
			g.buf = nb
		} else {
			g.buf = g.buf[:end]
		}
	}
	if covered == 0 {
		copy(g.buf[off:end], p)
	} else { // IPv4 overlap, first-wins: copy only into the holes
		pos := off
		for _, s := range g.have {
			if s.end <= pos || s.start >= end {
				continue
			}
			if s.start > pos {
				copy(g.buf[pos:s.start], p[pos-off:s.start-off])
			}
			pos = s.end
		}
		if pos < end {
			copy(g.buf[pos:end], p[pos-off:])
		}
	}
	g.insert(off, end)
	if g.total >= 0 && len(g.have) == 1 && g.have[0].start == 0 && g.have[0].end == g.total {
		delete(f.table, g.key)
		f.bytes -= len(g.buf)
		f.st.FragReassembled++
		return g
	}
	return nil
}

// covered returns how many bytes of [start, end) are already held.
func (g *datagram) covered(start, end int) int {
	n := 0
	for _, s := range g.have {
		lo, hi := max(s.start, start), min(s.end, end)
		if hi > lo {
			n += hi - lo
		}
	}
	return n
}

// insert adds [start, end) to the sorted, merged span list.
func (g *datagram) insert(start, end int) {
	i := 0
	for i < len(g.have) && g.have[i].end < start {
		i++
	}
	j := i
	for j < len(g.have) && g.have[j].start <= end {
		start = min(start, g.have[j].start)
		end = max(end, g.have[j].end)
		j++
	}
	if i == j {
		g.have = append(g.have, span{})
		copy(g.have[i+1:], g.have[i:])
		g.have[i] = span{start, end}
		return
	}
	g.have[i] = span{start, end}
	g.have = append(g.have[:i+1], g.have[j:]...)
}

func (f *defragger) get() *datagram {
	if n := len(f.free); n > 0 {
		g := f.free[n-1]
		f.free = f.free[:n-1]
		return g
	}
	return &datagram{}
}

// release returns a completed datagram's buffer for reuse.
func (f *defragger) release(g *datagram) {
	g.buf = g.buf[:0]
	g.have = g.have[:0]
	if len(f.free) < maxFreeDatagrams && cap(g.buf) <= maxDatagram*2 {
		f.free = append(f.free, g)
	}
}

// drop removes an incomplete datagram from the table.
func (f *defragger) drop(g *datagram) {
	delete(f.table, g.key)
	f.bytes -= len(g.buf)
	f.release(g)
}

// evictOldest drops the datagram with the oldest first fragment, other
// than keep.
func (f *defragger) evictOldest(keep *datagram) {
	var old *datagram
	for _, g := range f.table {
		if g != keep && (old == nil || g.first < old.first) {
			old = g
		}
	}
	if old != nil {
		f.st.FragEvicted++
		f.drop(old)
	}
}

// expire drops datagrams whose first fragment is older than FragTimeout.
func (f *defragger) expire(now int64) {
	limit := int64(f.cfg.FragTimeout / time.Nanosecond)
	for _, g := range f.table {
		if now-g.first > limit {
			f.st.FragExpired++
			f.drop(g)
		}
	}
}
