package packet

import (
	"net/netip"
	"slices"

	"github.com/xhep/xhep/agent/source"
)

// TCP reassembly: the assembler.
//
// The assembler follows sequence numbers and knows nothing of the bytes'
// format: it hands in-order bytes to the stream's framer (framer.go) with
// the metadata of the segment that brought them, and the framer hands back
// whole messages. Each direction of a followed connection is a stream,
// keyed by its source and destination address and port. A stream starts at
// the SYN when it is seen, otherwise at the first segment seen (mid-stream
// start: the framer is told, and a SIP framer scans forward to the first
// SIP start line, a resync). In-order bytes are framed into messages as
// soon as they complete; a segment ahead of the next expected sequence
// number is kept (copied, bounded) until the hole is filled; bytes already
// seen (retransmissions) are dropped. A hole still open after GapTimeout,
// or when the stream would exceed MaxStreamBytes, is skipped: the
// incomplete message before it is dropped and the framer is told (a SIP
// framer resyncs at the next start line after it). A framer that cannot
// find its framing again after a hole (WebSocket, DNS) loses the stream:
// it is followed no further (its bytes are dropped and counted) until it
// closes.
//
// FIN closes a direction once every byte before it has arrived; RST closes
// both directions at once. Expire flushes idle streams. Closing or
// flushing skips remaining holes, emits every message that completes and
// counts the bytes of an incomplete one in TCPDroppedBytes.

type streamKey struct{ src, dst netip.AddrPort }

// segment is an out-of-order segment waiting for a hole to fill.
type segment struct {
	seq  uint32
	data []byte // pooled copy
}

// stream is one direction of a followed connection: the assembler's state
// (sequence numbers, buffered bytes, holes, bounds) and its framer.
type stream struct {
	key  streamKey
	kind framerKind
	fr   framer
	lost bool // framing lost (a hole in a WebSocket or DNS stream, not an upgrade): bytes followed, dropped

	next     uint32    // next expected sequence number
	buf      []byte    // in-order bytes not yet framed: buf[off:]
	off      int       //
	ooo      []segment // out-of-order segments, sorted by seq, not overlapping next
	oooBytes int       //
	gapSince int64     // timestamp of the first segment waiting behind a hole, 0 if none
	fresh    bool      // no payload seen yet
	live     bool      // in the table (false once removed)
	fin      bool      // FIN seen at finSeq
	finSeq   uint32    //

	// The last segment's metadata, for what Expire and RST emit.
	last    int64 // timestamp of the last segment
	vlan    uint16
	ifIndex int
	egress  bool

	size        int // bytes counted against the bounds
	prev, next_ *stream
}

// used returns the bytes the stream holds against the bounds.
func (s *stream) used() int { return len(s.buf) - s.off + s.oooBytes + s.fr.held() }

// assembler is TCP reassembly apart from framing: it holds the followed
// streams in a map and an LRU list (front: most recently used), keeps
// their sequence state within the bounds of Config, counts every byte it
// drops, and hands in-order bytes to each stream's framer. It uses its
// Decoder only for the Config, the Stats and deliver (filters and emit).
type assembler struct {
	d        *Decoder
	streams  map[streamKey]*stream
	bytes    int    // sum of size over streams
	lru      stream // sentinel: lru.next_ is the most recent, lru.prev the least
	free     []*stream
	segFree  [][]byte
	gaps     int // streams with gapSince != 0
	framers  framerPool
	m        meta         // handed to framers (one segment at a time)
	expFrame source.Frame // Frame of messages emitted by expire
}

// Pool bounds: buffers larger than maxPooledBuf are not kept for reuse.
const (
	maxPooledBuf     = 64 << 10
	maxFreeStreams   = 1024
	maxFreeSegments  = 1024
	segmentBufSize   = 2048
	maxHTTPHeader    = 8 << 10 // an upgrade request's headers must fit
	resyncKeep       = 16      // bytes kept while scanning for a start line
	maxWSControlSize = 125
)

