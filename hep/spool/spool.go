package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Errors returned by a Spool.
var (
	ErrFull     = errors.New("spool: full")
	ErrTooLarge = errors.New("spool: record larger than the spool")
	ErrClosed   = errors.New("spool: closed")
	ErrCorrupt  = errors.New("spool: corrupt segment")
)

// Config configures a Spool.
type Config struct {
	Dir          string        // directory for segment files, created if missing
	MaxBytes     int64         // on-disk bound; default 1 GiB
	SegmentBytes int           // uncompressed bytes per segment before sealing; default 4 MiB
	MaxAge       time.Duration // Oldest seals an open segment older than this; default 1s
}

// Segment is one sealed segment's records in append order. Records alias
// one buffer owned by the caller.
type Segment struct {
	ID      uint64
	Records [][]byte
}

// Stats are a Spool's gauges and counters.
type Stats struct {
	Segments int    // sealed segments on disk
	Bytes    int64  // bytes of sealed segment files on disk
	Records  int64  // records pending: in sealed segments and in the open one
	Appended uint64 // records appended since Open
	Removed  uint64 // records removed (delivered) since Open
	Full     uint64 // appends refused with ErrFull
	Corrupt  uint64 // segments found corrupt or torn and deleted
}

const (
	headerLen   = 24
	flagZstd    = 1
	segSuffix   = ".seg"
	tmpSuffix   = ".tmp"
	maxRawBytes = 1 << 30
)

var (
	magic  = [4]byte{'X', 'S', 'P', '1'}
	crcTab = crc32.MakeTable(crc32.Castagnoli)

	codecOnce sync.Once
	encoder   *zstd.Encoder
	decoder   *zstd.Decoder
	codecErr  error
)

// codecs returns the shared zstd encoder and decoder; their EncodeAll and
// DecodeAll are safe for concurrent use and pool their state internally.
func codecs() (*zstd.Encoder, *zstd.Decoder, error) {
	codecOnce.Do(func() {
		encoder, codecErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
		if codecErr != nil {
			return
		}
		decoder, codecErr = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxRawBytes), zstd.WithDecoderConcurrency(0))
	})
	return encoder, decoder, codecErr
}

type segMeta struct {
	id      uint64
	size    int64 // file size
	records int64
}

// Spool is a bounded on-disk FIFO. It is safe for concurrent use: appends
// go under one lock, and compressing and writing a segment happen outside
// it, one seal at a time.
type Spool struct {
	cfg Config

	sealMu  sync.Mutex // serialises seals, so segments land in ID order
	sealBuf []byte     // segment file being built; guarded by sealMu

	mu       sync.Mutex
	segs     []segMeta // sealed segments, ascending ID
	bytes    int64     // sum of segs[].size
	sealing  int64     // bytes accounted for the segment being written
	records  int64     // records in segs
	open     []byte    // open segment's record stream
	spare    []byte    // a record stream buffer to reuse
	openRecs int64
	openedAt time.Time // when the first record went into the open segment
	nextID   uint64
	closed   bool
	st       Stats
}

// Open opens (or creates) the spool in cfg.Dir. Existing sealed segments
// are found and resumed in order; temporary files from a crash and
// segments with a bad header are deleted and counted as corrupt.
func Open(cfg Config) (*Spool, error) {
	if cfg.Dir == "" {
		return nil, errors.New("open spool: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 30
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 4 << 20
	}
	cfg.SegmentBytes = min(cfg.SegmentBytes, maxRawBytes)
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Second
	}
	if _, _, err := codecs(); err != nil {
		return nil, fmt.Errorf("open spool: zstd: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{cfg: cfg, nextID: 1}
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(cfg.Dir, name)
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			// A seal interrupted by a crash: the segment never became whole.
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("open spool: remove torn segment: %w", err)
			}
			s.st.Corrupt++
		case strings.HasSuffix(name, segSuffix):
			id, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 16, 64)
			if err != nil {
				continue // not ours
			}
			m, err := readMeta(path, id)
			if errors.Is(err, ErrCorrupt) {
				if err := os.Remove(path); err != nil {
					return nil, fmt.Errorf("open spool: remove corrupt segment: %w", err)
				}
				s.st.Corrupt++
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("open spool: %w", err)
			}
			s.segs = append(s.segs, m)
			s.bytes += m.size
			s.records += m.records
			s.nextID = max(s.nextID, id+1)
		}
	}
	slices.SortFunc(s.segs, func(a, b segMeta) int {
		if a.id < b.id {
			return -1
		}
		return 1
	})
	return s, nil
}

func segName(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x%s", id, segSuffix))
}

