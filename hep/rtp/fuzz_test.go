package rtp

import (
	"encoding/binary"
	"testing"
)

// FuzzStream decodes packets cut from the input and feeds them to one
// stream: the decoder never reads past its input, the state stays
// consistent (received never exceeds packets, buckets add up).
func FuzzStream(f *testing.F) {
	f.Add(pkt(false, 0, 1, 160, 1, 4))
	f.Add(append(pkt(true, 101, 65535, 0, 1, 4), pkt(false, 0, 0, 160, 1, 4)...))
	f.Add([]byte{0x9f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := NewParams(8000, 101)
		var s State
		var h Header
		at := uint64(1e9)
		for len(b) >= 2 {
			n := int(b[0]) % 40
			b = b[1:]
			if n > len(b) {
				n = len(b)
			}
			if h.DecodeFromBytes(b[:n]) == nil {
				if h.PayloadOff > n {
					t.Fatalf("payload offset %d beyond %d bytes", h.PayloadOff, n)
				}
				if n >= 4 {
					at += uint64(binary.BigEndian.Uint16(b[2:4])) * 1e5
				}
				s.Update(&p, &h, uint32(n), at)
			}
			b = b[n:]
		}
		if uint64(s.Received) > s.Packets {
			t.Fatalf("received %d > packets %d", s.Received, s.Packets)
		}
		var dv uint64
		for _, c := range s.DV {
			dv += uint64(c)
		}
		if dv > s.Packets {
			t.Fatalf("dv samples %d > packets %d", dv, s.Packets)
		}
	})
}
