package packet

import (
	"bytes"
	"github.com/xhep/xhep/bpf"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/agent/source"
)

// Client 10.0.0.1:40000 -> server 10.0.0.2:5060 (or the port given).
func tcpC(ts int64, dp uint16, seq uint32, flags uint8, p []byte) source.Frame {
	return frame(source.LinkEthernet, ts0+ts, eth(0x0800, ip4(6, "10.0.0.1", "10.0.0.2", tcp(40000, dp, seq, flags, p))))
}

// Server 10.0.0.2 -> client 10.0.0.1:40000.
func tcpS(ts int64, sp uint16, seq uint32, flags uint8, p []byte) source.Frame {
	return frame(source.LinkEthernet, ts0+ts, eth(0x0800, ip4(6, "10.0.0.2", "10.0.0.1", tcp(sp, 40000, seq, flags, p))))
}

func wantC(ts int64, dp uint16, p []byte) got {
	return got{"sip", 6, "10.0.0.1:40000", "10.0.0.2:" + strconv.Itoa(int(dp)), 0, ts0 + ts, string(p)}
}

func wantS(ts int64, sp uint16, p []byte) got {
	return got{"sip", 6, "10.0.0.2:" + strconv.Itoa(int(sp)), "10.0.0.1:40000", 0, ts0 + ts, string(p)}
}

// wsFrame builds a WebSocket frame; a non-nil key masks the payload.
func wsFrame(fin bool, op byte, key []byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0}
	var m byte
	if key != nil {
		m = 0x80
	}
	switch {
	case len(p) < 126:
		h = append(h, m|byte(len(p)))
	case len(p) < 65536:
		h = append(h, m|126)
		h = append(h, u16(uint16(len(p)))...)
	default:
		h = append(h, m|127)
		h = append(h, u32(0)...)
		h = append(h, u32(uint32(len(p)))...)
	}
	if key == nil {
		return cat(h, p)
	}
	mp := bytes.Clone(p)
	for i := range mp {
		mp[i] ^= key[i&3]
	}
	return cat(h, key, mp)
}

