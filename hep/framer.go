package hep

import (
	"bytes"
	"errors"
	"io"
)

// Framer cuts HEP v3 messages out of a byte stream (HEP over TCP or TLS).
//
// A message starts with "HEP3" and its 16-bit total length (see
// [Message.DecodeFromBytes] for the layout). Bytes that do not start a
// message — garbage, a message whose length is below 6 or above the
// Framer's maximum, or HEP v1/v2, which has no length field and so cannot
// be framed in a stream — are skipped up to the next "HEP3" and counted by
// [Framer.Skipped]. A false "HEP3" inside garbage yields a message that
// then fails to decode; the stream resynchronises after it.
//
// A Framer is not safe for concurrent use.
type Framer struct {
	r          io.Reader
	buf        []byte
	start, end int // buffered, unconsumed bytes are buf[start:end]
	max        int
	skipped    uint64
	resyncs    uint64
	err        error
}

var magic = []byte("HEP3")

// ErrIncomplete is returned by [FrameLength] while b is the start of a
// message that has not all arrived.
var ErrIncomplete = errors.New("hep: incomplete message")

// FrameLength returns the length of the HEP v3 message at the start of b,
// a stream's next bytes, for messages of at most maxMsg bytes (maxMsg <= 0
// or above 65535 means 65535). It returns [ErrIncomplete] while b is a
// plausible start of a message (fewer than 6 bytes, or fewer than the
// length says) and [ErrNotHEP] when b does not start one (no "HEP3", or a
// length below 6 or above maxMsg): the stream then resynchronises at the
// next "HEP3" ([Resync]). [Framer] and the agent's TCP framer both cut
// streams with it.
func FrameLength(b []byte, maxMsg int) (int, error) {
	if maxMsg <= 0 || maxMsg > MaxMessageLen {
		maxMsg = MaxMessageLen
	}
	if len(b) < hep3HeaderLen {
		if !bytes.HasPrefix(magic, b[:min(len(b), len(magic))]) {
			return 0, ErrNotHEP
		}
		return 0, ErrIncomplete
	}
	if !bytes.HasPrefix(b, magic) {
		return 0, ErrNotHEP
	}
	n := int(b[4])<<8 | int(b[5])
	if n < hep3HeaderLen || n > maxMsg {
		return 0, ErrNotHEP
	}
	if len(b) < n {
		return 0, ErrIncomplete
	}
	return n, nil
}

// Resync returns how many bytes of b to skip to reach the next "HEP3" at or
// after from, keeping a tail that may be the start of one.
func Resync(b []byte, from int) int {
	if i := bytes.Index(b[from:], magic); i >= 0 {
		return from + i
	}
	for k := min(len(magic)-1, len(b)-from); k > 0; k-- {
		if bytes.HasPrefix(magic, b[len(b)-k:]) {
			return len(b) - k
		}
	}
	return len(b)
}

// NewFramer returns a Framer reading from r that accepts messages of at
// most maxMsg bytes (maxMsg <= 0 or above 65535 means 65535).
func NewFramer(r io.Reader, maxMsg int) *Framer {
	if maxMsg <= 0 || maxMsg > MaxMessageLen {
		maxMsg = MaxMessageLen
	}
	if maxMsg < hep3HeaderLen {
		maxMsg = hep3HeaderLen
	}
	return &Framer{r: r, max: maxMsg, buf: make([]byte, framerStartBuf)}
}

// framerStartBuf is a Framer's first buffer: an idle connection (thousands
// of them in a flood) holds no more; a busy one grows to twice the largest
// message (at least 64 KiB) at its first full read or first large message.
const framerStartBuf = 4 << 10

// grow enlarges the buffer to its full size, keeping what is buffered.
func (f *Framer) grow() {
	full := max(2*f.max, 64<<10)
	if len(f.buf) >= full {
		return
	}
	nb := make([]byte, full)
	f.end = copy(nb, f.buf[f.start:f.end])
	f.start = 0
	f.buf = nb
}

// Next returns the next complete message. The slice aliases the Framer's
// buffer and is valid until the next call to Next. At the end of the stream
// it returns io.ErrUnexpectedEOF once if the stream stopped inside a
// message (those bytes count as skipped), then io.EOF;
// another read error is returned by this and every later call.
func (f *Framer) Next() ([]byte, error) {
	for {
		if f.end-f.start >= hep3HeaderLen {
			b := f.buf[f.start:f.end]
			n, err := FrameLength(b, f.max)
			switch {
			case err == nil:
				f.start += n
				return b[:n:n], nil
			case errors.Is(err, ErrNotHEP):
				f.skip(Resync(b, 1))
				continue
			}
			if n := int(b[4])<<8 | int(b[5]); n > len(f.buf) {
				f.grow()
			}
		}
		if f.err != nil {
			return nil, f.finish()
		}
		f.fill()
	}
}

func (f *Framer) skip(n int) {
	if n > 0 {
		f.skipped += uint64(n)
		f.resyncs++
		f.start += n
	}
}

// fill reads more bytes, first moving what is buffered to the front.
func (f *Framer) fill() {
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if err != nil {
		f.err = err
	}
	if f.end == len(f.buf) {
		f.grow() // the read filled the buffer: more is likely waiting
	}
}

func (f *Framer) finish() error {
	if !errors.Is(f.err, io.EOF) {
		return f.err
	}
	if f.end == f.start {
		return io.EOF
	}
	// What is left is shorter than a message header or a message. Drop
	// garbage as usual; a message cut short (or the start of "HEP3") makes
	// ErrUnexpectedEOF.
	if b := f.buf[f.start:f.end]; !bytes.HasPrefix(b, magic) {
		f.skip(Resync(b, 0))
	}
	rest := f.end - f.start
	f.skipped += uint64(rest)
	f.start = f.end
	if rest > 0 {
		return io.ErrUnexpectedEOF
	}
	return io.EOF
}

// Skipped returns how many bytes were skipped as not part of a message.
func (f *Framer) Skipped() uint64 { return f.skipped }

// Resyncs returns how many times the Framer skipped bytes to find a
// message start.
func (f *Framer) Resyncs() uint64 { return f.resyncs }