func newAssembler(d *Decoder) *assembler {
	t := &assembler{d: d, streams: make(map[streamKey]*stream)}
	t.framers.d = d
	t.lru.next_, t.lru.prev = &t.lru, &t.lru
	return t
}

func (t *assembler) unlink(s *stream) {
	s.prev.next_ = s.next_
	s.next_.prev = s.prev
	s.prev, s.next_ = nil, nil
}

func (t *assembler) pushFront(s *stream) {
	s.prev = &t.lru
	s.next_ = t.lru.next_
	t.lru.next_.prev = s
	t.lru.next_ = s
}

func (t *assembler) touch(s *stream) {
	if t.lru.next_ != s {
		t.unlink(s)
		t.pushFront(s)
	}
}

// account brings the table's byte total up to date with s.
func (t *assembler) account(s *stream) {
	u := s.used()
	t.bytes += u - s.size
	s.size = u
}

func (t *assembler) newStream(k streamKey, kind framerKind, mid bool) *stream {
	d := t.d
	for len(t.streams) >= d.cfg.MaxStreams {
		t.evict(t.lru.prev)
	}
	var s *stream
	if n := len(t.free); n > 0 {
		s = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		s = &stream{}
	}
	s.key, s.fresh, s.live = k, true, true
	t.setFramer(s, kind, mid)
	t.streams[k] = s
	t.pushFront(s)
	d.st.TCPStreams++
	return s
}

// remove forgets s, counting what it still buffers as dropped.
func (t *assembler) remove(s *stream) {
	t.d.st.TCPDroppedBytes += uint64(s.used())
	if s.gapSince != 0 {
		t.gaps--
	}
	for _, g := range s.ooo {
		t.putSeg(g.data)
	}
	delete(t.streams, s.key)
	t.unlink(s)
	t.bytes -= s.size
	t.framers.put(s.kind, s.fr)
	buf, ooo := s.buf[:0], s.ooo[:0]
	*s = stream{}
	if len(t.free) < maxFreeStreams {
		if cap(buf) <= maxPooledBuf {
			s.buf = buf
		}
		s.ooo = ooo
		t.free = append(t.free, s)
	}
}

// setFramer gives s a framer of kind k (returning the one it had).
func (t *assembler) setFramer(s *stream, k framerKind, mid bool) {
	if s.fr != nil {
		t.framers.put(s.kind, s.fr)
	}
	s.kind, s.fr = k, t.framers.get(k)
	s.fr.begin(mid)
}

// meta fills the table's meta for bytes of s framed now: its addresses
// and the metadata of its last segment, with frame f.
func (t *assembler) meta(s *stream, f *source.Frame) *meta {
	m := &t.m
	m.src, m.dst, m.vlan, m.frame = s.key.src, s.key.dst, s.vlan, f
	return m
}

func (t *assembler) evict(s *stream) {
	t.d.st.TCPEvicted++
	t.remove(s)
}

func (t *assembler) getSeg(p []byte) []byte {
	var b []byte
	if n := len(t.segFree); n > 0 && len(p) <= segmentBufSize {
		b = t.segFree[n-1][:0]
		t.segFree = t.segFree[:n-1]
	} else {
		b = make([]byte, 0, max(len(p), segmentBufSize))
	}
	return append(b, p...)
}

func (t *assembler) putSeg(b []byte) {
	if cap(b) == segmentBufSize && len(t.segFree) < maxFreeSegments {
		t.segFree = append(t.segFree, b)
	}
}

