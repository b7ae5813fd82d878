package bpf

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseEvent(t *testing.T) {
	rec := make([]byte, 24, 32)
	binary.LittleEndian.PutUint64(rec[0:], 123456789)
	binary.LittleEndian.PutUint32(rec[8:], 7)
	binary.LittleEndian.PutUint32(rec[12:], 100)
	binary.LittleEndian.PutUint32(rec[16:], 4)
	rec[20] = 1
	rec[21] = ClassSIP
	rec = append(rec, 1, 2, 3, 4, 0, 0, 0, 0) // frame, then size-class padding
	h, data, err := ParseEvent(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := EventHeader{MonoNS: 123456789, IfIndex: 7, OrigLen: 100, CapLen: 4, Egress: true, Class: ClassSIP}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]byte{1, 2, 3, 4}, data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	for _, bad := range [][]byte{rec[:10], rec[:27]} {
		if _, _, err := ParseEvent(bad); !errors.Is(err, ErrShortEvent) {
			t.Errorf("ParseEvent(%d bytes) error %v, want ErrShortEvent", len(bad), err)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add(make([]byte, 24))
	f.Add(append(make([]byte, 24), 1, 2, 3))
	f.Fuzz(func(t *testing.T, rec []byte) {
		h, data, err := ParseEvent(rec)
		if err != nil {
			return
		}
		if len(data) != int(h.CapLen) || h.CapLen > h.OrigLen || len(rec) < EventHeaderLen+len(data) {
			t.Fatalf("inconsistent: %+v, %d data bytes of %d", h, len(data), len(rec))
		}
	})
}
