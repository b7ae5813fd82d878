package source

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("source closed")

// ErrFormat is wrapped by the errors of [OpenFile] for a file that is neither
// pcap nor pcapng.
var ErrFormat = errors.New("not a pcap or pcapng file")

// File magic numbers, read as the first four bytes of the file.
//
//	pcap (libpcap):  a1b2c3d4 µs or a1b23c4d ns, in the writer's byte order
//	                 (so d4c3b2a1 / 4d3cb2a1 when read with the other order)
//	pcapng:          0a0d0d0a, the Section Header Block type (palindromic)
//	gzip:            1f8b (pcapgo reads gzipped pcap files transparently)
const (
	magicPcapUs   = 0xa1b2c3d4
	magicPcapNs   = 0xa1b23c4d
	magicPcapUsBE = 0xd4c3b2a1
	magicPcapNsBE = 0x4d3cb2a1
	magicPcapng   = 0x0a0d0d0a
)

// fileBufSize is the read buffer in front of the file: large sequential
// reads, few syscalls.
const fileBufSize = 1 << 20

// File reads frames from a pcap or pcapng file, optionally several times
// over. It implements [Source]. Read is called from one goroutine; Close
// may be called from any and is idempotent.
type File struct {
	path  string
	loops int

	f    *os.File
	br   *bufio.Reader
	pcap *pcapgo.Reader
	ng   *pcapgo.NgReader

	pass             int   // 0-based pass over the file
	first, last      int64 // capture time of the first and last frame of pass 0
	haveFirst        bool
	offset           int64 // added to every timestamp of the current pass
	frames           uint64
	mu               sync.Mutex // guards f against a concurrent Close
	closed           atomic.Bool
	linkTypeFallback uint16
}

// OpenFile opens a pcap or pcapng file (told apart by their magic numbers;
// gzipped pcap is accepted too). loops is how many times the file is read
// from start to end; values below 1 mean once. On every pass after the first
// the timestamps are shifted forward by the span of the file (last minus
// first capture time, plus one microsecond) times the pass number, so
// capture time keeps increasing across passes.
func OpenFile(path string, loops int) (*File, error) {
	if loops < 1 {
		loops = 1
	}
	s := &File{path: path, loops: loops}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *File) open() error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open capture file: %w", err)
	}
	if s.br == nil {
		s.br = bufio.NewReaderSize(f, fileBufSize)
	} else {
		s.br.Reset(f) // reused across passes: no 1 MiB allocation per loop
	}
	br := s.br
	head, err := br.Peek(4)
	if err != nil {
		f.Close()
		return fmt.Errorf("read capture file header %s: %w", s.path, ErrFormat)
	}
	s.pcap, s.ng = nil, nil
	switch magic := binary.LittleEndian.Uint32(head); {
	case magic == magicPcapng:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			f.Close()
			return fmt.Errorf("read pcapng header %s: %w", s.path, err)
		}
		s.ng = ng
	case magic == magicPcapUs || magic == magicPcapNs || magic == magicPcapUsBE || magic == magicPcapNsBE || head[0] == 0x1f && head[1] == 0x8b:
		r, err := pcapgo.NewReader(br)
		if err != nil {
			f.Close()
			return fmt.Errorf("read pcap header %s: %w", s.path, err)
		}
		s.pcap = r
		s.linkTypeFallback = uint16(r.LinkType())
	default:
		f.Close()
		return fmt.Errorf("open capture file %s: magic %08x: %w", s.path, magic, ErrFormat)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		f.Close()
		return ErrClosed
	}
	s.f = f
	return nil
}

// Read fills f with the next frame. f.Data aliases the reader's buffer until
// the next Read. It returns io.EOF after the last frame of the last pass.
func (s *File) Read(fr *Frame) error {
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		var (
			data []byte
			ci   gopacket.CaptureInfo
			err  error
			lt   uint16
		)
		if s.ng != nil {
			data, ci, err = s.ng.ZeroCopyReadPacketData()
			if err == nil {
				iface, ierr := s.ng.Interface(ci.InterfaceIndex)
				if ierr != nil {
					return fmt.Errorf("read pcapng %s: packet of interface %d: %w", s.path, ci.InterfaceIndex, ierr)
				}
				lt = uint16(iface.LinkType)
			}
		} else {
			data, ci, err = s.pcap.ZeroCopyReadPacketData()
			lt = s.linkTypeFallback
		}
		if err != nil {
			if s.closed.Load() {
				return ErrClosed
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				// A truncated last record (a capture cut short) ends the pass
				// like a clean end of file.
				if err := s.nextPass(); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("read capture file %s: %w", s.path, err)
		}
		ts := ci.Timestamp.UnixNano()
		if s.pass == 0 {
			if !s.haveFirst {
				s.first, s.haveFirst = ts, true
			}
			s.last = max(s.last, ts)
		}
		s.frames++
		*fr = Frame{
			Data:     data,
			TS:       ts + s.offset,
			LinkType: lt,
			OrigLen:  max(ci.Length, len(data)),
		}
		return nil
	}
}

// nextPass reopens the file for the next pass, or returns io.EOF after the
// last one.
func (s *File) nextPass() error {
	if s.pass+1 >= s.loops || s.frames == 0 {
		return io.EOF
	}
	s.mu.Lock()
	f := s.f
	s.f = nil
	s.mu.Unlock()
	if f != nil {
		f.Close()
	}
	if err := s.open(); err != nil {
		return err
	}
	s.pass++
	s.offset = int64(s.pass) * (s.last - s.first + 1000)
	return nil
}

// Close closes the file. Later calls to Read return ErrClosed.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if s.f != nil {
		err := s.f.Close()
		s.f = nil
		if err != nil {
			return fmt.Errorf("close capture file: %w", err)
		}
	}
	return nil
}
