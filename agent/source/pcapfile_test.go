package source

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// rec is what the test writes and expects back (Data copied).
type rec struct {
	Data     []byte
	TS       int64
	LinkType uint16
	OrigLen  int
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC).UnixNano()

func testFrames() []rec {
	return []rec{
		{Data: []byte{0x00, 0x01, 0x02, 0x03}, TS: t0, LinkType: LinkEthernet, OrigLen: 4},
		{Data: []byte{0x45, 0x00, 0x00, 0x14}, TS: t0 + 1_000, LinkType: LinkEthernet, OrigLen: 60}, // truncated by snaplen
		{Data: bytes.Repeat([]byte{0xab}, 300), TS: t0 + 2_000_000, LinkType: LinkEthernet, OrigLen: 300},
	}
}

func writePcap(t *testing.T, frames []rec, nanos bool, gz bool) string {
	t.Helper()
	var buf bytes.Buffer
	var out io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		out = zw
	}
	var w *pcapgo.Writer
	if nanos {
		w = pcapgo.NewWriterNanos(out)
	} else {
		w = pcapgo.NewWriter(out)
	}
	if err := w.WriteFileHeader(65535, layers.LinkType(frames[0].LinkType)); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: len(f.Data), Length: f.OrigLen}
		if err := w.WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if zw != nil {
		zw.Close()
	}
	p := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writePcapng writes frames with one interface per distinct link type.
func writePcapng(t *testing.T, frames []rec) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkType(frames[0].LinkType), SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	ifaces := map[uint16]int{frames[0].LinkType: 0}
	for _, f := range frames {
		id, ok := ifaces[f.LinkType]
		if !ok {
			id, err = w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkType(f.LinkType), SnapLength: 65535})
			if err != nil {
				t.Fatal(err)
			}
			ifaces[f.LinkType] = id
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: len(f.Data), Length: f.OrigLen, InterfaceIndex: id}
		if err := w.WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.pcapng")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, s Source) []rec {
	t.Helper()
	var got []rec
	var f Frame
	for {
		err := s.Read(&f)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, rec{Data: bytes.Clone(f.Data), TS: f.TS, LinkType: f.LinkType, OrigLen: f.OrigLen})
	}
}

func usec(frames []rec) []rec {
	out := make([]rec, len(frames))
	for i, f := range frames {
		f.TS = f.TS / 1000 * 1000
		out[i] = f
	}
	return out
}

func TestOpenFile(t *testing.T) {
	mixed := append(testFrames(), rec{Data: []byte{0x60, 0, 0, 0}, TS: t0 + 3_000_000, LinkType: LinkRaw, OrigLen: 4},
		rec{Data: []byte{0, 1, 2, 3, 4, 5}, TS: t0 + 4_000_000, LinkType: LinkSLL2, OrigLen: 6})
	span := testFrames()[2].TS - testFrames()[0].TS + 1000
	looped := func(frames []rec, loops int) []rec {
		var out []rec
		for i := range loops {
			for _, f := range frames {
				f.TS += int64(i) * span
				out = append(out, f)
			}
		}
		return out
	}
	tests := []struct {
		name  string
		path  func(t *testing.T) string
		loops int
		want  []rec
	}{
		{"pcap microseconds", func(t *testing.T) string { return writePcap(t, testFrames(), false, false) }, 1, usec(testFrames())},
		{"pcap nanoseconds", func(t *testing.T) string { return writePcap(t, testFrames(), true, false) }, 1, testFrames()},
		{"pcap gzip", func(t *testing.T) string { return writePcap(t, testFrames(), true, true) }, 0, testFrames()},
		{"pcapng mixed link types", func(t *testing.T) string { return writePcapng(t, mixed) }, 1, mixed},
		{"pcap three loops", func(t *testing.T) string { return writePcap(t, testFrames(), true, false) }, 3, looped(testFrames(), 3)},
		{"pcapng two loops", func(t *testing.T) string { return writePcapng(t, testFrames()) }, 2, looped(testFrames(), 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenFile(tt.path(t), tt.loops)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			got := readAll(t, s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			// After the end, Read keeps returning io.EOF.
			var f Frame
			if err := s.Read(&f); !errors.Is(err, io.EOF) {
				t.Errorf("Read after end = %v, want io.EOF", err)
			}
		})
	}
}

func TestOpenFileTruncated(t *testing.T) {
	p := writePcap(t, testFrames(), true, false)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last record in the middle of its data: the complete records
	// are read, then io.EOF.
	if err := os.WriteFile(p, b[:len(b)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenFile(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if diff := cmp.Diff(testFrames()[:2], readAll(t, s)); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "nope.pcap"), os.ErrNotExist},
		{"empty", write("empty", nil), ErrFormat},
		{"text", write("text", []byte("INVITE sip:a@b SIP/2.0\r\n")), ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenFile(tt.path, 1)
			if !errors.Is(err, tt.want) {
				t.Fatalf("OpenFile = %v, want %v", err, tt.want)
			}
			if s != nil {
				t.Error("source returned with an error")
			}
		})
	}
}

func TestFileClose(t *testing.T) {
	s, err := OpenFile(writePcap(t, testFrames(), true, false), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	var f Frame
	if err := s.Read(&f); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
}

func BenchmarkFileRead(b *testing.B) {
	frames := make([]rec, 10000)
	for i := range frames {
		frames[i] = rec{Data: bytes.Repeat([]byte{byte(i)}, 600), TS: t0 + int64(i)*1000, LinkType: LinkEthernet, OrigLen: 600}
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for _, f := range frames {
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, f.TS), CaptureLength: 600, Length: 600}, f.Data)
	}
	p := filepath.Join(b.TempDir(), "bench.pcap")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	s, err := OpenFile(p, 1<<30)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var f Frame
	b.ReportAllocs()
	b.SetBytes(600)
	for b.Loop() {
		if err := s.Read(&f); err != nil {
			b.Fatal(err)
		}
	}
}
