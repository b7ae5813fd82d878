package packet

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/hep/sip"
)

// TCP reassembly.
//
// Each direction of a followed connection is a stream, keyed by its source
// and destination address and port. A stream starts at the SYN when it is
// seen, otherwise at the first segment seen (mid-stream start: a SIP stream
// then scans forward to the first SIP start line, a resync). In-order
// bytes are framed into messages as soon as they complete; a segment ahead
// of the next expected sequence number is kept (copied, bounded) until the
// hole is filled; bytes already seen (retransmissions) are dropped. A hole
// still open after GapTimeout, or when the stream would exceed
// MaxStreamBytes, is skipped: the incomplete message before it is dropped
// and a SIP stream resyncs at the next start line after it. A WebSocket or
// DNS stream cannot find its framing again after a hole: it is followed no
// further (its bytes are dropped and counted) until it closes.
//
// FIN closes a direction once every byte before it has arrived; RST closes
// both directions at once. Expire flushes idle streams. Closing or
// flushing skips remaining holes, emits every message that completes and
// counts the bytes of an incomplete one in TCPDroppedBytes.

type streamKey struct{ src, dst netip.AddrPort }

type streamMode uint8

const (
	modeSIP  streamMode = iota // SIP framed by Content-Length
	modeHTTP                   // HTTP headers before a WebSocket upgrade
	modeWS                     // WebSocket frames carrying SIP
	modeDNS                    // DNS with a 2-byte length prefix (RFC 1035 §4.2.2)
	modeLost                   // framing lost (gap in a WebSocket or DNS stream, not an upgrade): ignored
)

// segment is an out-of-order segment waiting for a hole to fill.
type segment struct {
	seq  uint32
	data []byte // pooled copy
}

type stream struct {
	key  streamKey
	mode streamMode

	next     uint32    // next expected sequence number
	buf      []byte    // in-order bytes not yet framed: buf[off:]
	off      int       //
	ooo      []segment // out-of-order segments, sorted by seq, not overlapping next
	oooBytes int       //
	gapSince int64     // timestamp of the first segment waiting behind a hole, 0 if none
	resync   bool      // SIP: skip to the next start line
	fresh    bool      // no payload seen yet
	live     bool      // in the table (false once removed)
	fin      bool      // FIN seen at finSeq
	finSeq   uint32    //

	wsMsg []byte // WebSocket: fragmented message being assembled
	wsOp  byte   // its opcode (1 text, 2 binary), 0 when none

	last    int64 // timestamp of the last segment
	vlan    uint16
	ifIndex int
	egress  bool

	size        int // bytes counted against the bounds
	prev, next_ *stream
}

// used returns the bytes the stream holds against the bounds.
func (s *stream) used() int { return len(s.buf) - s.off + s.oooBytes + len(s.wsMsg) }

