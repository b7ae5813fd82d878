package journal

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of a Journal.
var (
	ErrClosed  = errors.New("journal: closed")
	ErrTooBig  = errors.New("journal: record larger than the journal")
	ErrCorrupt = errors.New("journal: corrupt")
)

// Config configures a [Journal]. Zero fields take the defaults named.
type Config struct {
	Dir string // created if missing
	// MaxBytes bounds the journal on disk (records not yet checkpointed
	// plus those waiting for their sync); Append blocks beyond it
	// (default 1 GiB).
	MaxBytes int64
	// SyncInterval is the fsync window: appended records are written and
	// fsynced together at most this long after the first of them
	// (default 10ms). It bounds what a power loss can take of what was
	// received; nothing in the window is acknowledged before its sync.
	SyncInterval time.Duration
	// SyncBytes syncs early once this many bytes wait (default 4 MiB).
	SyncBytes int
	// SegmentBytes starts a new segment file past this size (default 64 MiB).
	SegmentBytes int64
	// StreamTTL forgets a stream's high-water mark this long after its
	// last message (default 7 days).
	StreamTTL time.Duration
}

func (c *Config) fill() {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 30
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = 10 * time.Millisecond
	}
	if c.SyncBytes <= 0 {
		c.SyncBytes = 4 << 20
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = 64 << 20
	}
	if c.StreamTTL <= 0 {
		c.StreamTTL = 7 * 24 * time.Hour
	}
}

// Stats are a Journal's counters and gauges.
type Stats struct {
	Appended    uint64        // records appended since Open
	Synced      uint64        // highest record number (JSN) on disk and fsynced
	Checkpoint  uint64        // highest JSN known committed downstream
	Syncs       uint64        // fsync calls
	SyncTime    time.Duration // total time in write+fsync
	Bytes       int64         // on disk and waiting, bounded by MaxBytes
	Segments    int
	Pending     uint64 // records after the checkpoint (replayed by the next start)
	Replayed    uint64 // records handed to Replay at start
	TornBytes   int64  // bytes cut from the end of the last segment at Open (a write cut by a crash)
	Blocked     uint64 // Appends that waited for room (backpressure)
	Streams     int    // producers whose high-water mark is kept
	SyncErrors  uint64
	LastSyncErr string
}

type segment struct {
	first, last uint64 // JSN range; last 0 while empty
	size        int64
	path        string
}

type mark struct {
	seq  uint64
	seen int64 // unix seconds
}

// Journal is an append-only, fsync-batched log of received messages.
// Append, Durable, Changed, Checkpoint and Stats are safe for concurrent
// use; Replay is called once, after Open and before the first Append.
type Journal struct {
	cfg Config
	id  uint64

	mu       sync.Mutex
	room     *sync.Cond
	buf      []byte // appended, not yet written
	spare    []byte
	bufFirst uint64 // JSN of the first record in buf
	nextJSN  uint64
	synced   uint64
	ckpt     uint64
	pending  map[uint64]uint64 // stream → last seq in buf
	spareMap map[uint64]uint64
	durable  map[uint64]mark // stream → highest seq fsynced
	changed  chan struct{}
	segs     []segment // oldest first; the last is the open one
	bytes    int64
	closed   bool
	st       Stats

	syncMu  sync.Mutex // one writer of the files at a time
	cur     *os.File   // open segment; syncMu
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	waiters []chan struct{} // Sync callers, released after the next sync

	active []uint64 // JSNs appended and not yet Done (being stored); mu
}

const (
	recHeader = 32
	segSuffix = ".jnl"
	ckptName  = "checkpoint"
)

// errDup: AppendNew lost a race with another connection of the stream.
var errDup = errors.New("journal: resend")

var (
	crcTab    = crc32.MakeTable(crc32.Castagnoli)
	ckptMagic = [4]byte{'X', 'J', 'C', '1'}
)

