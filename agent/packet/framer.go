package packet

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/ascii"
	"github.com/xhep/xhep/hep/proto"
	"github.com/xhep/xhep/hep/sip"
)

// TCP framing.
//
// The assembler (tcp.go) turns the segments of one direction into in-order
// bytes; a framer, one per stream direction, cuts those bytes into
// messages. This is the split of gopacket's reassembly package (Assembler
// and Stream): the assembler knows sequence numbers, holes, retransmissions,
// bounds and eviction and nothing of SIP; a framer knows one wire format and
// nothing of sequence numbers, addresses or capture times. The metadata of
// the segment that brought the bytes (addresses, VLAN, frame and capture
// time, a [meta]) travels with them through the assembler, which delivers
// each message the framer returns with it; nothing passes through the
// Decoder's per-frame state.
//
// Framers: SIP by Content-Length (compact "l" too), DNS by its 2-byte
// length prefix, WebSocket (its HTTP upgrade, then frames carrying SIP),
// HEP v3 by its length field.

// framer cuts the in-order bytes of one TCP stream direction into
// messages. It returns each message to the assembler, which delivers it
// with the metadata of the segment that completed it; a framer never sees
// addresses, VLANs or timestamps. Framers count what they skip inside the
// bytes they consume (junk, keep-alives, resyncs, bad framing); the
// assembler counts what is lost around them (holes, bounds, closes).
type framer interface {
	// begin prepares the framer for a new stream; mid is true when the
	// stream was joined after its start (no SYN seen), so the first bytes
	// may be the middle of a message.
	begin(mid bool)
	// next frames at the start of b. It returns how many bytes it consumed
	// and, when those complete a message, the message (a sub-slice of b or
	// of the framer's own buffer, valid until the next call) and its class;
	// n 0 and no message means more bytes are needed. ok false means the
	// framing is lost (the stream cannot be followed any further): the
	// assembler drops the rest of b and everything after it.
	next(b []byte) (n int, msg []byte, class Class, ok bool)
	// gap tells the framer bytes before the next ones are missing (a hole
	// skipped, or a message dropped for its size). It reports whether the
	// framer can find its framing again (SIP resyncs at the next start
	// line); false makes the stream lost.
	gap() bool
	// held returns how many bytes the framer holds itself (a fragmented
	// WebSocket message), counted against the stream's bounds.
	held() int
	// inPlace reports whether next writes into b (WebSocket unmasking):
	// the assembler then hands it only bytes in its own buffer, never the
	// captured frame's.
	inPlace() bool
	// reset forgets the stream, keeping buffers for reuse.
	reset()
}

// meta is what travels with bytes handed to a framer: the direction's
// addresses and the metadata of the segment that brought the last of them.
type meta struct {
	src, dst netip.AddrPort
	vlan     uint16
	frame    *source.Frame // TS, IfIndex, Egress of the segment (see Message.Frame)
}

// framerKind names a framer; a stream's kind is chosen when it starts (see
// streamFramer).
type framerKind uint8

const (
	frameSIP  framerKind = iota // SIP framed by Content-Length
	frameDNS                    // DNS with a 2-byte length prefix (RFC 1035 §4.2.2)
	frameHTTP                   // WebSocket: the HTTP upgrade first, then frames
	frameWS                     // WebSocket frames, joined after the handshake
	frameHEP                    // HEP v3 by its length field (Config.HEP)
	numFramerKinds
)

// newFramer returns a new framer of kind k for d.
func newFramer(d *Decoder, k framerKind) framer {
	switch k {
	case frameDNS:
		return &dnsFramer{d: d}
	case frameHTTP:
		return &wsFramer{d: d, upgrade: true, handshake: true}
	case frameWS:
		return &wsFramer{d: d}
	case frameHEP:
		return &hepFramer{d: d}
	default:
		return &sipFramer{d: d}
	}
}

// framerPool recycles framers by kind, so starting a stream in steady state
// allocates nothing.
type framerPool struct {
	d    *Decoder
	free [numFramerKinds][]framer
}

func (p *framerPool) get(k framerKind) framer {
	if n := len(p.free[k]); n > 0 {
		f := p.free[k][n-1]
		p.free[k] = p.free[k][:n-1]
		return f
	}
	return newFramer(p.d, k)
}

func (p *framerPool) put(k framerKind, f framer) {
	f.reset()
	if len(p.free[k]) < maxFreeStreams {
		p.free[k] = append(p.free[k], f)
	}
}

// streamFramer decides whether a new stream is followed, and with which
// framer, from its ports and its first payload p (empty for a SYN): the
// ports (or, with SIPByContent, the first bytes) select a class, and the
// class's descriptor in hep/proto its framer (classFramer).
func (d *Decoder) streamFramer(k streamKey, p []byte) (framerKind, bool) {
	c := &d.cfg
	sp, dp := k.src.Port(), k.dst.Port()
	switch {
	case c.HEP:
		return frameHEP, true
	case isUpgrade(p): // WebSocket on any port, SIP ports included
		return frameHTTP, true
	case c.SIPPorts.Has(sp) || c.SIPPorts.Has(dp):
		return classFramer(ClassSIP)
	case c.DNSPorts.Has(sp) || c.DNSPorts.Has(dp):
		return classFramer(ClassDNS)
	case c.WebSocketPorts.Has(sp) || c.WebSocketPorts.Has(dp):
		if bytes.HasPrefix(p, []byte("GET ")) || bytes.HasPrefix(p, []byte("HTTP/")) {
			return frameHTTP, true
		}
		if len(p) > 0 {
			return frameWS, true // joined after the handshake
		}
		return frameHTTP, true
	case c.SIPByContent && sip.HasStartLine(p):
		return classFramer(ClassSIP)
	}
	return 0, false
}

