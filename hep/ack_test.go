package hep

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAppendSeq stamps a sequence chunk into an encoded message and
// checks the bytes, that SeqOf reads it back and that the decoder (any
// receiver) still reads every generic field and keeps the chunk in Extra.
func TestAppendSeq(t *testing.T) {
	m := sipMsg()
	plain, err := m.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := AppendSeq(nil, plain, 0x0102030405060708, 42)
	if !ok {
		t.Fatal("AppendSeq refused a valid message")
	}
	// "HEP3" | len | 78 68 78 01 00 16 | stream | seq | the original chunks
	want := append([]byte{}, plain[:6]...)
	want = append(want, 0x78, 0x68, 0x78, 0x01, 0x00, 0x16,
		1, 2, 3, 4, 5, 6, 7, 8,
		0, 0, 0, 0, 0, 0, 0, 42)
	want = append(want, plain[6:]...)
	want[4], want[5] = byte(len(want)>>8), byte(len(want))
	if !bytes.Equal(got, want) {
		t.Fatalf("stamped message:\n got %x\nwant %x", got, want)
	}
	s, q, ok := SeqOf(got)
	if !ok || s != 0x0102030405060708 || q != 42 {
		t.Errorf("SeqOf = %x, %d, %v", s, q, ok)
	}
	if _, _, ok := SeqOf(plain); ok {
		t.Error("SeqOf found a chunk in a plain message")
	}
	var d, p Message
	if err := d.DecodeFromBytes(got); err != nil {
		t.Fatal(err)
	}
	if err := p.DecodeFromBytes(plain); err != nil {
		t.Fatal(err)
	}
	wantExtra := []Chunk{{Vendor: VendorXHEP, Type: ChunkXHEPSeq, Data: want[12:28]}}
	if diff := cmp.Diff(wantExtra, d.Extra); diff != "" {
		t.Errorf("Extra (-want +got):\n%s", diff)
	}
	// Found anywhere, not only first: re-encoding puts Extra last.
	moved, _ := d.AppendTo(nil)
	d.Extra = p.Extra
	if diff := cmp.Diff(p, d, cmp.AllowUnexported(Message{}), cmp.Comparer(func(a, b interface{ String() string }) bool { return a.String() == b.String() })); diff != "" {
		t.Errorf("generic fields changed by the vendor chunk (-plain +stamped):\n%s", diff)
	}
	if s, q, ok := SeqOf(moved); !ok || s != 0x0102030405060708 || q != 42 {
		t.Errorf("SeqOf on a re-encoded message = %x, %d, %v", s, q, ok)
	}
}

func TestAppendSeqRefuses(t *testing.T) {
	m := sipMsg()
	plain, _ := m.AppendTo(nil)
	big := Message{Payload: make([]byte, MaxMessageLen-90)}
	bigEnc, err := big.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"not HEP3", []byte("HEP2\x00\x06")},
		{"length mismatch", plain[:len(plain)-1]},
		{"too large once stamped", bigEnc},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, ok := AppendSeq(dst, tt.msg, 1, 1)
			if ok || string(got) != "keep" {
				t.Errorf("AppendSeq = %q, %v; want dst unchanged, false", got, ok)
			}
		})
	}
}

func TestAcks(t *testing.T) {
	acks := []Ack{{Stream: 7, Seq: 100}, {Stream: 0xffffffffffffffff, Seq: 1}}
	b := AppendAcks(nil, acks)
	// "HEP3" 00 32 | 78 68 78 02 00 16 | stream 7 | seq 100 | second chunk
	wantHead := []byte{'H', 'E', 'P', '3', 0, 50, 0x78, 0x68, 0x78, 0x02, 0, 0x16, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 100}
	if !bytes.HasPrefix(b, wantHead) || len(b) != 50 {
		t.Fatalf("ack message %x", b)
	}
	if diff := cmp.Diff(acks, ParseAcks(nil, b)); diff != "" {
		t.Errorf("ParseAcks (-want +got):\n%s", diff)
	}
	// A framer reads it like any message; a HEP decoder accepts it.
	f := NewFramer(bytes.NewReader(append(b, b...)), 0)
	for range 2 {
		msg, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if err := m.DecodeFromBytes(msg); err != nil {
			t.Errorf("decode ack message: %v", err)
		}
	}
	// Malformed: truncated chunk.
	if got := ParseAcks(nil, b[:40]); len(got) != 1 {
		t.Errorf("truncated: %v, want the first ack", got)
	}
	if got := ParseAcks(nil, []byte("junk")); got != nil {
		t.Errorf("junk: %v", got)
	}
}

func TestSeqZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := sipMsg()
	plain, _ := m.AppendTo(nil)
	buf := make([]byte, 0, 4096)
	stamped, _ := AppendSeq(nil, plain, 1, 2)
	acks := make([]Ack, 0, 4)
	ackMsg := AppendAcks(nil, []Ack{{1, 2}})
	for name, f := range map[string]func(){
		"AppendSeq":  func() { buf, _ = AppendSeq(buf[:0], plain, 1, 2) },
		"SeqOf":      func() { SeqOf(stamped) },
		"AppendAcks": func() { buf = AppendAcks(buf[:0], acks[:1]) },
		"ParseAcks":  func() { acks = ParseAcks(acks[:0], ackMsg) },
	} {
		if got := testing.AllocsPerRun(100, f); got != 0 {
			t.Errorf("%s: %v allocations per run", name, got)
		}
	}
}

func FuzzSeqOf(f *testing.F) {
	m := sipMsg()
	plain, _ := m.AppendTo(nil)
	stamped, _ := AppendSeq(nil, plain, 1, 2)
	f.Add(stamped)
	f.Add(AppendAcks(nil, []Ack{{1, 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		SeqOf(b)
		ParseAcks(nil, b)
		if out, ok := AppendSeq(nil, b, 3, 4); ok {
			if s, q, ok := SeqOf(out); !ok || s != 3 || q != 4 {
				t.Fatalf("stamped %x, SeqOf = %d %d %v", out, s, q, ok)
			}
		}
	})
}