func TestTCP(t *testing.T) {
	const isn = 1000
	inv, ok := invite, ok200
	two := cat(inv, ok)
	bye := sipMsg("BYE", "", 0)
	compact := bytes.Replace(sipMsg("MESSAGE", "", 5), []byte("Content-Length: 5"), []byte("l: 5"), 1)
	gapTimeout := DefaultConfig().GapTimeout.Nanoseconds()
	cfgSmall := DefaultConfig()
	cfgSmall.MaxStreams = 1
	cfgBytes := DefaultConfig()
	cfgBytes.MaxStreamBytes = 2000
	cfgBytes.MaxTotalStreamBytes = 2000
	big := sipMsg("INVITE", "", 3000)
	cfgBytesWS := cfgBytes
	cfgBytesWS.MaxTotalStreamBytes = 1 << 20
	cfgWS := DefaultConfig()
	cfgWS.WebSocketPorts = bpf.MustParsePorts("8080")
	upgrade := []byte("GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n")
	switching := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	big70k := sipMsg("MESSAGE", "", 70000)
	cfgWSBig := cfgWS
	cfgWSBig.MaxStreamBytes = 128 << 10
	dns1 := dnsQuery
	dns2 := cat(u16(0x4321), dnsQuery[2:])

	tests := []struct {
		name   string
		cfg    *Config
		frames []source.Frame
		expire int64 // if non-zero, Expire(ts0+expire) after the frames
		want   []got
		stats  map[string]uint64
		sizes  bool // the streams hold no bytes after the frames
	}{
		{
			name: "one message split over three segments after a handshake",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fSYN, nil),
				tcpS(1, 5060, 9000, fSYN|fACK, nil),
				tcpC(2, 5060, isn+1, fACK, inv[:100]),
				tcpC(3, 5060, isn+101, fACK, inv[100:300]),
				tcpC(4, 5060, isn+301, fACK|fPSH, inv[300:]),
			},
			want:  []got{wantC(4, 5060, inv)},
			stats: map[string]uint64{"TCPSegments": 5, "TCPMessages": 1, "TCPStreams": 2, "TCPResyncs": 0},
		},
		{
			name:   "two messages in one segment, keep-alive between",
			frames: []source.Frame{tcpC(0, 5060, isn, fACK, cat(inv, []byte("\r\n\r\n"), ok))},
			want:   []got{wantC(0, 5060, inv), wantC(0, 5060, ok)},
			stats:  map[string]uint64{"TCPMessages": 2, "KeepAlives": 1},
		},
		{
			name: "second message split, first of it in the same segment as the first",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, two[:len(inv)+50]),
				tcpC(1, 5060, isn+uint32(len(inv)+50), fACK, two[len(inv)+50:]),
			},
			want: []got{wantC(0, 5060, inv), wantC(1, 5060, ok)},
		},
		{
			name: "compact l: header",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, compact[:len(compact)-3]),
				tcpC(1, 5060, isn+uint32(len(compact)-3), fACK, compact[len(compact)-3:]),
			},
			want: []got{wantC(1, 5060, compact)},
		},
		{
			name: "out of order",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fSYN, nil),
				tcpC(1, 5060, isn+1+200, fACK, two[200:]),
				tcpC(2, 5060, isn+1, fACK, two[:200]),
			},
			want:  []got{wantC(2, 5060, inv), wantC(2, 5060, ok)},
			stats: map[string]uint64{"TCPOutOfOrder": 1, "TCPGaps": 0},
		},
		{
			name: "three segments in reverse order",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fSYN, nil),
				tcpC(1, 5060, isn+1+400, fACK, inv[400:]),
				tcpC(2, 5060, isn+1+200, fACK, inv[200:400]),
				tcpC(3, 5060, isn+1, fACK, inv[:200]),
			},
			want:  []got{wantC(3, 5060, inv)},
			stats: map[string]uint64{"TCPOutOfOrder": 2},
		},
		{
			name: "retransmissions: whole, overlapping, and of an out-of-order segment",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv[:200]),
				tcpC(1, 5060, isn, fACK, inv[:200]),
				tcpC(2, 5060, isn+100, fACK, inv[100:300]),
				tcpC(3, 5060, isn+400, fACK, inv[400:]),
				tcpC(4, 5060, isn+400, fACK, inv[400:]),
				tcpC(5, 5060, isn+300, fACK, inv[300:420]),
			},
			want:  []got{wantC(5, 5060, inv)},
			stats: map[string]uint64{"TCPRetransmits": 3, "TCPOutOfOrder": 1, "TCPMessages": 1},
		},
		{
			name: "mid-stream start: skip the tail of a message, resync at the next",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, cat(inv[300:], ok[:20])),
				tcpC(1, 5060, isn+uint32(len(inv)-300+20), fACK, ok[20:]),
			},
			want:  []got{wantC(1, 5060, ok)},
			stats: map[string]uint64{"TCPResyncs": 1, "Junk": 1},
		},
		{
			name: "mid-stream start on a body line that looks like SIP is not a resync point",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, cat([]byte("tail of a body\r\nINVITE is not a request line\r\n"), ok)),
			},
			want:  []got{wantC(0, 5060, ok)},
			stats: map[string]uint64{"TCPResyncs": 1},
		},
		{
			name: "gap skipped after GapTimeout: resync at the next message",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv[:100]),
				// inv[100:200] is lost
				tcpC(1, 5060, isn+200, fACK, cat(inv[200:], ok)),
				tcpC(gapTimeout+10, 5060, isn+200+uint32(len(inv)-200+len(ok)), fACK, bye),
			},
			want:  []got{wantC(gapTimeout+10, 5060, ok), wantC(gapTimeout+10, 5060, bye)},
			stats: map[string]uint64{"TCPGaps": 1, "TCPResyncs": 1, "TCPOutOfOrder": 2},
		},
		{
			name: "gap skipped by Expire",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv[:100]),
				tcpC(1, 5060, isn+200, fACK, cat(inv[200:], ok)),
			},
			expire: gapTimeout + 2,
			want:   []got{wantC(1, 5060, ok)},
			stats:  map[string]uint64{"TCPGaps": 1, "TCPStreamsIdle": 0},
		},
		{
			name: "idle stream flushed by Expire",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv),
				tcpC(1, 5060, isn+uint32(len(inv)), fACK, ok[:50]),
			},
			expire: DefaultConfig().StreamIdle.Nanoseconds() + 2,
			want:   []got{wantC(0, 5060, inv)},
			stats:  map[string]uint64{"TCPStreamsIdle": 1, "TCPDroppedBytes": 50},
		},
		{
			name: "FIN closes after the last byte, even when FIN comes early",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fSYN, nil),
				tcpC(1, 5060, isn+1+200, fACK|fFIN, inv[200:]),
				tcpC(2, 5060, isn+1, fACK, inv[:200]),
			},
			want:  []got{wantC(2, 5060, inv)},
			stats: map[string]uint64{"TCPStreamsClosed": 1},
		},
		{
			name: "RST closes both directions",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv),
				tcpS(1, 5060, 9000, fACK, ok[:10]),
				tcpC(2, 5060, isn+uint32(len(inv)), fRST, nil),
			},
			want:  []got{wantC(0, 5060, inv)},
			stats: map[string]uint64{"TCPStreamsClosed": 2, "TCPDroppedBytes": 10},
		},
		{
			name: "a new connection on the same 4-tuple starts over; retransmitted SYN ignored",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fSYN, nil),
				tcpC(1, 5060, isn+1, fACK, inv[:100]),
				tcpC(2, 5060, 77, fSYN, nil),
				tcpC(3, 5060, 77, fSYN, nil),
				tcpC(4, 5060, 78, fACK, ok),
			},
			want:  []got{wantC(4, 5060, ok)},
			stats: map[string]uint64{"TCPStreams": 2, "TCPDroppedBytes": 100},
		},
		{
			name: "both directions, response from the server",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv),
				tcpS(1, 5060, 9000, fACK, ok),
			},
			want: []got{wantC(0, 5060, inv), wantS(1, 5060, ok)},
		},
		{
			name: "sip by content on another port; other tcp ignored",
			frames: []source.Frame{
				tcpC(0, 15060, isn, fACK, inv[:300]),
				tcpC(1, 15060, isn+300, fACK, inv[300:]),
				tcpC(2, 80, isn, fACK, []byte("GET / HTTP/1.1\r\n\r\n")),
			},
			want:  []got{wantC(1, 15060, inv)},
			stats: map[string]uint64{"TCPStreams": 1, "Unclassified": 1},
		},
		{
			name: "bad Content-Length: resync at the next message",
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, cat(bytes.Replace(inv, []byte("Content-Length: 120"), []byte("Content-Length: x"), 1), ok)),
			},
			want:  []got{wantC(0, 5060, ok)},
			stats: map[string]uint64{"Errors.bad_sip_framing": 1, "TCPResyncs": 1},
		},
		{
			name: "dns over tcp: two messages, one split",
			frames: []source.Frame{
				tcpC(0, 53, isn, fACK, cat(u16(uint16(len(dns1))), dns1, u16(uint16(len(dns2))), dns2[:5])),
				tcpC(1, 53, isn+uint32(2+len(dns1)+2+5), fACK, dns2[5:]),
			},
			want: []got{
				{"dns", 6, "10.0.0.1:40000", "10.0.0.2:53", 0, ts0, string(dns1)},
				{"dns", 6, "10.0.0.1:40000", "10.0.0.2:53", 0, ts0 + 1, string(dns2)},
			},
		},
		{
			// Every byte of a lost stream is counted: the segments held
			// behind both holes (one length-prefixed message each).
			name: "dns over tcp: two holes, the stream is lost and every held byte counted",
			frames: func() []source.Frame {
				m := cat(u16(uint16(len(dns1))), dns1) // each message on the wire
				n := uint32(len(m))
				return []source.Frame{
					tcpC(0, 53, isn, fACK, m),
					tcpC(1, 53, isn+2*n, fACK, m),
					tcpC(2, 53, isn+4*n, fACK, m),
				}
			}(),
			expire: 3 + gapTimeout,
			want:   []got{{"dns", 6, "10.0.0.1:40000", "10.0.0.2:53", 0, ts0, string(dns1)}},
			stats:  map[string]uint64{"TCPGaps": 1, "TCPDroppedBytes": uint64(2 * (2 + len(dns1))), "Messages.dns": 1},
		},
		{
			// A WebSocket message in fragments when a hole is skipped: its
			// bytes held by the framer are counted as dropped too.
			name: "websocket: a fragmented message cut by a hole is counted as dropped",
			frames: func() []source.Frame {
				up := uint32(len(upgrade))
				f1 := wsFrame(false, 1, key, inv[:100])
				return []source.Frame{
					tcpC(0, 8080, isn, fACK, upgrade),
					tcpC(1, 8080, isn+up, fACK, f1),
					tcpC(2, 8080, isn+up+uint32(len(f1))+50, fACK, []byte("after the hole")),
				}
			}(),
			expire: 3 + gapTimeout,
			stats:  map[string]uint64{"TCPGaps": 1, "TCPDroppedBytes": 100 + 14, "Messages.sip": 0},
		},
		{
			// Framing lost with a fragmented message held: those bytes are
			// dropped (and counted) at once, not kept until the stream ends.
			name: "websocket: a frame beyond MaxStreamBytes loses the framing and drops the held fragment",
			cfg:  &cfgBytesWS,
			frames: func() []source.Frame {
				up := uint32(len(upgrade))
				f1 := wsFrame(false, 1, nil, inv[:100])
				huge := cat([]byte{0x80, 126}, u16(3000)) // a 3000-byte frame's header
				return []source.Frame{
					tcpC(0, 8080, isn, fACK, upgrade),
					tcpC(1, 8080, isn+up, fACK, cat(f1, huge)),
				}
			}(),
			sizes: true,
			stats: map[string]uint64{"Errors.bad_websocket": 1, "TCPDroppedBytes": 100 + 4, "Messages.sip": 0},
		},
		{
			name: "MaxStreams evicts the least recently used",
			cfg:  &cfgSmall,
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv[:100]),
				tcpS(1, 5060, 9000, fACK, ok),
				tcpC(2, 5060, isn+100, fACK, inv[100:]),
			},
			want:  []got{wantS(1, 5060, ok)},
			stats: map[string]uint64{"TCPEvicted": 2, "TCPStreams": 3},
		},
		{
			name: "out-of-order data beyond MaxStreamBytes skips the first hole",
			cfg:  &cfgBytes,
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, inv[:100]),
				tcpC(1, 5060, isn+200, fACK, cat(inv[200:], ok)),
				tcpC(2, 5060, isn+uint32(len(inv)+len(ok)+50), fACK, cat(bye, big[:1500])),
			},
			expire: gapTimeout + 10, // the hole before bye is skipped by Expire
			want:   []got{wantC(2, 5060, ok), wantC(2, 5060, bye)},
			stats:  map[string]uint64{"TCPGaps": 2, "Errors.stream_overflow": 0},
		},
		{
			name: "MaxTotalStreamBytes evicts the least recently used stream",
			cfg:  &cfgBytes,
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, big[:1500]),
				tcpS(1, 5060, 9000, fACK, big[:1500]),
				tcpS(2, 5060, 9000+1500, fACK, big[1500:1600]),
			},
			stats: map[string]uint64{"TCPEvicted": 1, "TCPStreams": 2, "TCPDroppedBytes": 1500},
		},
		{
			name: "message larger than MaxStreamBytes dropped, next one framed",
			cfg:  &cfgBytes,
			frames: []source.Frame{
				tcpC(0, 5060, isn, fACK, big[:1400]),
				tcpC(1, 5060, isn+1400, fACK, big[1400:2800]),
				tcpC(2, 5060, isn+2800, fACK, big[2800:]),
				tcpC(3, 5060, isn+uint32(len(big)), fACK, ok),
			},
			want:  []got{wantC(3, 5060, ok)},
			stats: map[string]uint64{"Errors.stream_overflow": 1},
		},
		{
			name: "websocket: upgrade, masked client frame, server frame, fragmented with ping between",
			frames: []source.Frame{
				tcpC(0, 8080, isn, fACK, upgrade),
				tcpS(1, 8080, 9000, fACK, switching),
				tcpC(2, 8080, isn+uint32(len(upgrade)), fACK, wsFrame(true, 1, key, inv)),
				tcpS(3, 8080, 9000+uint32(len(switching)), fACK, wsFrame(true, 1, nil, ok)),
				tcpC(4, 8080, isn+uint32(len(upgrade)+len(wsFrame(true, 1, key, inv))), fACK, cat(
					wsFrame(false, 1, key, bye[:30]), wsFrame(true, 9, key, []byte("ping")),
					wsFrame(false, 0, key, bye[30:60]), wsFrame(true, 0, key, bye[60:]))),
			},
			want:  []got{wantC(2, 8080, inv), wantS(3, 8080, ok), wantC(4, 8080, bye)},
			stats: map[string]uint64{"WebSocketUpgrades": 2, "WebSocketFrames": 6, "WebSocketControl": 1},
		},
		{
			name: "websocket: frame split over segments, 64-bit length, joined after the handshake on a websocket port",
			cfg:  &cfgWSBig,
			frames: func() []source.Frame {
				w := wsFrame(true, 2, key, big70k)
				return []source.Frame{
					tcpC(0, 8080, isn, fACK, w[:1]),
					tcpC(1, 8080, isn+1, fACK, w[1:5000]),
					tcpC(2, 8080, isn+5000, fACK, w[5000:]),
				}
			}(),
			want:  []got{wantC(2, 8080, big70k)},
			stats: map[string]uint64{"WebSocketUpgrades": 0, "WebSocketFrames": 1},
		},
		{
			name: "an HTTP/2 (h2c) 101 on another port is not followed",
			frames: []source.Frame{
				tcpS(0, 80, 9000, fACK, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")),
			},
			stats: map[string]uint64{"TCPStreams": 0, "Unclassified": 1},
		},
		{
			name: "websocket on a sip port, vlan and interface kept from the segment",
			frames: func() []source.Frame {
				w := wsFrame(true, 2, key, inv)
				f0 := tcpC(0, 5060, isn-1, fSYN, nil)
				f1 := tcpC(0, 5060, isn, fACK, upgrade)
				f2 := frame(source.LinkEthernet, ts0+1, eth(0x8100, cat(tag(33, 0x0800), ip4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 5060, isn+uint32(len(upgrade)), fACK, w)))))
				return []source.Frame{f0, f1, f2}
			}(),
			want:  []got{{"sip", 6, "10.0.0.1:40000", "10.0.0.2:5060", 33, ts0 + 1, string(inv)}},
			stats: map[string]uint64{"WebSocketUpgrades": 1, "Junk": 0},
		},
		{
			// Closed streams and their framers are reused: the second
			// connection starts with a fresh framer of its own kind (an
			// upgrade again, then a SIP stream that must not resync).
			name: "websocket, sip, websocket again on one 4-tuple: framers reused from the pool start afresh",
			frames: func() []source.Frame {
				w := wsFrame(true, 1, key, inv)
				up := uint32(len(upgrade))
				return []source.Frame{
					tcpC(0, 8080, isn-1, fSYN, nil),
					tcpC(1, 8080, isn, fACK, upgrade),
					tcpC(2, 8080, isn+up, fACK|fFIN, w),
					tcpC(3, 5060, 5000-1, fSYN, nil),
					tcpC(4, 5060, 5000, fACK|fFIN, bye),
					tcpC(5, 8080, 7000-1, fSYN, nil),
					tcpC(6, 8080, 7000, fACK, upgrade),
					tcpC(7, 8080, 7000+up, fACK, w[:10]),
					tcpC(8, 8080, 7000+up+10, fACK|fFIN, w[10:]),
				}
			}(),
			want:  []got{wantC(2, 8080, inv), wantC(4, 5060, bye), wantC(8, 8080, inv)},
			stats: map[string]uint64{"WebSocketUpgrades": 2, "TCPStreamsClosed": 3, "TCPResyncs": 0, "Junk": 0},
		},
		{
			name: "websocket: gap loses the framing; compressed frame counted",
			frames: []source.Frame{
				tcpC(0, 8080, isn, fACK, upgrade),
				tcpC(1, 8080, isn+uint32(len(upgrade)), fACK, cat([]byte{0xc1}, wsFrame(true, 1, key, inv)[1:])),
				tcpC(2, 8080, isn+uint32(len(upgrade)+len(inv)+6+100), fACK, wsFrame(true, 1, key, ok)),
				tcpC(3+gapTimeout, 8080, isn+uint32(len(upgrade)+len(inv)+6+100+len(ok)+8), fACK, wsFrame(true, 1, key, bye)),
			},
			stats: map[string]uint64{"Errors.bad_websocket": 1, "TCPGaps": 1, "Messages.sip": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st, d := run(t, tt.cfg, tt.frames...)
			if tt.expire != 0 {
				d.Expire(ts0+tt.expire, func(m *Message) {
					if m.Frame == nil || m.Frame.Data != nil {
						t.Errorf("Expire emitted a message with Frame %v", m.Frame)
					}
					out = append(out, summarize(m))
				})
				st = d.Stats()
			}
			check(t, tt.want, out, tt.stats, st)
			if _, _, b := d.Sizes(); tt.sizes && b != 0 {
				t.Errorf("streams hold %d bytes, want 0", b)
			}
			// Everything is released by a final flush.
			d.Expire(math.MaxInt64, func(*Message) {})
			if f, s, b := d.Sizes(); f != 0 || s != 0 || b != 0 {
				t.Errorf("Sizes after final Expire = %d, %d, %d; want 0, 0, 0", f, s, b)
			}
		})
	}
}