// classFramer is the framer of the kind hep/proto's descriptor gives class
// c; ok is false for a class not followed over TCP.
func classFramer(c Class) (framerKind, bool) {
	switch proto.ByClass(c).Framer {
	case proto.FramerSIP:
		return frameSIP, true
	case proto.FramerLength:
		return frameDNS, true
	}
	return 0, false
}

// firstBytes revisits the framer of a stream started by its SYN (chosen by
// port alone) when its first payload p arrives in order: a WebSocket
// upgrade on a SIP port.
func firstBytes(k framerKind, p []byte) framerKind {
	if k == frameSIP && isUpgrade(p) {
		return frameHTTP
	}
	return k
}

// isUpgrade reports whether p starts an HTTP request asking for a
// WebSocket upgrade, or a 101 response to one.
func isUpgrade(p []byte) bool {
	h := p[:min(len(p), maxHTTPHeader)]
	switch {
	case bytes.HasPrefix(p, []byte("GET ")):
		return ascii.ContainsFold(h, "\nupgrade:") && ascii.ContainsFold(h, "websocket")
	case bytes.HasPrefix(p, []byte("HTTP/1.1 101")), bytes.HasPrefix(p, []byte("HTTP/1.0 101")):
		return ascii.ContainsFold(h, "websocket") // not an h2c or other upgrade
	}
	return false
}

// sipFramer frames SIP messages by Content-Length (hep/sip.FrameLength),
// skipping keep-alives; after a hole, a mid-stream start or bad framing it
// resyncs at the next SIP start line.
type sipFramer struct {
	d      *Decoder
	resync bool // skip to the next start line
}

func (f *sipFramer) begin(mid bool) { f.resync = mid }
func (f *sipFramer) gap() bool      { f.resync = true; return true }
func (f *sipFramer) held() int      { return 0 }
func (f *sipFramer) inPlace() bool  { return false }
func (f *sipFramer) reset()         { f.resync = false }

// next frames one SIP message (or skips keep-alives or junk) at the start
// of b.
func (f *sipFramer) next(b []byte) (int, []byte, Class, bool) {
	d := f.d
	if f.resync {
		i := findSIPStart(b)
		if i < 0 {
			// Keep a short tail that may hold the start of a start line.
			keep := min(len(b), resyncKeep)
			if k := len(b) - keep; k > 0 {
				d.st.TCPDroppedBytes += uint64(k)
				return k, nil, 0, true
			}
			return 0, nil, 0, true
		}
		f.resync = false
		if i > 0 {
			d.st.TCPResyncs++
			d.st.Junk++
			d.st.TCPDroppedBytes += uint64(i)
			return i, nil, 0, true
		}
	}
	if k := sip.KeepAliveLen(b); k > 0 {
		if k == len(b) || b[k-1] == '\n' {
			d.st.KeepAlives++
		}
		return k, nil, 0, true
	}
	n, err := sip.FrameLength(b)
	switch {
	case err == nil:
		return n, b[:n], ClassSIP, true
	case errors.Is(err, sip.ErrIncomplete):
		return 0, nil, 0, true
	case errors.Is(err, sip.ErrMalformed):
		d.st.Junk++
	default: // bad Content-Length, too large: cannot frame past it
		d.bad(ReasonBadSIPFraming)
	}
	f.resync = true
	d.st.TCPDroppedBytes++
	return 1, nil, 0, true // skip past this start and look for the next one
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
	return bytes.IndexByte(b[i:min(len(b), i+sip.MaxStartLine)], '\n') < 0 || sip.HasStartLine(b[i:])
}

// dnsFramer frames length-prefixed DNS messages:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Message length         |  DNS message (length bytes)...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// A length below the 12-byte header loses the framing; so does a hole.
type dnsFramer struct{ d *Decoder }

func (f *dnsFramer) begin(bool)    {}
func (f *dnsFramer) gap() bool     { return false }
func (f *dnsFramer) held() int     { return 0 }
func (f *dnsFramer) inPlace() bool { return false }
func (f *dnsFramer) reset()        {}

func (f *dnsFramer) next(b []byte) (int, []byte, Class, bool) {
	if len(b) < 2 {
		return 0, nil, 0, true
	}
	n := int(be16(b[0:2]))
	if n < 12 {
		f.d.bad(ReasonBadDNS)
		return 0, nil, 0, false
	}
	if len(b) < 2+n {
		return 0, nil, 0, true
	}
	return 2 + n, b[2 : 2+n], ClassDNS, true
}

// hepFramer cuts HEP v3 messages ("HEP3", a 16-bit total length, chunks;
// see hep.FrameLength) out of a stream. Bytes that do not start a message
// are skipped to the next "HEP3" (junk, counted), so a mid-stream start or
// a hole resyncs there.
type hepFramer struct{ d *Decoder }

func (f *hepFramer) begin(bool)    {}
func (f *hepFramer) gap() bool     { return true }
func (f *hepFramer) held() int     { return 0 }
func (f *hepFramer) inPlace() bool { return false }
func (f *hepFramer) reset()        {}

func (f *hepFramer) next(b []byte) (int, []byte, Class, bool) {
	n, err := hep.FrameLength(b, 0)
	switch {
	case err == nil:
		return n, b[:n], ClassUnknown, true
	case errors.Is(err, hep.ErrIncomplete):
		return 0, nil, 0, true
	}
	k := hep.Resync(b, 1) // at least 1: b does not start a message
	d := f.d
	d.st.TCPResyncs++
	d.st.Junk++
	d.st.TCPDroppedBytes += uint64(k)
	return k, nil, 0, true
}
