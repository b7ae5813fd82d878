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
			if !bytes.HasPrefix(b, magic) {
				f.resync(0)
				continue
			}
			n := int(b[4])<<8 | int(b[5])
			if n < hep3HeaderLen || n > f.max {
				f.resync(1)
				continue
			}
			if len(b) >= n {
				f.start += n
				return b[:n:n], nil
			}
			if n > len(f.buf) {
				f.grow()
			}
		}
		if f.err != nil {
			return nil, f.finish()
		}
		f.fill()
	}
}

// resync drops buffered bytes up to the next "HEP3" at or after from,
// keeping a tail that may be the start of one.
func (f *Framer) resync(from int) {
	b := f.buf[f.start:f.end]
	if i := bytes.Index(b[from:], magic); i >= 0 {
		f.skip(from + i)
		return
	}
	keep := 0
	for k := min(len(magic)-1, len(b)); k > 0; k-- {
		if bytes.HasPrefix(magic, b[len(b)-k:]) {
			keep = k
			break
		}
	}
	f.skip(len(b) - keep)
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
	if !bytes.HasPrefix(f.buf[f.start:f.end], magic) {
		f.resync(0)
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
