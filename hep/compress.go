package hep

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
)

// MaxDecompressed bounds the inflated size of a compressed payload (chunk
// 0x10); a larger one fails with [ErrDecompress].
const MaxDecompressed = 1 << 20

// Chunk 0x10 carries the payload as a zlib stream (RFC 1950, what
// captagent's compress2 writes) or a gzip stream (RFC 1952). They are told
// apart by the first two bytes:
//
//	zlib: CMF FLG with CMF&0x0f == 8 (deflate) and (CMF<<8|FLG) % 31 == 0
//	gzip: 0x1f 0x8b
//
// Encoding always writes zlib.

type inflater struct {
	src bytes.Reader
	zr  io.ReadCloser // zlib reader, created on first use
	gr  *gzip.Reader
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// inflate decompresses d into m.scratch and returns the payload.
func (m *Message) inflate(d []byte) ([]byte, error) {
	inf := inflaters.Get().(*inflater)
	defer inflaters.Put(inf)
	inf.src.Reset(d)
	var r io.Reader
	switch {
	case len(d) >= 2 && d[0] == 0x1f && d[1] == 0x8b:
		var err error
		if inf.gr == nil {
			inf.gr, err = gzip.NewReader(&inf.src)
		} else {
			err = inf.gr.Reset(&inf.src)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: gzip header: %w", ErrDecompress, err)
		}
		inf.gr.Multistream(false)
		r = inf.gr
	case len(d) >= 2 && d[0]&0x0f == 8 && (uint16(d[0])<<8|uint16(d[1]))%31 == 0:
		var err error
		if inf.zr == nil {
			inf.zr, err = zlib.NewReader(&inf.src)
		} else {
			err = inf.zr.(zlib.Resetter).Reset(&inf.src, nil)
		}
		if err != nil {
			inf.zr = nil
			return nil, fmt.Errorf("%w: zlib header: %w", ErrDecompress, err)
		}
		r = inf.zr
	default:
		return nil, fmt.Errorf("%w: neither zlib nor gzip", ErrDecompress)
	}

	buf := m.scratch[:cap(m.scratch)]
	if len(buf) < 4096 {
		buf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(buf) {
			if n > MaxDecompressed {
				m.scratch = buf[:0]
				return nil, fmt.Errorf("%w: inflates to more than %d bytes", ErrDecompress, MaxDecompressed)
			}
			nb := make([]byte, min(2*len(buf), MaxDecompressed+1))
			copy(nb, buf[:n])
			buf = nb
		}
		k, err := r.Read(buf[n:])
		n += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			m.scratch = buf[:0]
			return nil, fmt.Errorf("%w: %w", ErrDecompress, err)
		}
	}
	if n > MaxDecompressed {
		m.scratch = buf[:0]
		return nil, fmt.Errorf("%w: inflates to more than %d bytes", ErrDecompress, MaxDecompressed)
	}
	m.scratch = buf[:n]
	return buf[:n:n], nil
}

// appendWriter lets a compressor write straight into the output slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type deflater struct {
	w  appendWriter
	zw *zlib.Writer
}

var deflaters = sync.Pool{New: func() any {
	d := new(deflater)
	d.zw, _ = zlib.NewWriterLevel(&d.w, zlib.BestSpeed) // the level is valid
	return d
}}

// appendCompressed writes chunk 0x10 holding p as a zlib stream.
func appendCompressed(b []byte, p []byte) ([]byte, error) {
	d := deflaters.Get().(*deflater)
	defer deflaters.Put(d)
	hdr := len(b)
	d.w.b = append(b, 0, 0, byte(ChunkCompressedPayload>>8), byte(ChunkCompressedPayload), 0, 0)
	d.zw.Reset(&d.w)
	_, err := d.zw.Write(p)
	if err == nil {
		err = d.zw.Close()
	}
	b, d.w.b = d.w.b, nil
	if err != nil {
		return b[:hdr], err
	}
	n := len(b) - hdr
	b[hdr+4], b[hdr+5] = byte(n>>8), byte(n)
	return b, nil
}
