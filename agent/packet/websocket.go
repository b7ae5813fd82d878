package packet

import (
	"bytes"
	"encoding/binary"

	"github.com/xhep/xhep/hep/sip"
)

// wsFramer follows SIP over WebSocket (RFC 7118): with handshake set it
// first consumes the HTTP header block of the upgrade request or its 101
// answer (any other HTTP message loses the framing), then WebSocket frames,
// each message carrying one SIP message. WebSocket has no marker to find
// its framing again after a hole.
type wsFramer struct {
	d         *Decoder
	upgrade   bool   // started with the HTTP upgrade (kind frameHTTP)
	handshake bool   // HTTP headers before the frames
	msg       []byte // fragmented message being assembled
	op        byte   // its opcode (1 text, 2 binary), 0 when none
}

func (f *wsFramer) begin(bool)    {}
func (f *wsFramer) held() int     { return len(f.msg) }
func (f *wsFramer) inPlace() bool { return true }

func (f *wsFramer) gap() bool {
	f.msg, f.op = f.msg[:0], 0
	return false
}

func (f *wsFramer) reset() {
	f.handshake = f.upgrade
	f.msg, f.op = f.msg[:0], 0
	if cap(f.msg) > maxPooledBuf {
		f.msg = nil
	}
}

func (f *wsFramer) next(b []byte) (int, []byte, Class, bool) {
	if f.handshake {
		n, ok := f.http(b)
		return n, nil, 0, ok
	}
	return f.one(b)
}

// http consumes the HTTP header block of a WebSocket upgrade request or
// its 101 answer; after it the stream carries WebSocket frames. Any other
// HTTP message ends the following of the stream.
func (f *wsFramer) http(b []byte) (int, bool) {
	d := f.d
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		if len(b) > maxHTTPHeader {
			d.st.Unclassified++
			return 0, false
		}
		return 0, true
	}
	if !isUpgrade(b[:i+4]) {
		d.st.Unclassified++
		return 0, false
	}
	d.st.WebSocketUpgrades++
	f.handshake = false
	return i + 4, true
}

// one decodes one WebSocket frame (RFC 6455 §5.2) at the start of b,
// which is the stream's own buffer (masked payloads are unmasked in place):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-------+-+-------------+-------------------------------+
//	|F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//	|I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//	|N|V|V|V|       |S|             |   (if payload len==126/127)   |
//	| |1|2|3|       |K|             |                               |
//	+-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//	|     Extended payload length continued, if payload len == 127  |
//	+ - - - - - - - - - - - - - - - +-------------------------------+
//	|                               |Masking-key, if MASK set to 1  |
//	+-------------------------------+-------------------------------+
//	| Masking-key (continued)       |          Payload Data         |
//	+-------------------------------- - - - - - - - - - - - - - - - +
//
// Opcodes: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.
// A message is a text or binary frame with FIN, or such a frame without
// FIN followed by continuation frames up to one with FIN; control frames
// may come between them. Each message carries one SIP message (RFC 7118).
// Frames with RSV bits (permessage-deflate) cannot be read and are counted
// as bad. It returns the bytes consumed, 0 when more are needed.
func (f *wsFramer) one(b []byte) (int, []byte, Class, bool) {
	d := f.d
	if len(b) < 2 {
		return 0, nil, 0, true
	}
	fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
	masked := b[1]&0x80 != 0
	n := uint64(b[1] & 0x7f)
	h := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, true
		}
		n, h = uint64(be16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, true
		}
		n, h = binary.BigEndian.Uint64(b[2:10]), 10
	}
	if n > uint64(d.cfg.MaxStreamBytes) {
		d.bad(ReasonBadWebSocket)
		return 0, nil, 0, false
	}
	var key [4]byte
	if masked {
		if len(b) < h+4 {
			return 0, nil, 0, true
		}
		copy(key[:], b[h:h+4])
		h += 4
	}
	end := h + int(n)
	if len(b) < end {
		return 0, nil, 0, true
	}
	p := b[h:end]
	if masked {
		unmask(p, key)
	}
	d.st.WebSocketFrames++
	switch {
	case op >= 8:
		if op > 10 || !fin || n > maxWSControlSize {
			d.bad(ReasonBadWebSocket)
		} else {
			d.st.WebSocketControl++
		}
	case rsv != 0 || op > 2:
		d.bad(ReasonBadWebSocket)
		f.msg, f.op = f.msg[:0], 0
	case op == 0:
		if f.op == 0 {
			d.bad(ReasonBadWebSocket) // continuation of nothing
			break
		}
		f.msg = append(f.msg, p...)
		if fin {
			// The message keeps the buffer's bytes until the next call.
			msg := f.msg
			f.msg, f.op = f.msg[:0], 0
			if cap(f.msg) > maxPooledBuf {
				f.msg = nil
			}
			return f.message(end, msg)
		}
	default: // text or binary
		if f.op != 0 {
			d.bad(ReasonBadWebSocket) // new message before the last ended
			f.msg, f.op = f.msg[:0], 0
		}
		if fin {
			return f.message(end, p)
		}
		f.msg, f.op = append(f.msg[:0], p...), op
	}
	return end, nil, 0, true
}

// message returns a whole WebSocket message p, ending at end, as SIP.
func (f *wsFramer) message(end int, p []byte) (int, []byte, Class, bool) {
	d := f.d
	switch {
	case sip.LooksLikeSIP(p) || sip.StartsWithStartLine(p):
		return end, p, ClassSIP, true
	case sip.KeepAliveLen(p) == len(p):
		d.st.KeepAlives++
	default:
		d.st.Unclassified++
	}
	return end, nil, 0, true
}

// unmask XORs p in place with the repeating 4-byte masking key, eight
// bytes at a time.
func unmask(p []byte, key [4]byte) {
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}