// TCP flags (byte 13 of the header).
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// seqLT reports a < b in sequence-number (serial) arithmetic.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// tcpSegment decodes a TCP header (RFC 9293) and feeds the payload to its
// stream:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options (Data Offset > 5)                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
func (d *Decoder) tcpSegment(src, dst netip.Addr, b []byte, emit func(*Message)) {
	if len(b) < 20 {
		d.bad(ReasonTruncated)
		return
	}
	off := int(b[12]>>4) * 4
	if off < 20 {
		d.bad(ReasonBadTCP)
		return
	}
	if off > len(b) {
		d.bad(ReasonTruncated)
		return
	}
	d.st.TCP++
	k := streamKey{netip.AddrPortFrom(src, be16(b[0:2])), netip.AddrPortFrom(dst, be16(b[2:4]))}
	seq := be32(b[4:8])
	flags := b[13]
	p := b[off:]
	t := d.tcp
	s := t.streams[k]
	if s != nil && flags&fSYN != 0 && s.next != seq+1 {
		t.remove(s) // a new connection on the same 4-tuple
		s = nil
	}
	if s == nil {
		if flags&fRST != 0 || (len(p) == 0 && flags&fSYN == 0) {
			return
		}
		kind, ok := d.streamFramer(k, p)
		if !ok {
			if len(p) > 0 {
				d.st.Unclassified++
			}
			return
		}
		s = t.newStream(k, kind, flags&fSYN == 0)
		s.next = seq
		if flags&fSYN != 0 {
			s.next++
		}
	} else {
		t.touch(s)
		if flags&fSYN != 0 { // retransmitted SYN
			return
		}
	}
	d.st.TCPSegments++
	s.last, s.vlan = d.frame.TS, d.vlan
	s.ifIndex, s.egress = d.frame.IfIndex, d.frame.Egress
	if flags&fSYN != 0 {
		seq++
	}
	if len(p) > 0 {
		t.data(s, seq, p, t.meta(s, d.frame), emit)
	}
	if flags&fRST != 0 {
		t.close(s, t.meta(s, d.frame), emit)
		if r := t.streams[streamKey{k.dst, k.src}]; r != nil {
			t.close(r, t.meta(r, d.frame), emit)
		}
		return
	}
	if flags&fFIN != 0 && !s.fin {
		s.fin = true
		s.finSeq = seq + uint32(len(p))
	}
	if s.live && s.fin && !seqLT(s.next, s.finSeq) {
		t.close(s, t.meta(s, d.frame), emit)
	}
}

// data places payload p at sequence number seq in stream s; m is the
// metadata of the segment it came in.
func (t *assembler) data(s *stream, seq uint32, p []byte, m *meta, emit func(*Message)) {
	d := t.d
	ts := m.frame.TS
	if s.lost {
		d.st.TCPDroppedBytes += uint64(len(p))
		if seqLT(s.next, seq+uint32(len(p))) {
			s.next = seq + uint32(len(p))
		}
		return
	}
	if s.fresh {
		s.fresh = false
		if seq == s.next {
			if k := firstBytes(s.kind, p); k != s.kind {
				t.setFramer(s, k, false)
			}
		}
	}
	end := seq + uint32(len(p))
	switch {
	case !seqLT(s.next, end): // every byte already seen
		d.st.TCPRetransmits++
		return
	case seqLT(seq, s.next): // partly seen: keep the new tail
		d.st.TCPRetransmits++
		p = p[s.next-seq:]
		seq = s.next
	}
	if seq != s.next {
		t.ahead(s, seq, p)
		if s.gapSince == 0 {
			s.gapSince = ts
			t.gaps++
		}
		if ts-s.gapSince > int64(d.cfg.GapTimeout) {
			t.skipGap(s)
			t.frame(s, m, emit)
		}
		for s.used() > d.cfg.MaxStreamBytes && len(s.ooo) > 0 {
			t.skipGap(s)
			t.frame(s, m, emit)
		}
		t.account(s)
		t.bound(s)
		return
	}
	s.next = end
	if s.off == len(s.buf) && len(s.ooo) == 0 && !s.fr.inPlace() {
		// Fast path: frame straight from the segment, keep only the rest.
		s.buf, s.off = s.buf[:0], 0
		n := t.frameFrom(s, p, m, emit)
		if s.live && n < len(p) {
			s.buf = append(s.buf, p[n:]...)
		}
	} else {
		s.buf = append(s.buf, p...)
		t.drain(s)
		t.frame(s, m, emit)
	}
	if !s.live {
		return
	}
	if s.gapSince != 0 && ts-s.gapSince > int64(d.cfg.GapTimeout) {
		t.skipGap(s)
		t.frame(s, m, emit)
	}
	t.account(s)
	t.bound(s)
}