// Open opens or creates the journal in cfg.Dir, reads its checkpoint and
// scans its segments: the high-water marks of every stream come back, a
// torn record at the end of the last segment (a crash in the middle of a
// write) is cut off, and records after the checkpoint wait for [Journal.Replay].
// New records go to a new segment.
func Open(cfg Config) (*Journal, error) {
	cfg.fill()
	if cfg.Dir == "" {
		return nil, errors.New("open journal: no directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{
		cfg: cfg, nextJSN: 1,
		pending: map[uint64]uint64{}, spareMap: map[uint64]uint64{}, durable: map[uint64]mark{},
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	j.room = sync.NewCond(&j.mu)
	if err := j.readID(); err != nil {
		return nil, err
	}
	if err := j.readCheckpoint(); err != nil {
		return nil, err
	}
	if err := j.scan(); err != nil {
		return nil, err
	}
	j.nextJSN = max(j.nextJSN, j.ckpt+1)
	j.synced = j.nextJSN - 1
	j.st.Synced = j.synced
	go j.syncer()
	return j, nil
}

// Record (integers little-endian), 32-byte header then the data:
//
//	0   4  data length
//	4   4  CRC-32C of bytes 8..31 and the data
//	8   8  JSN: journal sequence number, 1, 2, 3, ... in append order
//	16  8  stream id (0: the message carried none)
//	24  8  sequence within the stream
//	32  .. data: the HEP message as received
//
// Segment files are named by the JSN of their first record (16 hex
// digits + ".jnl") and hold records back to back.
func appendRecord(b []byte, jsn, stream, seq uint64, data []byte) []byte {
	off := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, jsn)
	b = binary.LittleEndian.AppendUint64(b, stream)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = append(b, data...)
	crc := crc32.Update(0, crcTab, b[off+8:])
	binary.LittleEndian.PutUint32(b[off+4:], crc)
	return b
}

// parseRecord reads the record at the start of b; n is 0 when b holds no
// whole valid record.
func parseRecord(b []byte) (jsn, stream, seq uint64, data []byte, n int) {
	if len(b) < recHeader {
		return 0, 0, 0, nil, 0
	}
	l := int(binary.LittleEndian.Uint32(b))
	if l > len(b)-recHeader {
		return 0, 0, 0, nil, 0
	}
	if crc32.Update(0, crcTab, b[8:recHeader+l]) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, 0, 0, nil, 0
	}
	return binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:]),
		binary.LittleEndian.Uint64(b[24:]), b[recHeader : recHeader+l : recHeader+l], recHeader + l
}

func (j *Journal) segPaths() ([]string, error) {
	ents, err := os.ReadDir(j.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		if _, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 16, 64); err != nil {
			continue
		}
		out = append(out, filepath.Join(j.cfg.Dir, name))
	}
	slices.Sort(out) // fixed-width hex: name order is JSN order
	return out, nil
}

// scan walks every segment once for the JSN ranges and the streams'
// high-water marks.
func (j *Journal) scan() error {
	paths, err := j.segPaths()
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
		sg := segment{path: p}
		off := 0
		for off < len(b) {
			jsn, stream, seq, _, n := parseRecord(b[off:])
			if n == 0 {
				break
			}
			if sg.first == 0 {
				sg.first = jsn
			}
			sg.last = jsn
			j.nextJSN = max(j.nextJSN, jsn+1)
			if stream != 0 && seq > j.durable[stream].seq {
				j.durable[stream] = mark{seq: seq, seen: now}
			}
			if jsn > j.ckpt {
				j.st.Pending++
			}
			off += n
		}
		if off < len(b) {
			if i != len(paths)-1 {
				return fmt.Errorf("%w: %s: bad record at offset %d of %d", ErrCorrupt, p, off, len(b))
			}
			// The last write of a crash: whole records before it count.
			if err := os.Truncate(p, int64(off)); err != nil {
				return fmt.Errorf("open journal: cut torn tail: %w", err)
			}
			j.st.TornBytes = int64(len(b) - off)
		}
		sg.size = int64(off)
		if sg.last == 0 || sg.last <= j.ckpt {
			// Empty, or wholly checkpointed (a crash before its removal).
			os.Remove(p)
			continue
		}
		j.segs = append(j.segs, sg)
		j.bytes += sg.size
	}
	return nil
}

// Replay calls fn for every record after the checkpoint, in order: what
// was received and journaled but not known to be committed. data is valid
// during the call. Call it once, before the first Append.
func (j *Journal) Replay(fn func(jsn, stream, seq uint64, data []byte) error) error {
	j.mu.Lock()
	segs := slices.Clone(j.segs)
	ckpt := j.ckpt
	j.mu.Unlock()
	for _, sg := range segs {
		b, err := os.ReadFile(sg.path)
		if err != nil {
			return fmt.Errorf("replay journal: %w", err)
		}
		b = b[:min(int64(len(b)), sg.size)]
		for off := 0; off < len(b); {
			jsn, stream, seq, data, n := parseRecord(b[off:])
			if n == 0 {
				break
			}
			off += n
			if jsn <= ckpt {
				continue
			}
			if err := fn(jsn, stream, seq, data); err != nil {
				return fmt.Errorf("replay journal record %d: %w", jsn, err)
			}
			j.mu.Lock()
			j.st.Replayed++
			j.mu.Unlock()
		}
	}
	return nil
}