// TestTCPRandomSegmentation cuts a stream of SIP messages (with
// keep-alives between some) into random segments, delivers them reordered
// and with random retransmissions of overlapping ranges, and checks that
// every message comes out exactly once, whole and in order.
func TestTCPRandomSegmentation(t *testing.T) {
	for trial := range 1000 {
		testRandomSegmentation(t, trial, false, false)
	}
}

// TestWebSocketRandomSegmentation: the same over WebSocket, messages
// masked and some fragmented with control frames between the fragments.
func TestWebSocketRandomSegmentation(t *testing.T) {
	for trial := range 500 {
		testRandomSegmentation(t, trial, false, true)
		testRandomSegmentation(t, trial, true, true)
	}
}

// TestTCPRandomLoss is the same with segments lost: what comes out must be
// whole original messages, in order, each at most once (a subsequence).
func TestTCPRandomLoss(t *testing.T) {
	for trial := range 1000 {
		testRandomSegmentation(t, trial, true, false)
	}
}

func testRandomSegmentation(t *testing.T, trial int, lossy, ws bool) {
	rng := rand.New(rand.NewPCG(uint64(trial), 2))
	port := uint16(5060)
	cfg := DefaultConfig()
	var stream []byte
	if ws {
		port = 8080
		cfg.WebSocketPorts = bpf.MustParsePorts("8080")
		stream = []byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
	}
	{
		var want []string
		for i := range 1 + rng.IntN(6) {
			m := sipMsg([]string{"INVITE", "BYE", "200 OK", "MESSAGE"}[i%4], "INVITE", rng.IntN(900))
			want = append(want, string(m))
			if ws {
				key := []byte{byte(i), 0x5a, 0xa5, byte(trial)}
				if rng.IntN(2) == 0 {
					stream = append(stream, wsFrame(true, 1, key, m)...)
					continue
				}
				cut := 1 + rng.IntN(len(m)-1)
				stream = append(stream, wsFrame(false, 1, key, m[:cut])...)
				if rng.IntN(2) == 0 {
					stream = append(stream, wsFrame(true, 9, key, []byte("ping"))...)
				}
				stream = append(stream, wsFrame(true, 0, key, m[cut:])...)
				continue
			}
			if rng.IntN(3) == 0 {
				stream = append(stream, "\r\n\r\n"...)
			}
			stream = append(stream, m...)
		}
		type seg struct{ off, end int }
		var segs []seg
		for off := 0; off < len(stream); {
			end := min(len(stream), off+1+rng.IntN(400))
			segs = append(segs, seg{off, end})
			off = end
		}
		// Reorder within a window of 4, and retransmit some ranges
		// (possibly overlapping segment boundaries).
		for i := range segs {
			j := min(len(segs)-1, i+rng.IntN(4))
			segs[i], segs[j] = segs[j], segs[i]
		}
		for range rng.IntN(5) {
			a := rng.IntN(len(stream))
			b := min(len(stream), a+1+rng.IntN(300))
			segs = slices.Insert(segs, rng.IntN(len(segs)+1), seg{a, b})
		}
		if lossy {
			for range 1 + rng.IntN(3) {
				if len(segs) > 1 {
					k := rng.IntN(len(segs))
					segs = slices.Delete(segs, k, k+1)
				}
			}
		}
		const isn = 0xfffffe00 // sequence numbers wrap inside the stream
		frames := []source.Frame{tcpC(0, port, isn-1, fSYN, nil)}
		for i, s := range segs {
			frames = append(frames, tcpC(int64(i+1), port, isn+uint32(s.off), fACK, stream[s.off:s.end]))
		}
		out, st, d := run(t, &cfg, frames...)
		d.Expire(math.MaxInt64, func(m *Message) { out = append(out, summarize(m)) })
		var gotP []string
		for _, g := range out {
			gotP = append(gotP, g.Payload)
		}
		if lossy {
			k := 0 // gotP must be a subsequence of want
			for _, g := range gotP {
				for k < len(want) && want[k] != g {
					k++
				}
				if k == len(want) {
					t.Fatalf("trial %d: segments %v: emitted a message that is not the next original: %q", trial, segs, g)
				}
				k++
			}
			return
		}
		if diff := cmp.Diff(want, gotP); diff != "" {
			t.Fatalf("trial %d: segments %v (stream %d bytes), stats %+v: messages (-want +got):\n%s", trial, segs, len(stream), st, diff)
		}
		if st.TCPGaps != 0 || st.TCPResyncs != 0 || st.Junk != 0 {
			t.Fatalf("trial %d: gaps %d resyncs %d junk %d", trial, st.TCPGaps, st.TCPResyncs, st.Junk)
		}
	}
}

