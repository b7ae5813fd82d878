package hep

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// v12 builds a HEP v1 or v2 IPv4 message: header length hl, IP protocol
// proto, and for v2 the time (little-endian, as Kamailio on x86 writes it).
//
//	ver | hl | fam 2 | proto | sport 5060 | dport 5060 | 192.0.2.1 | 192.0.2.2 |
//	[v2: tv_sec LE | tv_usec LE | captid LE | 2 pad] | "OPTIONS ..."
func v12(ver, hl, proto byte, sec, usec uint32) []byte {
	b := []byte{ver, hl, 2, proto, 0x13, 0xc4, 0x13, 0xc4, 192, 0, 2, 1, 192, 0, 2, 2}
	if ver == 2 {
		b = binary.LittleEndian.AppendUint32(b, sec)
		b = binary.LittleEndian.AppendUint32(b, usec)
		b = append(b, 1, 0, 0, 0)
	}
	return append(b, "OPTIONS sip:a@b SIP/2.0\r\n\r\n"...)
}

// TestV12Plausible: a v1/v2 header is taken only when its header length,
// IP protocol and (v2) time are what a real sender writes.
func TestV12Plausible(t *testing.T) {
	now := uint32(time.Now().Unix())
	tests := []struct {
		name string
		in   []byte
		err  error // nil: accepted
	}{
		{"v2 hl 28 (captagent)", v12(2, 28, 17, now, 1), nil},
		{"v2 hl 8 (sizeof hep_hdr)", v12(2, 8, 6, now, 999999), nil},
		{"v2 hl 26 (time header unpadded)", v12(2, 26, 132, now, 0), nil},
		{"v1 hl 16", v12(1, 16, 17, 0, 0), nil},
		{"v1 hl 8", v12(1, 8, 6, 0, 0), nil},
		{"v2 IDP (Kamailio's TLS)", v12(2, 28, 22, now, 0), nil},
		{"v2 2001", v12(2, 28, 17, 978307200, 0), nil},
		{"v2 hl 0", v12(2, 0, 17, now, 1), ErrV12Header},
		{"v2 hl 200", v12(2, 200, 17, now, 1), ErrV12Header},
		{"v1 hl 7", v12(1, 7, 17, 0, 0), ErrV12Header},
		{"v2 ICMP", v12(2, 28, 1, now, 1), ErrV12Header},
		{"v1 proto 255", v12(1, 16, 255, 0, 0), ErrV12Header},
		{"v2 usec 1e6", v12(2, 28, 17, now, 1000000), ErrV12Time},
		{"v2 1970", v12(2, 28, 17, 12, 0), ErrV12Time},
		{"v2 two years ahead", v12(2, 28, 17, now+2*366*86400, 0), ErrV12Time},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			err := m.DecodeFromBytes(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("DecodeFromBytes = %v, want %v", err, tt.err)
			}
			if err != nil && ErrorReason(err) == "other" {
				t.Errorf("no metric reason for %v", err)
			}
		})
	}
}

// TestRandomDatagramsNotHEP: a flood of random datagrams (seeded, 20 to
// 1,500 bytes) decodes as nothing: before v1/v2 were checked for
// plausibility about one in 17,000 was taken as HEP v1/v2.
func TestRandomDatagramsNotHEP(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	buf := make([]byte, 1504)
	var m Message
	accepted := 0
	const n = 2_000_000
	for range n {
		b := buf[:20+r.IntN(1480)]
		for i := 0; i < len(b); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
		}
		// Random bytes that start like v1/v2 are what matters: make a
		// quarter of them do, so the checks behind the first byte are hit.
		if r.IntN(4) == 0 {
			b[0] = byte(1 + r.IntN(2))
		}
		if m.DecodeFromBytes(b) == nil {
			accepted++
		}
	}
	if accepted != 0 {
		t.Errorf("%d of %d random datagrams decoded as HEP", accepted, n)
	}
}