// tcpTable holds the followed streams in a map and an LRU list (front: most
// recently used).
type tcpTable struct {
	d       *Decoder
	streams map[streamKey]*stream
	bytes   int    // sum of size over streams
	lru     stream // sentinel: lru.next_ is the most recent, lru.prev the least
	free    []*stream
	segFree [][]byte
	gaps    int // streams with gapSince != 0
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

func newTCPTable(d *Decoder) *tcpTable {
	t := &tcpTable{d: d, streams: make(map[streamKey]*stream)}
	t.lru.next_, t.lru.prev = &t.lru, &t.lru
	return t
}

func (t *tcpTable) unlink(s *stream) {
	s.prev.next_ = s.next_
	s.next_.prev = s.prev
	s.prev, s.next_ = nil, nil
}

func (t *tcpTable) pushFront(s *stream) {
	s.prev = &t.lru
	s.next_ = t.lru.next_
	t.lru.next_.prev = s
	t.lru.next_ = s
}

func (t *tcpTable) touch(s *stream) {
	if t.lru.next_ != s {
		t.unlink(s)
		t.pushFront(s)
	}
}

// account brings the table's byte total up to date with s.
func (t *tcpTable) account(s *stream) {
	u := s.used()
	t.bytes += u - s.size
	s.size = u
}

func (t *tcpTable) newStream(k streamKey, mode streamMode) *stream {
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
	s.key, s.mode, s.fresh, s.live = k, mode, true, true
	t.streams[k] = s
	t.pushFront(s)
	d.st.TCPStreams++
	return s
}

// remove forgets s, counting what it still buffers as dropped.
func (t *tcpTable) remove(s *stream) {
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
	buf, ooo, ws := s.buf[:0], s.ooo[:0], s.wsMsg[:0]
	*s = stream{}
	if len(t.free) < maxFreeStreams {
		if cap(buf) <= maxPooledBuf {
			s.buf = buf
		}
		if cap(ws) <= maxPooledBuf {
			s.wsMsg = ws
		}
		s.ooo = ooo
		t.free = append(t.free, s)
	}
}

func (t *tcpTable) evict(s *stream) {
	t.d.st.TCPEvicted++
	t.remove(s)
}

func (t *tcpTable) getSeg(p []byte) []byte {
	var b []byte
	if n := len(t.segFree); n > 0 && len(p) <= segmentBufSize {
		b = t.segFree[n-1][:0]
		t.segFree = t.segFree[:n-1]
	} else {
		b = make([]byte, 0, max(len(p), segmentBufSize))
	}
	return append(b, p...)
}

func (t *tcpTable) putSeg(b []byte) {
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
		mode, ok := d.streamMode(k, p)
		if !ok {
			if len(p) > 0 {
				d.st.Unclassified++
			}
			return
		}
		s = t.newStream(k, mode)
		s.next = seq
		if flags&fSYN != 0 {
			s.next++
		} else if mode == modeSIP {
			s.resync = true // mid-stream start
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
		t.data(s, seq, p, emit)
	}
	if flags&fRST != 0 {
		t.close(s, emit)
		if r := t.streams[streamKey{k.dst, k.src}]; r != nil {
			t.close(r, emit)
		}
		return
	}
	if flags&fFIN != 0 && !s.fin {
		s.fin = true
		s.finSeq = seq + uint32(len(p))
	}
	if s.live && s.fin && !seqLT(s.next, s.finSeq) {
		t.close(s, emit)
	}
}

// streamMode decides whether a new stream is followed, and how.
func (d *Decoder) streamMode(k streamKey, p []byte) (streamMode, bool) {
	c := &d.cfg
	sp, dp := k.src.Port(), k.dst.Port()
	switch {
	case isUpgrade(p): // WebSocket on any port, SIP ports included
		return modeHTTP, true
	case c.SIPPorts.Has(sp) || c.SIPPorts.Has(dp):
		return modeSIP, true
	case c.DNSPorts.Has(sp) || c.DNSPorts.Has(dp):
		return modeDNS, true
	case c.WebSocketPorts.Has(sp) || c.WebSocketPorts.Has(dp):
		if bytes.HasPrefix(p, []byte("GET ")) || bytes.HasPrefix(p, []byte("HTTP/")) {
			return modeHTTP, true
		}
		if len(p) > 0 {
			return modeWS, true // joined after the handshake
		}
		return modeHTTP, true
	case c.SIPByContent && sipFirstLine(p):
		return modeSIP, true
	}
	return 0, false
}

// isUpgrade reports whether p starts an HTTP request asking for a
// WebSocket upgrade, or a 101 response to one.
func isUpgrade(p []byte) bool {
	h := p[:min(len(p), maxHTTPHeader)]
	switch {
	case bytes.HasPrefix(p, []byte("GET ")):
		return containsFold(h, "\nupgrade:") && containsFold(h, "websocket")
	case bytes.HasPrefix(p, []byte("HTTP/1.1 101")), bytes.HasPrefix(p, []byte("HTTP/1.0 101")):
		return containsFold(h, "websocket") // not an h2c or other upgrade
	}
	return false
}

// containsFold reports whether b contains the lower-case ASCII string s,
// ignoring case.
func containsFold(b []byte, s string) bool {
	n := len(s)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for j < n && lower(b[i+j]) == s[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// data places payload p at sequence number seq in stream s.
func (t *tcpTable) data(s *stream, seq uint32, p []byte, emit func(*Message)) {
	d := t.d
	if s.mode == modeLost {
		d.st.TCPDroppedBytes += uint64(len(p))
		if seqLT(s.next, seq+uint32(len(p))) {
			s.next = seq + uint32(len(p))
		}
		return
	}
	if s.fresh {
		s.fresh = false
		if s.mode == modeSIP && seq == s.next && isUpgrade(p) { // WebSocket on a SIP port
			s.mode, s.resync = modeHTTP, false
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
			s.gapSince = d.frame.TS
			t.gaps++
		}
		if d.frame.TS-s.gapSince > int64(d.cfg.GapTimeout) {
			t.skipGap(s)
			t.frame(s, d.frame, emit)
		}
		for s.used() > d.cfg.MaxStreamBytes && len(s.ooo) > 0 {
			t.skipGap(s)
			t.frame(s, d.frame, emit)
		}
		t.account(s)
		t.bound(s)
		return
	}
	s.next = end
	if s.off == len(s.buf) && len(s.ooo) == 0 && s.mode != modeWS && s.mode != modeHTTP {
		// Fast path: frame straight from the segment, keep only the rest.
		s.buf, s.off = s.buf[:0], 0
		n := t.frameFrom(s, p, d.frame, emit)
		if s.live && n < len(p) {
			s.buf = append(s.buf, p[n:]...)
		}
	} else {
		s.buf = append(s.buf, p...)
		t.drain(s)
		t.frame(s, d.frame, emit)
	}
	if !s.live {
		return
	}
	if s.gapSince != 0 && d.frame.TS-s.gapSince > int64(d.cfg.GapTimeout) {
		t.skipGap(s)
		t.frame(s, d.frame, emit)
	}
	t.account(s)
	t.bound(s)
}

// ahead stores an out-of-order segment. Bytes already held win: only the
// pieces of p that fall into holes between held segments are stored, so
// held segments stay sorted and never overlap.
func (t *tcpTable) ahead(s *stream, seq uint32, p []byte) {
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
func (t *tcpTable) drain(s *stream) {
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
// dropped, and the stream resyncs after it.
func (t *tcpTable) skipGap(s *stream) {
	if len(s.ooo) == 0 {
		return
	}
	d := t.d
	d.st.TCPGaps++
	d.st.TCPDroppedBytes += uint64(len(s.buf) - s.off)
	s.buf, s.off = s.buf[:0], 0
	s.wsMsg, s.wsOp = s.wsMsg[:0], 0
	s.next = s.ooo[0].seq
	switch s.mode {
	case modeSIP:
		s.resync = true
	default:
		s.mode = modeLost
	}
	t.drain(s)
	if s.mode == modeLost {
		d.st.TCPDroppedBytes += uint64(len(s.buf))
		s.buf = s.buf[:0]
		for len(s.ooo) > 0 { // drop the rest, keep following sequence numbers
			d.st.TCPDroppedBytes += uint64(len(s.buf))
			s.next = s.ooo[0].seq
			t.drain(s)
			s.buf = s.buf[:0]
		}
	}
}

// bound enforces MaxStreamBytes on s and MaxTotalStreamBytes on the table.
func (t *tcpTable) bound(s *stream) {
	d := t.d
	if s.live && s.used() > d.cfg.MaxStreamBytes {
		// Only an in-order message can be this large now: drop it.
		d.bad(ReasonStreamOverflow)
		d.st.TCPDroppedBytes += uint64(len(s.buf) - s.off)
		s.buf, s.off = s.buf[:0], 0
		s.wsMsg, s.wsOp = s.wsMsg[:0], 0
		if s.mode == modeSIP {
			s.resync = true
		} else {
			s.mode = modeLost
		}
		t.account(s)
	}
	for t.bytes > d.cfg.MaxTotalStreamBytes && t.lru.prev != &t.lru {
		t.evict(t.lru.prev)
	}
}

// close closes a direction: holes are skipped, complete messages emitted,
// the rest dropped.
func (t *tcpTable) close(s *stream, emit func(*Message)) {
	t.flush(s, t.d.frame, emit)
	if s.live {
		t.d.st.TCPStreamsClosed++
		t.remove(s)
	}
}

// flush skips every hole of s and frames what follows.
func (t *tcpTable) flush(s *stream, f *source.Frame, emit func(*Message)) {
	for len(s.ooo) > 0 && s.live {
		t.skipGap(s)
		t.frame(s, f, emit)
	}
}

// frame frames the in-order bytes buffered in s.
func (t *tcpTable) frame(s *stream, f *source.Frame, emit func(*Message)) {
	if s.off == len(s.buf) {
		s.buf, s.off = s.buf[:0], 0
		return
	}
	n := t.frameFrom(s, s.buf[s.off:], f, emit)
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

// frameFrom frames messages at the start of b for stream s and returns how
// many bytes it consumed.
func (t *tcpTable) frameFrom(s *stream, b []byte, f *source.Frame, emit func(*Message)) int {
	n := 0
	for n < len(b) {
		var k int
		switch s.mode {
		case modeSIP:
			k = t.frameSIP(s, b[n:], f, emit)
		case modeDNS:
			k = t.frameDNS(s, b[n:], f, emit)
		case modeHTTP:
			k = t.frameHTTP(s, b[n:])
		case modeWS:
			k = t.frameWS(s, b[n:], f, emit)
		case modeLost:
			t.d.st.TCPDroppedBytes += uint64(len(b) - n)
			return len(b)
		}
		if k == 0 {
			if s.mode == modeLost {
				continue // framing lost just now: the rest is dropped
			}
			break
		}
		n += k
	}
	return n
}

// frameSIP frames one SIP message (or skips keep-alives or junk) at the
// start of b; 0 means more bytes are needed.
func (t *tcpTable) frameSIP(s *stream, b []byte, f *source.Frame, emit func(*Message)) int {
	d := t.d
	if s.resync {
		i := findSIPStart(b)
		if i < 0 {
			// Keep a short tail that may hold the start of a start line.
			keep := min(len(b), resyncKeep)
			if k := len(b) - keep; k > 0 {
				d.st.TCPDroppedBytes += uint64(k)
				return k
			}
			return 0
		}
		s.resync = false
		if i > 0 {
			d.st.TCPResyncs++
			d.st.Junk++
			d.st.TCPDroppedBytes += uint64(i)
			return i
		}
	}
	if k := sip.KeepAliveLen(b); k > 0 {
		if k == len(b) || b[k-1] == '\n' {
			d.st.KeepAlives++
		}
		return k
	}
	n, err := sip.FrameLength(b)
	switch {
	case err == nil:
		d.st.TCPMessages++
		k := s.key
		d.vlan = s.vlan
		d.deliver(ClassSIP, 6, k.src, k.dst, b[:n], f, emit)
		return n
	case errors.Is(err, sip.ErrIncomplete):
		return 0
	case errors.Is(err, sip.ErrMalformed):
		d.st.Junk++
	default: // bad Content-Length, too large: cannot frame past it
		d.bad(ReasonBadSIPFraming)
	}
	s.resync = true
	d.st.TCPDroppedBytes++
	return 1 // skip past this start and look for the next one
}

// findSIPStart returns the offset of the first SIP start line in b (a
// request line ending in SIP/2.0 or a status line), or -1. Messages on a
// stream follow each other without a separator, so a start line may begin
// anywhere, not only after a line end. A candidate whose line end has not
// arrived yet counts when it starts like SIP (framing checks it again).
// Extension methods (any token) are found at line starts; a known method
// inside such a token wins (a body that ran into the next request line).
func findSIPStart(b []byte) int {
	for i := 0; i < len(b); i++ {
		if knownSIPStart(b, i) {
			return i
		}
		if i > 0 && b[i-1] == '\n' && sip.StartsWithStartLine(b[i:]) {
			sp := i + bytes.IndexByte(b[i:], ' ')
			for j := i + 1; j < sp; j++ {
				if knownSIPStart(b, j) {
					return j
				}
			}
			return i
		}
	}
	return -1
}

// knownSIPStart reports whether a known method or a status line starts at
// b[i:].
func knownSIPStart(b []byte, i int) bool {
	switch b[i] {
	case 'I', 'A', 'B', 'C', 'R', 'O', 'P', 'S', 'N', 'M', 'U':
	default:
		return false
	}
	if !sip.LooksLikeSIP(b[i:]) {
		return false
	}
	return bytes.IndexByte(b[i:min(len(b), i+maxFirstLine)], '\n') < 0 || sipFirstLine(b[i:])
}

// frameDNS frames one length-prefixed DNS message:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Message length         |  DNS message (length bytes)...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
func (t *tcpTable) frameDNS(s *stream, b []byte, f *source.Frame, emit func(*Message)) int {
	d := t.d
	if len(b) < 2 {
		return 0
	}
	n := int(be16(b[0:2]))
	if n < 12 {
		d.bad(ReasonBadDNS)
		s.mode = modeLost
		return 0
	}
	if len(b) < 2+n {
		return 0
	}
	d.st.TCPMessages++
	d.vlan = s.vlan
	d.deliver(ClassDNS, 6, s.key.src, s.key.dst, b[2:2+n], f, emit)
	return 2 + n
}

// frameHTTP consumes the HTTP header block of a WebSocket upgrade request
// or its 101 answer; after it the stream carries WebSocket frames. Any
// other HTTP message ends the following of the stream.
func (t *tcpTable) frameHTTP(s *stream, b []byte) int {
	d := t.d
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		if len(b) > maxHTTPHeader {
			d.st.Unclassified++
			s.mode = modeLost
		}
		return 0
	}
	if !isUpgrade(b[:i+4]) {
		d.st.Unclassified++
		s.mode = modeLost
		return 0
	}
	d.st.WebSocketUpgrades++
	s.mode = modeWS
	return i + 4
}
