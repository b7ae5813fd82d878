package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/xhep/xhep/collector/store/backend"
)

// Keys read from the documents into typed columns.
var (
	hepKeys = []string{"srcIp", "dstIp", "srcPort", "dstPort", "protocol", "correlation_id"}
	sipKeys = []string{"callid", "callid_aleg", "method", "status", "cseq_method",
		"ruri_user", "ruri_domain", "from_user", "from_domain", "to_user", "to_domain", "user_agent"}
	dnsKeys = []string{"qname", "qtype", "qr", "rcode"}
)

// String column sizes: the MySQL backend's VARCHAR sizes, so that both
// answer the same (characters, as MySQL's LEFT).
var (
	hepSizes = []int{64, 64, 0, 0, 0, 255}
	sipSizes = []int{255, 255, 32, 0, 255, 128, 128, 128, 128, 128, 128, 255}
)

// blockRows is how many rows go into one native data block: a batch is
// sent as one INSERT of blocks of this many rows (Flush between them), so
// clickhouse-go's column buffers grow once to a block's size and are then
// reused (Reset keeps their capacity) instead of growing, copying and
// zeroing to the whole batch's size (collector CPU per row 13 → 7.5 µs;
// the server's CPU per row measured unchanged). An INSERT that stopped
// after some blocks is found and deleted on retry like any other partial
// batch (see the package doc).
var blockRows = 8192

// Writer is one writer goroutine's state.
type Writer struct {
	b          *Backend
	hh, sip    *fields
	dns        *fields
	shardOf    []int // per row of the batch
	perShard   []int
	minS, maxS int64

	// Values handed to AppendRow by pointer (no allocation per value).
	i64       int64
	sec       int64
	u64       uint64
	mark      [3]uint64
	u32       uint32
	u16       uint16
	u8        uint8
	bs        []byte
	cols      []driver.BatchColumn
	insertSQL map[string]string
}

// NewWriter returns a writer.
func (b *Backend) NewWriter() (backend.Writer, error) {
	return &Writer{b: b, hh: newFields(hepKeys...), sip: newFields(sipKeys...), dns: newFields(dnsKeys...),
		insertSQL: map[string]string{}}, nil
}

// Close does nothing: the connections are the backend's.
func (w *Writer) Close() error { return nil }

