package packet

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/xhep/xhep/agent/source"
)

// frag is one fragment: payload bytes [off, end) of the datagram; the
// last one (end == len) has MF clear.
type frag struct{ off, end int }

// v4frags cuts the UDP datagram u into IPv4 fragments, in the order given,
// the i-th at timestamp ts0+i.
func v4frags(id uint16, u []byte, fs ...frag) []source.Frame {
	var out []source.Frame
	for i, f := range fs {
		fo := uint16(f.off / 8)
		if f.end < len(u) {
			fo |= 0x2000
		}
		out = append(out, frame(source.LinkEthernet, ts0+int64(i), eth(0x0800, ip4x(17, "10.0.0.1", "10.0.0.2", id, fo, nil, u[f.off:f.end]))))
	}
	return out
}

// v6frags does the same with IPv6 fragment headers; dstopts puts a
// destination options header in the fragmentable part.
func v6frags(id uint32, u []byte, dstopts bool, fs ...frag) []source.Frame {
	next := uint8(17)
	if dstopts {
		u = ext6(17, 0, u)
		next = 60
	}
	var out []source.Frame
	for i, f := range fs {
		end := min(f.end, len(u))
		out = append(out, frame(source.LinkEthernet, ts0+int64(i), eth(0x86dd,
			ip6(44, "2001:db8::1", "2001:db8::2", frag6(next, f.off, end < len(u), id, u[f.off:end])))))
	}
	return out
}

func TestDefrag(t *testing.T) {
	big := sipMsg("INVITE", "", 1200)
	u := udp(5060, 5060, big)
	n := len(u)
	w4 := func(ts int64) []got {
		return []got{{"sip", 17, "10.0.0.1:5060", "10.0.0.2:5060", 0, ts0 + ts, string(big)}}
	}
	w6 := func(ts int64) []got {
		return []got{{"sip", 17, "[2001:db8::1]:5060", "[2001:db8::2]:5060", 0, ts0 + ts, string(big)}}
	}
	inOrder := []frag{{0, 504}, {504, 1000}, {1000, n}}
	reverse := []frag{{1000, n}, {504, 1000}, {0, 504}}
	timeout := DefaultConfig().FragTimeout.Nanoseconds()
	cfgOne := DefaultConfig()
	cfgOne.MaxFragments = 1
	cfgBytes := DefaultConfig()
	cfgBytes.MaxFragBytes = 1500
	// A copy of u whose bytes 400..504 are rewritten: sent as 400..600, an
	// overlapping fragment, first-wins keeps the original bytes.
	evil := bytes.Clone(u)
	copy(evil[400:504], bytes.Repeat([]byte("X"), 104))

	tests := []struct {
		name   string
		cfg    *Config
		frames []source.Frame
		expire int64
		want   []got
		stats  map[string]uint64
	}{
		{
			name:   "ipv4 in order",
			frames: v4frags(1, u, inOrder...),
			want:   w4(2),
			stats:  map[string]uint64{"FragSeen": 3, "FragReassembled": 1, "UDP": 1},
		},
		{
			name:   "ipv4 reverse order",
			frames: v4frags(1, u, reverse...),
			want:   w4(2),
			stats:  map[string]uint64{"FragSeen": 3, "FragReassembled": 1},
		},
		{
			name:   "ipv4 duplicate fragment ignored",
			frames: v4frags(1, u, frag{0, 504}, frag{0, 504}, frag{504, 1000}, frag{1000, n}),
			want:   w4(3),
			stats:  map[string]uint64{"FragDuplicate": 1, "FragReassembled": 1},
		},
		{
			name: "ipv4 overlap: first wins",
			frames: append(append(v4frags(1, u, frag{0, 504}),
				v4frags(1, evil, frag{400, 600})...), v4frags(1, u, frag{600, n})...),
			want:  w4(0),
			stats: map[string]uint64{"FragOverlap": 1, "FragReassembled": 1},
		},
		{
			name: "ipv4 timeout: a late fragment starts over",
			frames: func() []source.Frame {
				f := v4frags(1, u, inOrder...)
				f[1].TS += timeout
				f[2].TS += timeout
				return f
			}(),
			stats: map[string]uint64{"FragExpired": 1, "FragReassembled": 0},
		},
		{
			name:   "ipv4 timeout by Expire",
			frames: v4frags(1, u, frag{0, 504}),
			expire: timeout + 1,
			stats:  map[string]uint64{"FragExpired": 1},
		},
		{
			name: "MaxFragments: the older datagram is evicted",
			cfg:  &cfgOne,
			frames: append(v4frags(1, u, frag{0, 504}),
				v4frags(2, u, reverse...)...),
			want:  []got{{"sip", 17, "10.0.0.1:5060", "10.0.0.2:5060", 0, ts0 + 2, string(big)}},
			stats: map[string]uint64{"FragEvicted": 1, "FragReassembled": 1},
		},
		{
			name:   "MaxFragBytes: a datagram that cannot fit is dropped",
			cfg:    &cfgBytes,
			frames: v4frags(1, u, reverse...),
			stats:  map[string]uint64{"FragEvicted": 1, "FragReassembled": 0},
		},
		{
			name:   "ipv4 bad: middle fragment not a multiple of 8",
			frames: v4frags(1, u, frag{0, 500}),
			stats:  map[string]uint64{"Errors.bad_fragment": 1},
		},
		{
			name:   "ipv4 bad: two different ends",
			frames: append(v4frags(1, u, frag{1000, n}), v4frags(1, u[:n-8], frag{504, n - 8})...),
			stats:  map[string]uint64{"Errors.bad_fragment": 1},
		},
		{
			name: "fragmented outer ipv4 carrying gre with an inner packet",
			frames: func() []source.Frame {
				g := cat(u16(0), u16(0x0800), sipUDP4(invite))
				var fs []source.Frame
				for i, f := range []frag{{0, 200}, {200, len(g)}} {
					fo := uint16(f.off / 8)
					if f.end < len(g) {
						fo |= 0x2000
					}
					fs = append(fs, frame(source.LinkEthernet, ts0+int64(i), eth(0x0800, ip4x(47, "192.0.2.1", "192.0.2.2", 9, fo, nil, g[f.off:f.end]))))
				}
				return fs
			}(),
			want:  []got{{"sip", 17, "10.0.0.1:5060", "10.0.0.2:5060", 0, ts0 + 1, string(invite)}},
			stats: map[string]uint64{"FragReassembled": 1, "Tunnels.gre": 1},
		},
		{
			name:   "ipv6 in order",
			frames: v6frags(7, u, false, inOrder...),
			want:   w6(2),
			stats:  map[string]uint64{"FragSeen": 3, "FragReassembled": 1},
		},
		{
			name:   "ipv6 reverse order, destination options in the fragmentable part",
			frames: v6frags(7, u, true, frag{1000, n + 8}, frag{504, 1000}, frag{0, 504}),
			want:   w6(2),
		},
		{
			name:   "ipv6 duplicate ignored",
			frames: v6frags(7, u, false, frag{0, 504}, frag{504, 1000}, frag{504, 1000}, frag{1000, n}),
			want:   w6(3),
			stats:  map[string]uint64{"FragDuplicate": 1},
		},
		{
			name:   "ipv6 overlap drops the datagram (RFC 5722)",
			frames: v6frags(7, u, false, frag{0, 504}, frag{496, 1000}, frag{1000, n}),
			stats:  map[string]uint64{"FragOverlap": 1, "FragReassembled": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, st, d := run(t, tt.cfg, tt.frames...)
			if tt.expire != 0 {
				d.Expire(ts0+tt.expire, func(*Message) { t.Error("Expire emitted a message") })
				st = d.Stats()
				if f, _, _ := d.Sizes(); f != 0 {
					t.Errorf("%d datagrams left after Expire", f)
				}
			}
			check(t, tt.want, out, tt.stats, st)
		})
	}
}