// readMeta reads and checks a segment's header against its file size.
func readMeta(path string, id uint64) (segMeta, error) {
	f, err := os.Open(path)
	if err != nil {
		return segMeta{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return segMeta{}, err
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return segMeta{}, fmt.Errorf("%w: %s: header: %v", ErrCorrupt, path, err)
	}
	recs, _, dataLen, err := parseHeader(h[:])
	if err != nil {
		return segMeta{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if fi.Size() != headerLen+int64(dataLen) {
		return segMeta{}, fmt.Errorf("%w: %s: %d bytes, header says %d", ErrCorrupt, path, fi.Size(), headerLen+int64(dataLen))
	}
	return segMeta{id: id, size: fi.Size(), records: int64(recs)}, nil
}

func parseHeader(h []byte) (recs, rawLen, dataLen uint32, err error) {
	if [4]byte(h[0:4]) != magic {
		return 0, 0, 0, errors.New("bad magic")
	}
	if h[4]&^flagZstd != 0 || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return 0, 0, 0, errors.New("unknown flags")
	}
	recs = binary.LittleEndian.Uint32(h[8:])
	rawLen = binary.LittleEndian.Uint32(h[12:])
	dataLen = binary.LittleEndian.Uint32(h[16:])
	if rawLen > maxRawBytes || int64(recs)*4 > int64(rawLen) {
		return 0, 0, 0, errors.New("impossible lengths")
	}
	return recs, rawLen, dataLen, nil
}

// accounted is what the bound is checked against: sealed segments, the
// one being written, and the open one at its uncompressed size plus a
// header (a sealed segment is never larger: incompressible data is stored
// raw).
func (s *Spool) accounted() int64 {
	a := s.bytes + s.sealing
	if len(s.open) > 0 {
		a += headerLen + int64(len(s.open))
	}
	return a
}

// Append copies rec into the open segment. It returns ErrFull when the
// disk bound would be exceeded (the record is not stored; retry after
// Remove), ErrTooLarge when rec could never fit, and ErrClosed after Close.
func (s *Spool) Append(rec []byte) error {
	need := int64(4 + len(rec))
	if headerLen+need > s.cfg.MaxBytes || need > maxRawBytes {
		return ErrTooLarge
	}
	s.mu.Lock()
	for len(s.open) > 0 && len(s.open)+int(need) > s.cfg.SegmentBytes {
		// Seal first; a concurrent seal may beat us to it.
		s.mu.Unlock()
		if err := s.Seal(); err != nil {
			return err
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	extra := need
	if len(s.open) == 0 {
		extra += headerLen
	}
	if s.accounted()+extra > s.cfg.MaxBytes {
		s.st.Full++
		return ErrFull
	}
	if len(s.open) == 0 {
		s.openedAt = time.Now()
		if s.open == nil {
			s.open, s.spare = s.spare[:0], nil
		}
		if cap(s.open) == 0 {
			s.open = make([]byte, 0, s.cfg.SegmentBytes)
		}
	}
	s.open = binary.LittleEndian.AppendUint32(s.open, uint32(len(rec)))
	s.open = append(s.open, rec...)
	s.openRecs++
	s.st.Appended++
	return nil
}

// Seal seals the open segment now, making its records readable. Sealing
// an empty open segment does nothing.
func (s *Spool) Seal() error {
	s.sealMu.Lock()
	defer s.sealMu.Unlock()
	return s.sealLocked()
}

// sealLocked seals with sealMu held: it takes the open segment under mu,
// then compresses and writes it without mu so appends continue.
func (s *Spool) sealLocked() error {
	s.mu.Lock()
	if len(s.open) == 0 {
		s.mu.Unlock()
		return nil
	}
	raw, recs := s.open, s.openRecs
	id := s.nextID
	s.nextID++
	s.sealing = headerLen + int64(len(raw))
	s.open, s.openRecs = nil, 0
	s.mu.Unlock()

	size, err := s.writeSegment(id, raw, recs)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealing = 0
	if err != nil {
		// Put the records back in front of what was appended meanwhile, so
		// nothing is lost and a later seal retries.
		s.open = append(raw, s.open...)
		s.openRecs += recs
		return err
	}
	s.segs = append(s.segs, segMeta{id: id, size: size, records: recs})
	s.bytes += size
	s.records += recs
	if s.spare == nil {
		s.spare = raw[:0]
	}
	return nil
}

func (s *Spool) writeSegment(id uint64, raw []byte, recs int64) (int64, error) {
	enc, _, _ := codecs()
	buf := enc.EncodeAll(raw, append(s.sealBuf[:0], make([]byte, headerLen)...))
	defer func() { s.sealBuf = buf[:0] }()
	flags := byte(flagZstd)
	if len(buf)-headerLen >= len(raw) {
		buf = append(buf[:headerLen], raw...)
		flags = 0
	}
	h := buf[:headerLen]
	copy(h, magic[:])
	h[4], h[5], h[6], h[7] = flags, 0, 0, 0
	binary.LittleEndian.PutUint32(h[8:], uint32(recs))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(raw)))
	binary.LittleEndian.PutUint32(h[16:], uint32(len(buf)-headerLen))
	crc := crc32.Update(0, crcTab, h[:20])
	crc = crc32.Update(crc, crcTab, buf[headerLen:])
	binary.LittleEndian.PutUint32(h[20:], crc)

	final := segName(s.cfg.Dir, id)
	tmp := strings.TrimSuffix(final, segSuffix) + tmpSuffix
	if err := writeSync(tmp, buf); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("seal spool segment: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("seal spool segment: %w", err)
	}
	if d, err := os.Open(s.cfg.Dir); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return int64(len(buf)), nil
}

func writeSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Oldest returns the oldest sealed segment, or io.EOF when there is none.
// It first seals the open segment if that is older than MaxAge. A segment
// that fails its checks is deleted, counted in Stats.Corrupt, and skipped.
// The segment stays in the spool until Remove.
func (s *Spool) Oldest() (Segment, error) {
	return s.Next(0) // segment IDs start at 1
}

// Next returns the oldest sealed segment with an ID above after, or io.EOF
// when there is none, so a reader can have several segments in flight
// (sent, not yet acknowledged, still in the spool until [Spool.Remove]).
// Like [Spool.Oldest] it seals a stale open segment first and skips (and
// deletes) corrupt segments.
func (s *Spool) Next(after uint64) (Segment, error) {
	s.mu.Lock()
	stale := len(s.open) > 0 && time.Since(s.openedAt) >= s.cfg.MaxAge
	s.mu.Unlock()
	if stale {
		if err := s.Seal(); err != nil {
			return Segment{}, err
		}
	}
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.segs, func(m segMeta) bool { return m.id > after })
		if i < 0 {
			s.mu.Unlock()
			return Segment{}, io.EOF
		}
		m := s.segs[i]
		s.mu.Unlock()
		seg, err := s.read(m)
		if err == nil {
			return seg, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return Segment{}, err
		}
		if err := s.drop(m.id, true); err != nil {
			return Segment{}, err
		}
	}
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.cfg.Dir }