// Append adds one record and returns its JSN. It copies data. It blocks
// while the journal holds MaxBytes (until [Journal.Checkpoint] frees
// room) or while the syncer is two windows behind: that is the
// collector's backpressure. stream 0 means the message carried no
// sequence.
func (j *Journal) Append(data []byte, stream, seq uint64) (uint64, error) {
	return j.append(data, stream, seq, false)
}

func (j *Journal) append(data []byte, stream, seq uint64, active bool) (uint64, error) {
	need := int64(recHeader + len(data))
	if need > j.cfg.MaxBytes {
		return 0, ErrTooBig
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	blocked := false
	for !j.closed && (j.bytes+need > j.cfg.MaxBytes || len(j.buf) > 2*j.cfg.SyncBytes) {
		if !blocked {
			blocked = true
			j.st.Blocked++
		}
		j.room.Wait()
	}
	if j.closed {
		return 0, ErrClosed
	}
	if stream != 0 && active {
		// Checked again under the same lock as the append.
		s, ok := j.pending[stream]
		if !ok {
			s = j.durable[stream].seq
		}
		if seq <= s {
			return 0, errDup
		}
	}
	jsn := j.nextJSN
	j.nextJSN++
	if active {
		j.active = append(j.active, jsn)
	}
	if len(j.buf) == 0 {
		j.bufFirst = jsn
	}
	j.buf = appendRecord(j.buf, jsn, stream, seq, data)
	j.bytes += need
	j.st.Appended++
	j.st.Pending++
	if stream != 0 {
		j.pending[stream] = seq
	}
	if len(j.buf) >= j.cfg.SyncBytes {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return jsn, nil
}

// AppendNew is Append for a message from a producer stream: a message at
// or below the stream's high-water mark ([Journal.Seen]) is a resend and
// is not appended (dup true). Check and append are one step, so two
// connections of one stream cannot both pass. The record is also marked
// active until [Journal.Done]: [Journal.Handed] stays below it.
func (j *Journal) AppendNew(data []byte, stream, seq uint64) (jsn uint64, dup bool, err error) {
	if stream != 0 {
		j.mu.Lock()
		s, ok := j.pending[stream]
		if !ok {
			s = j.durable[stream].seq
		}
		j.mu.Unlock()
		if seq <= s {
			return 0, true, nil
		}
	}
	jsn, err = j.append(data, stream, seq, true)
	if errors.Is(err, errDup) {
		return 0, true, nil
	}
	return jsn, false, err
}

// Done ends what AppendNew (or Begin) started for jsn: its message is in
// the downstream store's hands.
func (j *Journal) Done(jsn uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, a := range j.active {
		if a == jsn {
			j.active[i] = j.active[len(j.active)-1]
			j.active = j.active[:len(j.active)-1]
			return
		}
	}
}

// Begin marks a replayed record active, like AppendNew does.
func (j *Journal) Begin(jsn uint64) {
	j.mu.Lock()
	j.active = append(j.active, jsn)
	j.mu.Unlock()
}

// Handed is the highest JSN such that it and every record before it are
// Done: what a downstream flush covers when it starts now.
func (j *Journal) Handed() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	h := j.nextJSN - 1
	for _, a := range j.active {
		h = min(h, a-1)
	}
	return h
}

// Durable is the highest sequence of stream that is on disk and fsynced
// (0 for a stream never seen). Streams arrive in order on one
// connection, so every lower sequence is durable too.
func (j *Journal) Durable(stream uint64) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.durable[stream].seq
}

// Seen is the highest sequence of stream held by the journal, synced or
// not: a message at or below it is a resend.
func (j *Journal) Seen(stream uint64) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if s, ok := j.pending[stream]; ok {
		return s
	}
	return j.durable[stream].seq
}

// Changed returns a channel closed at the next sync that moved Durable.
func (j *Journal) Changed() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.changed
}

// Synced is the highest JSN on disk and fsynced.
func (j *Journal) Synced() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.synced
}

