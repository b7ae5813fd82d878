package hep

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestFramer(t *testing.T) {
	v4, v6, v2 := unhex(t, goldenV4), unhex(t, goldenV6), unhex(t, goldenV2)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name    string
		in      []byte
		maxMsg  int
		want    [][]byte
		skipped uint64
		lastErr error
	}{
		{"two back to back", cat(v4, v6), 0, [][]byte{v4, v6}, 0, io.EOF},
		{"garbage first", cat([]byte("\r\n\x00HEHEP"), v4), 0, [][]byte{v4}, 8, io.EOF},
		{"garbage between", cat(v4, []byte("junk junk junk"), v6), 0, [][]byte{v4, v6}, 14, io.EOF},
		{"length below header", cat([]byte("HEP3\x00\x03"), v4), 0, [][]byte{v4}, 6, io.EOF},
		{"over maxMsg", cat(v4, v6), 140, [][]byte{v4}, uint64(len(v6)), io.EOF},
		{"v2 is not framed", cat(v2, v4), 0, [][]byte{v4}, uint64(len(v2)), io.EOF},
		{"truncated last message", cat(v4, v6[:100]), 0, [][]byte{v4}, 100, io.ErrUnexpectedEOF},
		{"only garbage", []byte("no hep here at all"), 0, nil, 18, io.EOF},
		{"ends in HE", []byte("garbage HE"), 0, nil, 10, io.ErrUnexpectedEOF},
		{"short garbage", []byte("xy"), 0, nil, 2, io.EOF},
		{"empty", nil, 0, nil, 0, io.EOF},
	}
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"data+EOF": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				fr := NewFramer(mk(tt.in), tt.maxMsg)
				var got [][]byte
				var err error
				for {
					var msg []byte
					if msg, err = fr.Next(); err != nil {
						break
					}
					got = append(got, bytes.Clone(msg))
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("messages (-want +got):\n%s", diff)
				}
				if !errors.Is(err, tt.lastErr) {
					t.Errorf("last error %v, want %v", err, tt.lastErr)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					if _, err := fr.Next(); !errors.Is(err, io.EOF) {
						t.Errorf("after ErrUnexpectedEOF: %v, want io.EOF", err)
					}
				}
				if fr.Skipped() != tt.skipped {
					t.Errorf("Skipped = %d, want %d", fr.Skipped(), tt.skipped)
				}
			})
		}
	}
}

func TestFramerReadError(t *testing.T) {
	boom := errors.New("connection reset")
	fr := NewFramer(io.MultiReader(bytes.NewReader(unhex(t, goldenV4)), iotest.ErrReader(boom)), 0)
	if _, err := fr.Next(); err != nil {
		t.Fatalf("first Next: %v", err)
	}
	for range 2 {
		if _, err := fr.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next = %v, want %v", err, boom)
		}
	}
}

// loopReader repeats b forever.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		n += k
		r.off = (r.off + k) % len(r.b)
	}
	return n, nil
}

func BenchmarkFramer(b *testing.B) {
	m := sipMsg()
	one, _ := m.AppendTo(nil)
	fr := NewFramer(&loopReader{b: one}, 0)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	for b.Loop() {
		if msg, err := fr.Next(); err != nil || len(msg) != len(one) {
			b.Fatalf("Next: %d bytes, %v", len(msg), err)
		}
	}
}

// TestFramerGrows: the Framer starts with a small buffer (idle
// connections hold little) and grows for a large message or a busy
// stream; messages of every size come out whole, whatever the read sizes.
func TestFramerGrows(t *testing.T) {
	var stream []byte
	var want [][]byte
	for _, n := range []int{10, 3000, 5000, MaxMessageLen - 100, 50, 4096, 20000} {
		m := Message{IPFamily: 2, IPProto: 17, Proto: ProtoSIP, Payload: bytes.Repeat([]byte{'x'}, n)}
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
		want = append(want, b)
	}
	for _, chunk := range []int{1, 7, 1500, 1 << 20} {
		f := NewFramer(&chunkReader{b: stream, n: chunk}, 0)
		if len(f.buf) > framerStartBuf {
			t.Fatalf("a new Framer holds %d bytes", len(f.buf))
		}
		for i, w := range want {
			got, err := f.Next()
			if err != nil {
				t.Fatalf("chunk %d, message %d: %v", chunk, i, err)
			}
			if !bytes.Equal(got, w) {
				t.Fatalf("chunk %d, message %d: %d bytes, want %d", chunk, i, len(got), len(w))
			}
		}
		if _, err := f.Next(); err != io.EOF {
			t.Errorf("chunk %d: end %v", chunk, err)
		}
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}

// TestFrameLength: the slice form of the framing rule, as the agent's TCP
// framer uses it, and Resync's skip to the next "HEP3".
func TestFrameLength(t *testing.T) {
	msg := append([]byte("HEP3\x00\x0a"), "abcd"...)
	tests := []struct {
		name string
		b    []byte
		max  int
		n    int
		err  error
	}{
		{"whole", msg, 0, 10, nil},
		{"whole with more after it", append(slices.Clone(msg), "HEP3"...), 0, 10, nil},
		{"cut inside the body", msg[:8], 0, 0, ErrIncomplete},
		{"cut inside the header", msg[:5], 0, 0, ErrIncomplete},
		{"start of the magic only", []byte("HE"), 0, 0, ErrIncomplete},
		{"empty", nil, 0, 0, ErrIncomplete},
		{"garbage shorter than a header", []byte("xHE"), 0, 0, ErrNotHEP},
		{"garbage", []byte("GET / HTTP/1.1\r\n"), 0, 0, ErrNotHEP},
		{"HEP v2 (no length)", []byte{2, 16, 2, 17, 0x13, 0xc4, 0x13, 0xc4}, 0, 0, ErrNotHEP},
		{"length below the header", []byte("HEP3\x00\x05abcd"), 0, 0, ErrNotHEP},
		{"length above max", msg, 9, 0, ErrNotHEP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FrameLength(tt.b, tt.max)
			if n != tt.n || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("FrameLength = %d, %v; want %d, %v", n, err, tt.n, tt.err)
			}
		})
	}
	skips := []struct {
		b    string
		from int
		want int
	}{
		{"junkHEP3", 0, 4},
		{"HEP3HEP3", 1, 4},
		{"junk", 0, 4},
		{"junkHE", 0, 4},  // "HE" may start a message
		{"junkHEP", 1, 4}, // "HEP" too
		{"x", 1, 1},
		{"HEP3", 1, 4},
	}
	for _, s := range skips {
		if got := Resync([]byte(s.b), s.from); got != s.want {
			t.Errorf("Resync(%q, %d) = %d, want %d", s.b, s.from, got, s.want)
		}
	}
}