// ahead stores an out-of-order segment. Bytes already held win: only the
// pieces of p that fall into holes between held segments are stored, so
// held segments stay sorted and never overlap.
func (t *assembler) ahead(s *stream, seq uint32, p []byte) {
	added := false
	i := 0
	for len(p) > 0 {
		// Skip held segments that end at or before seq.
		for i < len(s.ooo) && !seqLT(seq, s.ooo[i].seq+uint32(len(s.ooo[i].data))) {
			i++
		}
		if i < len(s.ooo) && !seqLT(seq, s.ooo[i].seq) { // seq falls inside segment i
			n := int(s.ooo[i].seq + uint32(len(s.ooo[i].data)) - seq)
			if n >= len(p) {
				break
			}
			p, seq = p[n:], seq+uint32(n)
			i++
			continue
		}
		n := len(p) // up to the next held segment
		if i < len(s.ooo) && seqLT(s.ooo[i].seq, seq+uint32(len(p))) {
			n = int(s.ooo[i].seq - seq)
		}
		s.ooo = slices.Insert(s.ooo, i, segment{seq, t.getSeg(p[:n])})
		s.oooBytes += n
		added = true
		i++
		p, seq = p[n:], seq+uint32(n)
	}
	if added {
		t.d.st.TCPOutOfOrder++
	} else {
		t.d.st.TCPRetransmits++
	}
}

// drain appends the out-of-order segments that the hole no longer
// separates from the in-order bytes.
func (t *assembler) drain(s *stream) {
	n := 0
	for _, g := range s.ooo {
		if seqLT(s.next, g.seq) {
			break
		}
		end := g.seq + uint32(len(g.data))
		if seqLT(s.next, end) {
			s.buf = append(s.buf, g.data[s.next-g.seq:]...)
			s.next = end
		}
		s.oooBytes -= len(g.data)
		t.putSeg(g.data)
		n++
	}
	if n > 0 {
		s.ooo = append(s.ooo[:0], s.ooo[n:]...)
	}
	if len(s.ooo) == 0 && s.gapSince != 0 {
		s.gapSince = 0
		t.gaps--
	}
}

// skipGap jumps over the first hole: the incomplete message before it is
// dropped (and counted, with what its framer held), and the framer is told (a SIP stream resyncs after it, one
// whose framer cannot is lost).
func (t *assembler) skipGap(s *stream) {
	if len(s.ooo) == 0 {
		return
	}
	d := t.d
	d.st.TCPGaps++
	d.st.TCPDroppedBytes += uint64(len(s.buf) - s.off + s.fr.held())
	s.buf, s.off = s.buf[:0], 0
	s.next = s.ooo[0].seq
	if !s.fr.gap() {
		s.lost = true
	}
	t.drain(s)
	if s.lost {
		d.st.TCPDroppedBytes += uint64(len(s.buf))
		s.buf = s.buf[:0]
		for len(s.ooo) > 0 { // drop the rest, keep following sequence numbers
			s.next = s.ooo[0].seq
			t.drain(s)
			d.st.TCPDroppedBytes += uint64(len(s.buf))
			s.buf = s.buf[:0]
		}
	}
}

// bound enforces MaxStreamBytes on s and MaxTotalStreamBytes on the table.
func (t *assembler) bound(s *stream) {
	d := t.d
	if s.live && s.used() > d.cfg.MaxStreamBytes {
		// Only an in-order message can be this large now: drop it.
		d.bad(ReasonStreamOverflow)
		d.st.TCPDroppedBytes += uint64(len(s.buf) - s.off + s.fr.held())
		s.buf, s.off = s.buf[:0], 0
		if !s.fr.gap() {
			s.lost = true
		}
		t.account(s)
	}
	for t.bytes > d.cfg.MaxTotalStreamBytes && t.lru.prev != &t.lru {
		t.evict(t.lru.prev)
	}
}

