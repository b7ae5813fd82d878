package packet

import (
	"encoding/binary"

	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/hep/sip"
)

// frameWS decodes one WebSocket frame (RFC 6455 §5.2) at the start of b,
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
func (t *tcpTable) frameWS(s *stream, b []byte, f *source.Frame, emit func(*Message)) int {
	d := t.d
	if len(b) < 2 {
		return 0
	}
	fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
	masked := b[1]&0x80 != 0
	n := uint64(b[1] & 0x7f)
	h := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0
		}
		n, h = uint64(be16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return 0
		}
		n, h = binary.BigEndian.Uint64(b[2:10]), 10
	}
	if n > uint64(d.cfg.MaxStreamBytes) {
		d.bad(ReasonBadWebSocket)
		s.mode = modeLost
		return 0
	}
	var key [4]byte
	if masked {
		if len(b) < h+4 {
			return 0
		}
		copy(key[:], b[h:h+4])
		h += 4
	}
	end := h + int(n)
	if len(b) < end {
		return 0
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
		s.wsMsg, s.wsOp = s.wsMsg[:0], 0
	case op == 0:
		if s.wsOp == 0 {
			d.bad(ReasonBadWebSocket) // continuation of nothing
			break
		}
		s.wsMsg = append(s.wsMsg, p...)
		if fin {
			t.wsMessage(s, s.wsMsg, f, emit)
			s.wsMsg, s.wsOp = s.wsMsg[:0], 0
			if cap(s.wsMsg) > maxPooledBuf {
				s.wsMsg = nil
			}
		}
	default: // text or binary
		if s.wsOp != 0 {
			d.bad(ReasonBadWebSocket) // new message before the last ended
			s.wsMsg, s.wsOp = s.wsMsg[:0], 0
		}
		if fin {
			t.wsMessage(s, p, f, emit)
		} else {
			s.wsMsg, s.wsOp = append(s.wsMsg[:0], p...), op
		}
	}
	return end
}

// wsMessage emits a whole WebSocket message as SIP.
func (t *tcpTable) wsMessage(s *stream, p []byte, f *source.Frame, emit func(*Message)) {
	d := t.d
	switch {
	case sip.LooksLikeSIP(p) || sip.StartsWithStartLine(p):
		d.st.TCPMessages++
		d.vlan = s.vlan
		d.deliver(ClassSIP, 6, s.key.src, s.key.dst, p, f, emit)
	case sip.KeepAliveLen(p) == len(p):
		d.st.KeepAlives++
	default:
		d.st.Unclassified++
	}
}

// Expire drops IP fragments older than FragTimeout, skips TCP holes older
// than GapTimeout and flushes TCP streams idle for StreamIdle, all measured
// against now (Unix ns: the wall clock for live capture, the last frame's
// timestamp when reading a file). Messages that complete are emitted with a
// Decoder-owned Frame (see [Message]). Call it about once a second; call
// it with math.MaxInt64 at the end of a file to flush everything.
func (d *Decoder) Expire(now int64, emit func(*Message)) {
	d.frag.expire(now)
	d.sctpExpire(now)
	t := d.tcp
	if t.gaps > 0 {
		for s := t.lru.next_; s != &t.lru; {
			nx := s.next_
			if s.gapSince != 0 && now-s.gapSince > int64(d.cfg.GapTimeout) {
				t.skipGap(s)
				t.frame(s, d.expireFrame(s), emit)
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
		t.flush(s, d.expireFrame(s), emit)
		if s.live {
			d.st.TCPStreamsIdle++
			t.remove(s)
		}
		s = pv
	}
}

func (d *Decoder) expireFrame(s *stream) *source.Frame {
	d.expFrame = source.Frame{TS: s.last, IfIndex: s.ifIndex, Egress: s.egress}
	return &d.expFrame
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