// OpenRecords is the number of records in the open (unsealed) segment:
// what a crash would lose now.
func (s *Spool) OpenRecords() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openRecs
}

func (s *Spool) read(m segMeta) (Segment, error) {
	path := segName(s.cfg.Dir, m.id)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Segment{}, fmt.Errorf("%w: %s vanished", ErrCorrupt, path)
	}
	if err != nil {
		return Segment{}, fmt.Errorf("read spool segment: %w", err)
	}
	if len(b) < headerLen {
		return Segment{}, fmt.Errorf("%w: %s: short", ErrCorrupt, path)
	}
	recs, rawLen, dataLen, err := parseHeader(b)
	if err != nil || len(b) != headerLen+int(dataLen) {
		return Segment{}, fmt.Errorf("%w: %s: bad header", ErrCorrupt, path)
	}
	crc := crc32.Update(0, crcTab, b[:20])
	crc = crc32.Update(crc, crcTab, b[headerLen:])
	if crc != binary.LittleEndian.Uint32(b[20:]) {
		return Segment{}, fmt.Errorf("%w: %s: checksum mismatch", ErrCorrupt, path)
	}
	raw := b[headerLen:]
	if b[4]&flagZstd != 0 {
		_, dec, _ := codecs()
		raw, err = dec.DecodeAll(raw, make([]byte, 0, rawLen))
		if err != nil {
			return Segment{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
	}
	if len(raw) != int(rawLen) {
		return Segment{}, fmt.Errorf("%w: %s: %d bytes of records, header says %d", ErrCorrupt, path, len(raw), rawLen)
	}
	seg := Segment{ID: m.id, Records: make([][]byte, 0, recs)}
	for len(raw) > 0 {
		if len(raw) < 4 {
			return Segment{}, fmt.Errorf("%w: %s: torn record length", ErrCorrupt, path)
		}
		n := binary.LittleEndian.Uint32(raw)
		if uint64(n) > uint64(len(raw)-4) {
			return Segment{}, fmt.Errorf("%w: %s: record past the end", ErrCorrupt, path)
		}
		seg.Records = append(seg.Records, raw[4:4+n:4+n])
		raw = raw[4+n:]
	}
	if len(seg.Records) != int(recs) {
		return Segment{}, fmt.Errorf("%w: %s: %d records, header says %d", ErrCorrupt, path, len(seg.Records), recs)
	}
	return seg, nil
}

// Remove deletes a sealed segment once its records are delivered.
func (s *Spool) Remove(id uint64) error {
	return s.drop(id, false)
}

func (s *Spool) drop(id uint64, corrupt bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.segs, func(m segMeta) bool { return m.id == id })
	if i < 0 {
		if corrupt {
			return nil // removed meanwhile
		}
		return fmt.Errorf("remove spool segment %d: %w", id, os.ErrNotExist)
	}
	if err := os.Remove(segName(s.cfg.Dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spool segment %d: %w", id, err)
	}
	m := s.segs[i]
	s.segs = slices.Delete(s.segs, i, i+1)
	s.bytes -= m.size
	s.records -= m.records
	if corrupt {
		s.st.Corrupt++
	} else {
		s.st.Removed += uint64(m.records)
	}
	return nil
}

// Stats returns the current gauges and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Segments = len(s.segs)
	st.Bytes = s.bytes
	st.Records = s.records + s.openRecs
	return st
}

// Close seals the open segment, so nothing appended is lost, and makes
// later appends fail with ErrClosed. It is idempotent; sealed segments stay
// readable after Close.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if err := s.Seal(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}
