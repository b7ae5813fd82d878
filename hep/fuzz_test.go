package hep

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode checks that no input panics, that every error is a typed one,
// and that decode → encode → decode gives the same message and a stable
// encoding. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{goldenV4, goldenV6, goldenV2, goldenV1} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.DecodeFromBytes(b); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || ErrorReason(err) == "other" {
				t.Fatalf("untyped decode error %T: %v", err, err)
			}
			return
		}
		out, err := m.AppendTo(nil)
		if errors.Is(err, ErrPayloadTooLarge) {
			return // a v1/v2 payload or added mandatory chunks may not fit v3
		}
		if err != nil {
			t.Fatalf("AppendTo: %v", err)
		}
		var m2 Message
		if err := m2.DecodeFromBytes(out); err != nil {
			t.Fatalf("decode re-encoded message: %v\n%x", err, out)
		}
		m2.Version = m.Version
		if diff := cmp.Diff(m, m2, msgOpts); diff != "" {
			t.Fatalf("decode → encode → decode (-first +second):\n%s", diff)
		}
		again, err := m2.AppendTo(nil)
		if err != nil {
			t.Fatalf("second AppendTo: %v", err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("encoding not stable:\n%x\n%x", out, again)
		}
	})
}

// FuzzFramer checks that the framer never panics and accounts for every
// input byte: returned messages plus skipped bytes add up to the input.
func FuzzFramer(f *testing.F) {
	f.Add(append(unhex(f, goldenV4), unhex(f, goldenV6)...), uint16(0))
	f.Add(append([]byte("garbageHEP3\x00\x02HE"), unhex(f, goldenV4)...), uint16(200))
	f.Add(append(unhex(f, goldenV2), unhex(f, goldenV4)[:50]...), uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, maxMsg uint16) {
		for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
			fr := NewFramer(r, int(maxMsg))
			total := 0
			for {
				msg, err := fr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					continue
				}
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				if !bytes.HasPrefix(msg, []byte("HEP3")) || int(msg[4])<<8|int(msg[5]) != len(msg) {
					t.Fatalf("framed %x: not a HEP3 message of its declared length", msg)
				}
				total += len(msg)
			}
			if got := total + int(fr.Skipped()); got != len(in) {
				t.Fatalf("framed %d + skipped %d = %d bytes, input %d", total, fr.Skipped(), got, len(in))
			}
		}
	})
}