// WaitSynced returns once record jsn is on disk and fsynced, or when ctx
// ends. The collector's store calls it before committing rows of those
// records: a row is never in the database while its record could still
// be lost, so record numbers are never reused after a crash.
func (j *Journal) WaitSynced(ctx context.Context, jsn uint64) error {
	for {
		j.mu.Lock()
		if j.synced >= jsn {
			j.mu.Unlock()
			return nil
		}
		if j.closed && len(j.buf) == 0 {
			j.mu.Unlock()
			return ErrClosed
		}
		ch := j.changed
		j.mu.Unlock()
		select {
		case j.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Last is the highest JSN appended.
func (j *Journal) Last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.nextJSN - 1
}

func (j *Journal) syncer() {
	defer close(j.stopped)
	t := time.NewTicker(j.cfg.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			j.syncOnce()
			return
		case <-t.C:
		case <-j.kick:
		}
		j.syncOnce()
	}
}

// syncOnce writes and fsyncs what was appended since the last sync.
func (j *Journal) syncOnce() {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	buf, first, last := j.buf, j.bufFirst, j.nextJSN-1
	marks := j.pending
	waiters := j.waiters
	j.waiters = nil
	if len(buf) == 0 {
		j.mu.Unlock()
		for _, w := range waiters {
			close(w)
		}
		return
	}
	j.buf, j.spare = j.spare[:0], nil
	j.pending, j.spareMap = j.spareMap, nil
	j.mu.Unlock()

	begin := time.Now()
	err := j.write(buf, first, last)
	took := time.Since(begin)

	j.mu.Lock()
	j.st.Syncs++
	j.st.SyncTime += took
	if err != nil {
		// Keep the records for the next try, in front of newer ones.
		j.st.SyncErrors++
		j.st.LastSyncErr = err.Error()
		j.buf = append(buf, j.buf...)
		j.bufFirst = first
		for s, q := range j.pending {
			marks[s] = q
		}
		j.pending = marks
		j.spareMap = map[uint64]uint64{}
		j.waiters = append(j.waiters, waiters...)
		j.mu.Unlock()
		return
	}
	j.synced = last
	j.st.Synced = last
	now := time.Now().Unix()
	for s, q := range marks {
		j.durable[s] = mark{seq: q, seen: now}
	}
	clear(marks)
	j.spareMap = marks
	j.spare = buf[:0]
	close(j.changed)
	j.changed = make(chan struct{})
	j.room.Broadcast()
	j.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
}

// write appends buf (records first..last) to the open segment, starting a
// new one when it is full, and fsyncs. syncMu is held.
func (j *Journal) write(buf []byte, first, last uint64) error {
	if j.cur != nil {
		j.mu.Lock()
		full := j.segs[len(j.segs)-1].size >= j.cfg.SegmentBytes
		j.mu.Unlock()
		if full {
			j.cur.Close()
			j.cur = nil
		}
	}
	if j.cur == nil {
		p := filepath.Join(j.cfg.Dir, fmt.Sprintf("%016x%s", first, segSuffix))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
		if err != nil {
			return fmt.Errorf("journal segment: %w", err)
		}
		syncDir(j.cfg.Dir)
		j.cur = f
		j.mu.Lock()
		j.segs = append(j.segs, segment{first: first, path: p})
		j.mu.Unlock()
	}
	if _, err := j.cur.Write(buf); err != nil {
		return fmt.Errorf("journal write: %w", err)
	}
	if err := j.cur.Sync(); err != nil {
		return fmt.Errorf("journal fsync: %w", err)
	}
	j.mu.Lock()
	sg := &j.segs[len(j.segs)-1]
	sg.size += int64(len(buf))
	sg.last = last
	j.mu.Unlock()
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Sync writes and fsyncs everything appended so far and returns when it
// is durable.
func (j *Journal) Sync() error {
	w := make(chan struct{})
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.waiters = append(j.waiters, w)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	<-w
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.buf) > 0 && j.st.LastSyncErr != "" {
		return fmt.Errorf("journal sync: %s", j.st.LastSyncErr)
	}
	return nil
}

// Checkpoint records that every record up to jsn is committed downstream:
// it writes the checkpoint (with the streams' high-water marks, which
// outlive their segments) and removes the segments wholly at or below it.
// The next Open replays only what follows jsn.
func (j *Journal) Checkpoint(jsn uint64) error {
	j.mu.Lock()
	jsn = min(jsn, j.synced)
	if jsn <= j.ckpt {
		j.mu.Unlock()
		return nil
	}
	cut := time.Now().Add(-j.cfg.StreamTTL).Unix()
	for s, m := range j.durable {
		if m.seen < cut {
			delete(j.durable, s)
		}
	}
	b := append([]byte(nil), ckptMagic[:]...)
	b = binary.LittleEndian.AppendUint64(b, jsn)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(j.durable)))
	for s, m := range j.durable {
		b = binary.LittleEndian.AppendUint64(b, s)
		b = binary.LittleEndian.AppendUint64(b, m.seq)
		b = binary.LittleEndian.AppendUint64(b, uint64(m.seen))
	}
	j.mu.Unlock()
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTab))
	tmp := filepath.Join(j.cfg.Dir, ckptName+".tmp")
	if err := writeSync(tmp, b); err != nil {
		return fmt.Errorf("journal checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(j.cfg.Dir, ckptName)); err != nil {
		return fmt.Errorf("journal checkpoint: %w", err)
	}
	syncDir(j.cfg.Dir)

	j.syncMu.Lock() // the open segment is not being written
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ckpt = max(j.ckpt, jsn)
	j.st.Checkpoint = j.ckpt
	var keep []segment
	for i, sg := range j.segs {
		open := i == len(j.segs)-1 && j.cur != nil
		if sg.last != 0 && sg.last <= j.ckpt && !open {
			if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				keep = append(keep, sg)
				continue
			}
			j.bytes -= sg.size
			continue
		}
		keep = append(keep, sg)
	}
	j.segs = keep
	if n := j.nextJSN - 1 - j.ckpt; n >= 0 {
		j.st.Pending = n
	}
	j.room.Broadcast()
	return nil
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