// TestHEPMode: with Config.HEP (the collector's --read) every UDP payload
// on any port is HEP, an empty one a keep-alive, and TCP streams on any
// port are cut by the HEP3 length, junk before a "HEP3" skipped; SIP on a
// SIP port is not looked for.
func TestHEPMode(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HEP = true
	m1 := cat([]byte("HEP3"), u16(12), []byte("chunks"))
	m2 := cat([]byte("HEP3"), u16(7), []byte("x"))
	stream := cat([]byte("junk!HE"), m1, m2)
	frames := []source.Frame{
		frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(40000, 9999, m1)))),
		frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(40000, 9999, nil)))),
		frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(5060, 5060, invite)))),
		tcpC(1, 9061, 100, fACK, stream[:9]),
		tcpC(2, 9061, 109, fACK, stream[9:]),
	}
	out, st, _ := run(t, &cfg, frames...)
	want := []got{
		{"unknown", 17, "10.0.0.1:40000", "10.0.0.2:9999", 0, ts0, string(m1)},
		{"unknown", 17, "10.0.0.1:5060", "10.0.0.2:5060", 0, ts0, string(invite)},
		{"unknown", 6, "10.0.0.1:40000", "10.0.0.2:9061", 0, ts0 + 2, string(m1)},
		{"unknown", 6, "10.0.0.1:40000", "10.0.0.2:9061", 0, ts0 + 2, string(m2)},
	}
	check(t, want, out, map[string]uint64{"KeepAlives": 1, "Junk": 1, "TCPDroppedBytes": 7, "Messages.unknown": 4, "Messages.sip": 0}, st)
}