// TestDefragRandom cuts a datagram into random fragments (multiples of 8
// bytes), shuffles them and adds random repeats (for IPv4 overlapping
// ranges, for IPv6 exact duplicates): the datagram comes out exactly once
// and whole.
func TestDefragRandom(t *testing.T) {
	u := udp(5060, 5060, sipMsg("INVITE", "", 3000))
	n := len(u)
	for trial := range 500 {
		rng := rand.New(rand.NewPCG(uint64(trial), 3))
		var fs []frag
		for off := 0; off < n; {
			end := min(n, off+8*(1+rng.IntN(100)))
			fs = append(fs, frag{off, end})
			off = end
		}
		v6 := trial%2 == 1
		for range rng.IntN(4) {
			f := fs[rng.IntN(len(fs))]
			if !v6 { // any 8-aligned range inside the datagram, not all of it
				a := 8 * rng.IntN(n/8)
				b := min(n, a+8*(1+rng.IntN(50)))
				if b == n && a == 0 {
					continue
				}
				f = frag{a, b}
			}
			fs = append(fs, f)
		}
		rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		var frames []source.Frame
		if v6 {
			frames = v6frags(uint32(trial), u, false, fs...)
		} else {
			frames = v4frags(uint16(trial), u, fs...)
		}
		// Duplicates that come after completion start a new datagram
		// that never completes; count only what is emitted.
		out, st, _ := run(t, nil, frames...)
		if len(out) != 1 || out[0].Payload != string(u[8:]) {
			t.Fatalf("trial %d (v6 %v): fragments %v: %d messages, stats %+v", trial, v6, fs, len(out), st)
		}
	}
}
