package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// A batch is the rows of one table handed to a writer together, written
// in one transaction. Its buf is the batch record below, which is also the
// spill record, so spilling a batch copies nothing.
//
// Batch record (little endian):
//
//	off  size  field
//	0    1     version (1)
//	1    8     batch id (random per process start, then +1 per batch)
//	9    1     n = length of the table name
//	10   n     table name (hep_proto_<type>_<class>)
//	10+n 4     row count
//	then row count rows:
//	     8     create_date, microseconds since 1970-01-01 UTC (int64)
//	     4     gid
//	     4+L   hep_header: length L (uint32), then L bytes of JSON
//	     4+L   protocol_header: the same
//	     4+L   payload: the same
//	     4+L   raw: the same, any bytes
type batch struct {
	t    *table
	id   uint64
	rows int
	buf  []byte

	first     time.Time // when the first row was added (monotonic)
	seq       uint64    // hand-off order, for Flush
	fromSpill bool      // read back from the spill: the spill still holds it
	tried     bool      // written at least once (the attempt may have committed)
	onDone    func()    // called once when stored, dropped or spilled
	lo, hi    uint64    // Row.Mark range of the rows (0: none); not in the record
}

const batchVersion = 1

// Errors of decodeBatch.
var (
	ErrBadRecord = backend.ErrBadRecord
)

// maxField is the largest field a row may carry: MEDIUMBLOB's limit.
const maxField = 1<<24 - 1

// reset starts an empty record for table t with id.
func (b *batch) reset(t *table, id uint64) {
	b.t, b.id, b.rows = t, id, 0
	b.fromSpill, b.onDone, b.seq, b.tried = false, nil, 0, false
	b.lo, b.hi = 0, 0
	b.buf = append(b.buf[:0], batchVersion)
	b.buf = binary.LittleEndian.AppendUint64(b.buf, id)
	b.buf = append(b.buf, byte(len(t.name)))
	b.buf = append(b.buf, t.name...)
	b.buf = binary.LittleEndian.AppendUint32(b.buf, 0)
}

// countOff is where the row count sits in the record.
func (b *batch) countOff() int { return 10 + len(b.t.name) }

// add appends r; the caller checked the field sizes.
func (b *batch) add(r *Row, micros int64) {
	b.buf = binary.LittleEndian.AppendUint64(b.buf, uint64(micros))
	b.buf = binary.LittleEndian.AppendUint32(b.buf, r.GID)
	for _, f := range [4][]byte{r.HepHeader, r.ProtocolHeader, r.Payload, r.Raw} {
		b.buf = binary.LittleEndian.AppendUint32(b.buf, uint32(len(f)))
		b.buf = append(b.buf, f...)
	}
	b.rows++
	binary.LittleEndian.PutUint32(b.buf[b.countOff():], uint32(b.rows))
	if r.Mark != 0 {
		if b.lo == 0 {
			b.lo = r.Mark
		}
		b.hi = r.Mark
	}
}

// rowView is one decoded row; its slices alias the record.
type rowView = backend.RowView

// recordHeader is the decoded head of a batch record.
type recordHeader struct {
	id    uint64
	table string
	rows  int
	body  []byte // the rows
}

// decodeHeader reads the head of a batch record. The table name is
// validated like a Row's.
func decodeHeader(rec []byte) (recordHeader, error) {
	var h recordHeader
	if len(rec) < 10 {
		return h, fmt.Errorf("%w: %d bytes, want at least 10", ErrBadRecord, len(rec))
	}
	if rec[0] != batchVersion {
		return h, fmt.Errorf("%w: version %d", ErrBadRecord, rec[0])
	}
	h.id = binary.LittleEndian.Uint64(rec[1:9])
	n := int(rec[9])
	if len(rec) < 10+n+4 {
		return h, fmt.Errorf("%w: truncated header", ErrBadRecord)
	}
	h.table = string(rec[10 : 10+n])
	if !validTable(h.table) {
		return h, fmt.Errorf("%w: table %q", ErrBadRecord, h.table)
	}
	h.rows = int(binary.LittleEndian.Uint32(rec[10+n:]))
	h.body = rec[10+n+4:]
	return h, nil
}

// nextRow decodes the row at the start of body and returns the rest.
func nextRow(body []byte, v *rowView) ([]byte, error) { return backend.NextRow(body, v) }

// checkRecord decodes a whole record, so that a bad one is rejected before
// any of it is written.
func checkRecord(rec []byte) (recordHeader, error) {
	h, err := decodeHeader(rec)
	if err != nil {
		return h, err
	}
	body := h.body
	var v rowView
	for i := 0; i < h.rows; i++ {
		if body, err = nextRow(body, &v); err != nil {
			return h, fmt.Errorf("row %d: %w", i, err)
		}
	}
	if len(body) != 0 {
		return h, fmt.Errorf("%w: %d bytes after %d rows", ErrBadRecord, len(body), h.rows)
	}
	return h, nil
}

// EncodeRows returns rows in the record's row layout: the Body of a
// backend.Batch (for backends' tests). Each row's CreateDate is clamped
// as Write clamps it.
func EncodeRows(rows []Row) []byte {
	t := &table{name: proto.Table(hep.ProtoSIP, proto.Call)} // any valid name: only the rows are returned
	b := &batch{}
	b.reset(t, 0)
	for i := range rows {
		b.add(&rows[i], clampMicros(rows[i].CreateDate))
	}
	return b.buf[b.countOff()+4:]
}