// WriteBatch writes b, split by shard, exactly once (see the package doc).
func (w *Writer) WriteBatch(ctx context.Context, b *backend.Batch) error {
	shards := w.b.currentShards()
	if len(shards) == 0 {
		return errors.New("clickhouse: not connected")
	}
	if err := w.split(b, len(shards)); err != nil {
		return err
	}
	var errs []error
	stored := 0
	for i, s := range shards {
		if w.perShard[i] == 0 {
			continue
		}
		err := w.writeShard(ctx, b, s, i)
		if errors.Is(err, backend.ErrStored) {
			stored++
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("shard %d %s: %w", s.num, s.addr, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if stored > 0 && stored == w.nonEmpty() {
		return backend.ErrStored
	}
	return nil
}

func (w *Writer) nonEmpty() int {
	n := 0
	for _, c := range w.perShard {
		if c > 0 {
			n++
		}
	}
	return n
}

// split assigns every row its shard and finds the batch's time range.
func (w *Writer) split(b *backend.Batch, n int) error {
	w.shardOf = w.shardOf[:0]
	w.perShard = append(w.perShard[:0], make([]int, n)...)
	w.minS, w.maxS = math.MaxInt64, math.MinInt64
	body := b.Body
	var v backend.RowView
	var err error
	sip := backend.IsSIP(b.Table)
	for range b.Rows {
		if body, err = backend.NextRow(body, &v); err != nil {
			return err
		}
		s := seconds(v.Micros)
		w.minS, w.maxS = min(w.minS, s), max(w.maxS, s)
		sh := 0
		if n > 1 {
			var key []byte
			if sip {
				w.sip.parse(v.ProtoHeader)
				key = w.sip.strN(1, 255) // callid_aleg
				if len(key) == 0 {
					key = w.sip.strN(0, 255)
				}
			} else {
				w.hh.parse(v.HepHeader)
				key = w.hh.strN(5, 255)
				if len(key) == 0 {
					key = v.Raw
				}
			}
			sh = shardOf(key, n)
		}
		w.shardOf = append(w.shardOf, sh)
		w.perShard[sh]++
	}
	return nil
}

// shardOf is FNV-1a of the A-leg Call-ID, modulo the shard count.
func shardOf(key []byte, n int) int {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return int(h % uint64(n))
}

// seconds is create_date: whole seconds clamped to DateTime's range.
func seconds(micros int64) int64 {
	s := micros / 1e6
	if micros < 0 && micros%1e6 != 0 {
		s--
	}
	return min(max(s, 0), math.MaxUint32)
}

// writeShard writes shard i's rows of b to its data table: on the
// shard's current replica, and when that fails with a connection or
// server error, on the next (as a retry: the failed attempt may have
// stored some or all of them), which writes then stay on.
func (w *Writer) writeShard(ctx context.Context, b *backend.Batch, s *shard, i int) error {
	retry := b.Retry
	var err error
	reps := s.order()
	for k, r := range reps {
		err = w.writeReplica(ctx, b, r, i, retry)
		if err == nil || errors.Is(err, backend.ErrStored) || k == len(reps)-1 || ctx.Err() != nil || w.b.Classify(err) != backend.KindConn {
			return err
		}
		w.b.env.Logger.Warn("replica failing; writing to the shard's next replica", "table", b.Table, "shard", s.num, "replica", r.addr, "err", err)
		s.failover(r)
		retry = true
	}
	return err
}

// noDedup is the insert setting that writes blocks a replicated table
// would drop as seen before (a partial batch deleted and written again).
var noDedup = ch.WithSettings(ch.Settings{"insert_deduplicate": 0})

// writeReplica writes shard i's rows of b to replica s: its data table,
// and with replicas its user index (see writeIndex).
func (w *Writer) writeReplica(ctx context.Context, b *backend.Batch, s *replica, i int, retry bool) error {
	err := w.writeData(ctx, b, s, i, retry)
	if (err == nil || errors.Is(err, backend.ErrStored)) && w.b.replicated.Load() && backend.IsSIP(b.Table) {
		if ierr := w.writeIndex(ctx, b, s, i, retry); ierr != nil {
			return ierr
		}
	}
	return err
}

// writeIndex writes the user index rows of shard i's rows of b (from,
// to and request-URI user, those not empty) to replica s, exactly once
// like the data: keyed by the batch key, counted on a retry. With
// replicas the writer does this, not a materialized view: a server
// writes an INSERT's data part before its views' parts and feeds no view
// a block it deduplicated, and inserts into views are not deduplicated;
// so a replica killed between the two, or a retry whose data ZooKeeper
// drops, left rows without their index (seen: 800-1,200 of 30,000 rows
// unindexed in two of four kill -9 runs with the view).
func (w *Writer) writeIndex(ctx context.Context, b *backend.Batch, s *replica, i int, retry bool) error {
	table := w.b.dataTable(usersTable(b.Table))
	if retry {
		want, err := w.indexRows(b, i)
		if err != nil {
			return err
		}
		n, err := w.countStored(ctx, s, table, b)
		if err != nil {
			return err
		}
		switch {
		case n == want:
			return nil
		case n > 0:
			w.b.env.Logger.Warn("partial user index of a batch found; deleting it before writing it again", "table", table, "shard", s.addr, "rows", n, "of", want)
			if err := w.deleteBatch(ctx, s, table, b); err != nil {
				return err
			}
			ctx = ch.Context(ctx, noDedup)
		}
	}
	bat, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (user, role, ts, create_date, callid, batch, bpart)", w.b.q(table)))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer bat.Abort()
	w.cols = w.cols[:0]
	for c := range 7 {
		w.cols = append(w.cols, bat.Column(c))
	}
	var callid []byte
	body := b.Body
	var v backend.RowView
	n, inBlock := 0, 0
	for r := range b.Rows {
		if body, err = backend.NextRow(body, &v); err != nil {
			return err
		}
		if w.shardOf[r] != i {
			continue
		}
		w.sip.parse(v.ProtoHeader)
		callid = w.sip.strN(0, sipSizes[0])
		for role, k := range userKeys {
			w.bs = w.sip.strN(k, sipSizes[k])
			if len(w.bs) == 0 {
				continue
			}
			if err := nextInBlock(bat, &inBlock, table); err != nil {
				return err
			}
			n++
			w.u8, w.i64, w.sec, w.u64, w.u32 = uint8(role+1), v.Micros, seconds(v.Micros), b.ID, b.Part
			c := w.cols
			if err := errors.Join(c[0].AppendRow(&w.bs), c[1].AppendRow(&w.u8), c[2].AppendRow(&w.i64), c[3].AppendRow(&w.sec),
				c[4].AppendRow(&callid), c[5].AppendRow(&w.u64), c[6].AppendRow(&w.u32)); err != nil {
				return fmt.Errorf("append to %s: %w", table, err)
			}
		}
	}
	if n == 0 {
		return nil
	}
	if err := bat.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// nextInBlock counts a row into the INSERT's current block, sending the
// block first when it is full (see blockRows).
func nextInBlock(bat driver.Batch, inBlock *int, table string) error {
	if *inBlock == blockRows {
		if err := bat.Flush(); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		*inBlock = 0
	}
	*inBlock++
	return nil
}

// userKeys are the sipKeys of the user index's roles 1, 2, 3: from, to,
// request-URI user.
var userKeys = [3]int{7, 9, 5}

// indexRows is how many user index rows shard i's rows of b make.
func (w *Writer) indexRows(b *backend.Batch, i int) (uint64, error) {
	body := b.Body
	var v backend.RowView
	var err error
	var n uint64
	for r := range b.Rows {
		if body, err = backend.NextRow(body, &v); err != nil {
			return 0, err
		}
		if w.shardOf[r] != i {
			continue
		}
		w.sip.parse(v.ProtoHeader)
		for _, k := range userKeys {
			if len(w.sip.strN(k, sipSizes[k])) > 0 {
				n++
			}
		}
	}
	return n, nil
}

// writeData writes shard i's rows of b to replica s's data table.
func (w *Writer) writeData(ctx context.Context, b *backend.Batch, s *replica, i int, retry bool) error {
	table := w.b.dataTable(b.Table)
	if retry {
		n, err := w.countStored(ctx, s, table, b)
		if err != nil {
			return err
		}
		switch {
		case n == uint64(w.perShard[i]):
			return backend.ErrStored
		case n > 0:
			w.b.env.Logger.Warn("partial batch found; deleting it before writing it again", "table", table, "shard", s.addr, "rows", n, "of", w.perShard[i])
			if err := w.deleteBatch(ctx, s, table, b); err != nil {
				return err
			}
			if w.b.replicated.Load() {
				// Its blocks' checksums are in ZooKeeper: written again
				// as they were, they would be dropped as duplicates.
				ctx = ch.Context(ctx, noDedup)
			}
		}
	}
	q, ok := w.insertSQL[table]
	if !ok {
		q = insertSQL(w.b.db, table)
		w.insertSQL[table] = q
	}
	bat, err := s.conn.PrepareBatch(ctx, q)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer bat.Abort()
	ncol := len(columns(b.Table))
	w.cols = w.cols[:0]
	for c := range ncol {
		w.cols = append(w.cols, bat.Column(c))
	}
	body := b.Body
	var v backend.RowView
	sip := backend.IsSIP(b.Table)
	inBlock := 0
	for r := range b.Rows {
		if body, err = backend.NextRow(body, &v); err != nil {
			return err
		}
		if w.shardOf[r] != i {
			continue
		}
		if err := nextInBlock(bat, &inBlock, table); err != nil {
			return err
		}
		idx := uint64(r)
		if b.Part > 0 {
			idx = uint64(b.Part - 1)
		}
		if err := w.appendRow(&v, b, idx, sip); err != nil {
			return fmt.Errorf("append to %s: %w", table, err)
		}
	}
	if err := bat.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// appendRow appends one row, column by column in columns() order.
func (w *Writer) appendRow(v *backend.RowView, b *backend.Batch, idx uint64, sip bool) error {
	c := w.cols
	k := 0
	next := func(p any) error {
		err := c[k].AppendRow(p)
		k++
		return err
	}
	w.hh.parse(v.HepHeader)
	w.i64 = v.Micros
	w.sec = seconds(v.Micros)
	w.u64 = b.ID<<20 + idx
	if err := errors.Join(next(&w.i64), next(&w.sec), next(&w.u64)); err != nil {
		return err
	}
	w.u64, w.u32 = b.ID, b.Part
	if err := errors.Join(next(&w.u64), next(&w.u32)); err != nil {
		return err
	}
	// The mark (part 0 only, as backend.Marker says): in every row, so it
	// is stored exactly when the rows are (Marks counts them).
	m := b.Mark
	if b.Part != 0 || m.Stream == 0 {
		m = backend.Mark{}
	}
	w.u32 = 0
	if m.Stream != 0 {
		w.u32 = uint32(b.Rows)
	}
	w.mark = [3]uint64{m.Stream, m.Lo, m.Hi}
	if err := errors.Join(next(&w.mark[0]), next(&w.mark[1]), next(&w.mark[2]), next(&w.u32)); err != nil {
		return err
	}
	w.u32 = v.GID
	w.u8 = uint8(min(w.hh.uint(4), 255))
	if err := errors.Join(next(&w.u32), next(&w.u8)); err != nil {
		return err
	}
	w.bs = w.hh.strN(0, hepSizes[0])
	if err := next(&w.bs); err != nil {
		return err
	}
	w.bs = w.hh.strN(1, hepSizes[1])
	if err := next(&w.bs); err != nil {
		return err
	}
	w.u16 = uint16(min(w.hh.uint(2), math.MaxUint16))
	if err := next(&w.u16); err != nil {
		return err
	}
	w.u16 = uint16(min(w.hh.uint(3), math.MaxUint16))
	if err := next(&w.u16); err != nil {
		return err
	}
	w.bs = w.hh.strN(5, hepSizes[5])
	if err := next(&w.bs); err != nil {
		return err
	}
	if sip {
		w.sip.parse(v.ProtoHeader)
		for j := range sipKeys {
			if sipSizes[j] == 0 { // status
				w.u16 = uint16(min(w.sip.uint(j), math.MaxUint16))
				if err := next(&w.u16); err != nil {
					return err
				}
				continue
			}
			w.bs = w.sip.strN(j, sipSizes[j])
			if err := next(&w.bs); err != nil {
				return err
			}
		}
	} else {
		w.dns.parse(v.ProtoHeader)
		w.bs = w.dns.strN(0, 255)
		if err := next(&w.bs); err != nil {
			return err
		}
		w.u16 = uint16(min(w.dns.uint(1), math.MaxUint16))
		if err := next(&w.u16); err != nil {
			return err
		}
		w.u8 = 0
		if w.dns.isTrue(2) {
			w.u8 = 1
		}
		if err := next(&w.u8); err != nil {
			return err
		}
		w.u16 = uint16(min(w.dns.uint(3), math.MaxUint16))
		if err := next(&w.u16); err != nil {
			return err
		}
	}
	for _, d := range [4][]byte{v.HepHeader, v.ProtoHeader, v.Payload, v.Raw} {
		w.bs = d
		if err := next(&w.bs); err != nil {
			return err
		}
	}
	return nil
}

// countStored counts b's rows already in table (data or user index) on
// replica s.
func (w *Writer) countStored(ctx context.Context, s *replica, table string, b *backend.Batch) (uint64, error) {
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM %s WHERE create_date >= toDateTime(?) AND create_date <= toDateTime(?) AND batch = ? AND bpart = ?", w.b.q(table))
	if err := s.conn.QueryRow(ctx, q, w.minS, w.maxS, b.ID, b.Part).Scan(&n); err != nil {
		return 0, fmt.Errorf("count batch in %s: %w", table, err)
	}
	return n, nil
}

// deleteBatch removes a partial batch (data or user index) and waits
// until it is gone.
func (w *Writer) deleteBatch(ctx context.Context, s *replica, table string, b *backend.Batch) error {
	q := fmt.Sprintf("ALTER TABLE %s DELETE WHERE batch = %d AND bpart = %d", w.b.q(table), b.ID, b.Part)
	if err := s.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("delete partial batch from %s: %w", table, err)
	}
	for {
		n, err := w.countStored(ctx, s, table, b)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("delete partial batch from %s: %w", table, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