// Checkpoint file (little-endian): "XJC1" | JSN (8) | n (4) |
// n × (stream (8), seq (8), last seen unix seconds (8)) | CRC-32C of
// everything before (4).
func (j *Journal) readCheckpoint() error {
	b, err := os.ReadFile(filepath.Join(j.cfg.Dir, ckptName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	if len(b) < 20 || [4]byte(b[:4]) != ckptMagic ||
		crc32.Checksum(b[:len(b)-4], crcTab) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return fmt.Errorf("%w: checkpoint file %s", ErrCorrupt, filepath.Join(j.cfg.Dir, ckptName))
	}
	j.ckpt = binary.LittleEndian.Uint64(b[4:])
	n := int(binary.LittleEndian.Uint32(b[12:]))
	if 16+24*n+4 != len(b) {
		return fmt.Errorf("%w: checkpoint file: %d streams in %d bytes", ErrCorrupt, n, len(b))
	}
	for i := range n {
		o := 16 + 24*i
		j.durable[binary.LittleEndian.Uint64(b[o:])] = mark{
			seq:  binary.LittleEndian.Uint64(b[o+8:]),
			seen: int64(binary.LittleEndian.Uint64(b[o+16:])),
		}
	}
	j.st.Checkpoint = j.ckpt
	return nil
}

// ID is the journal's own stream id: random, made when the directory was
// first used and kept in its "id" file. Rows stored from this journal
// carry marks under it (see collector/store Row.Mark).
func (j *Journal) ID() uint64 { return j.id }

func (j *Journal) readID() error {
	p := filepath.Join(j.cfg.Dir, "id")
	b, err := os.ReadFile(p)
	if err == nil && len(b) == 8 && binary.LittleEndian.Uint64(b) != 0 {
		j.id = binary.LittleEndian.Uint64(b)
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open journal: %w", err)
	}
	if err == nil {
		return fmt.Errorf("%w: id file %s", ErrCorrupt, p)
	}
	var r [8]byte
	for j.id == 0 {
		if _, err := rand.Read(r[:]); err != nil {
			return fmt.Errorf("open journal: %w", err)
		}
		j.id = binary.LittleEndian.Uint64(r[:])
	}
	if err := writeSync(p+".tmp", r[:]); err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	syncDir(j.cfg.Dir)
	return nil
}

// Stats returns a snapshot.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.st
	st.Bytes = j.bytes
	st.Segments = len(j.segs)
	st.Streams = len(j.durable)
	return st
}

// Close syncs what is appended and closes the journal; later Appends fail
// with ErrClosed. Idempotent.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.room.Broadcast()
	j.mu.Unlock()
	close(j.stop)
	<-j.stopped
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	var err error
	if j.cur != nil {
		err = j.cur.Close()
		j.cur = nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.buf) > 0 {
		return fmt.Errorf("close journal: %d bytes not written: %s", len(j.buf), j.st.LastSyncErr)
	}
	return err
}