// close closes a direction: holes are skipped, complete messages emitted,
// the rest dropped.
func (t *assembler) close(s *stream, m *meta, emit func(*Message)) {
	t.flush(s, m, emit)
	if s.live {
		t.d.st.TCPStreamsClosed++
		t.remove(s)
	}
}

// flush skips every hole of s and frames what follows.
func (t *assembler) flush(s *stream, m *meta, emit func(*Message)) {
	for len(s.ooo) > 0 && s.live {
		t.skipGap(s)
		t.frame(s, m, emit)
	}
}

// frame frames the in-order bytes buffered in s.
func (t *assembler) frame(s *stream, m *meta, emit func(*Message)) {
	if s.off == len(s.buf) {
		s.buf, s.off = s.buf[:0], 0
		return
	}
	n := t.frameFrom(s, s.buf[s.off:], m, emit)
	if !s.live {
		return
	}
	s.off += n
	switch {
	case s.off == len(s.buf):
		s.buf, s.off = s.buf[:0], 0
		if cap(s.buf) > maxPooledBuf {
			s.buf = nil // give back the memory of a large message
		}
	case s.off > len(s.buf)/2:
		s.buf = s.buf[:copy(s.buf, s.buf[s.off:])]
		s.off = 0
	}
}

// frameFrom hands b, in-order bytes of s, to its framer and returns how
// many bytes were consumed. Once the framing is lost, the rest is dropped.
func (t *assembler) frameFrom(s *stream, b []byte, m *meta, emit func(*Message)) int {
	if len(b) == 0 {
		return 0
	}
	if s.lost {
		t.d.st.TCPDroppedBytes += uint64(len(b))
		return len(b)
	}
	d := t.d
	n := 0
	for n < len(b) {
		k, msg, class, ok := s.fr.next(b[n:])
		n += k
		if msg != nil {
			d.st.TCPMessages++
			d.deliver(class, 6, m.src, m.dst, m.vlan, msg, m.frame, emit)
		}
		if !ok {
			// The rest, and what the framer held, is dropped: a lost
			// stream holds nothing but its sequence state.
			s.lost = true
			d.st.TCPDroppedBytes += uint64(len(b) - n + s.fr.held())
			s.fr.gap()
			return len(b)
		}
		if k == 0 {
			break
		}
	}
	return n
}

// expire skips holes older than GapTimeout and flushes streams idle for
// StreamIdle, measured against now (see [Decoder.Expire]). What completes
// is emitted with the assembler's own Frame carrying the stream's last
// segment's TS, IfIndex and Egress.
func (t *assembler) expire(now int64, emit func(*Message)) {
	d := t.d
	if t.gaps > 0 {
		for s := t.lru.next_; s != &t.lru; {
			nx := s.next_
			if s.gapSince != 0 && now-s.gapSince > int64(d.cfg.GapTimeout) {
				t.skipGap(s)
				t.frame(s, t.meta(s, t.expireFrame(s)), emit)
				if s.live {
					t.account(s)
				}
			}
			s = nx
		}
	}
	for s := t.lru.prev; s != &t.lru; {
		pv := s.prev
		if now-s.last <= int64(d.cfg.StreamIdle) {
			break
		}
		t.flush(s, t.meta(s, t.expireFrame(s)), emit)
		if s.live {
			d.st.TCPStreamsIdle++
			t.remove(s)
		}
		s = pv
	}
}

func (t *assembler) expireFrame(s *stream) *source.Frame {
	t.expFrame = source.Frame{TS: s.last, IfIndex: s.ifIndex, Egress: s.egress}
	return &t.expFrame
}
