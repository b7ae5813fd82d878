// Package backend is the seam between the backend-neutral store (package
// collector/store: batching, memory queue, spill, drain, the up/down
// prober, exactly-once batches, repair) and a database: MySQL/MariaDB
// (package collector/store/mysql) or ClickHouse.
//
// The store calls a [Backend] like this:
//
//	Start(env)                      once, at store.Open
//	Setup(ctx, tables)              at Open and every second while down;
//	                                nil means up (schema in place)
//	NewWriter()                     once per writer goroutine
//	Writer.WriteBatch(ctx, batch)   from those goroutines, concurrently
//	Classify(err)                   on a WriteBatch error: retry, repair or create
//	EnsureTable(ctx, table)         first row of a new type, or after KindNoTable
//	Ping(ctx)                       after repeated connection errors
//	Maintain(ctx, policy)           at start, when up again, hourly
//	Size(ctx)                       any time (benchmarks, the size limit)
//	Close()                         once, after the writers are gone
//
//	Marks(ctx, stream, above)       optional ([Marker]): at a journal replay
//
// Exactly once: WriteBatch stores all rows of a batch, or none, keyed by
// (Batch.ID, Batch.Part). A second WriteBatch of the same key (a lost
// commit ack, a spill replay after a crash) must store nothing and return
// [ErrStored]. The store relies on this: it retries a batch until it is
// stored, never guessing whether an attempt committed. Part 0 is a whole
// batch; parts 1..n are its rows written one by one by the repair path.
//
// Exactly once across a collector crash (with --journal-dir): a batch may
// carry a [Mark], the range of journal record numbers of its rows. A
// backend that implements [Marker] stores the mark if and only if it
// stores the rows (MySQL: xhep_mark_log in the batch's transaction), and
// returns the stored marks at the next start, so that the journal replay
// skips rows already stored. ClickHouse, without transactions, keeps the
// mark in every row of the batch with the batch's row count: a mark is
// stored when all its rows are, and Marks deletes the rows of a batch cut
// short. A backend without Marker still works; its journal replay may
// store rows committed after the last journal checkpoint (at most about a
// second of traffic) a second time.
package backend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xhep/xhep/hep/proto"
)

// Backend is one database. See the package doc for the call order.
type Backend interface {
	// Name is the backend's short name ("mysql", "clickhouse") for logs.
	Name() string
	// Start hands the backend the store's environment; called once,
	// before any other method.
	Start(env Env) error
	// Setup connects and creates the database, what exactly-once needs
	// (a batch log) and every table named, with partitions ahead. nil
	// means the backend is up.
	Setup(ctx context.Context, tables []string) error
	// EnsureTable creates one table (and its partitions) if missing.
	EnsureTable(ctx context.Context, table string) error
	// NewWriter returns the state of one writer goroutine.
	NewWriter() (Writer, error)
	// Classify sorts an error of Writer.WriteBatch.
	Classify(err error) ErrKind
	// Ping checks the connection.
	Ping(ctx context.Context) error
	// Maintain runs partition upkeep once: partitions ahead, retention by
	// class, the size limit, and the backend's own housekeeping (batch log
	// pruning). Every action is logged and counted through Env.
	Maintain(ctx context.Context, p Policy) error
	// Size is the bytes the store's tables take on disk (data + indexes).
	Size(ctx context.Context) (int64, error)
	// Close releases connections. Idempotent.
	Close() error
}

// Writer is one writer goroutine's state (connections, statements,
// buffers). Its methods are called from that goroutine only.
type Writer interface {
	// WriteBatch stores every row of b exactly once (see the package
	// doc): nil when stored by this call, ErrStored when an earlier call
	// stored it, else an error for Backend.Classify. b and its bytes are
	// only valid during the call.
	WriteBatch(ctx context.Context, b *Batch) error
	Close() error
}

// ErrStored: the batch was stored by an earlier attempt.
var ErrStored = errors.New("batch already stored")

// ErrKind classifies a failed batch write.
type ErrKind int

const (
	// KindConn: connection or server trouble; retry the batch as it is.
	KindConn ErrKind = iota
	// KindData: the server refused the data; repair, then split.
	KindData
	// KindNoTable: table or database missing; create, then retry.
	KindNoTable
)

// Env is what the store gives its backend at Start.
type Env struct {
	Logger *slog.Logger
	// Now is the store's clock (tests move it).
	Now func() time.Time
	// PartitionsAhead is how many daily partitions exist after today,
	// where the backend creates partitions ahead.
	PartitionsAhead int
	// PartitionAction counts one partition action: "create",
	// "drop_retention", "drop_size", "truncate_old", "delete_old", "remove_future".
	PartitionAction func(action string)
}

// Policy is what one Maintain run enforces.
type Policy struct {
	// Retention by class "call", "registration", "default" (all set).
	Retention map[string]time.Duration
	// MaxDBSize in bytes; 0: no limit. Beyond it the oldest days (across
	// tables, never today or later) are dropped.
	MaxDBSize int64
	// MaxFuture: rows dated more than this after now are a sender's bad
	// clock (the collector stores such messages at their receive time, so
	// only older writers or other tools leave them). A backend removes them
	// where they would burden its maintenance (MySQL: the pmax partition,
	// which every daily partition change would copy). 0: keep them.
	MaxFuture time.Duration
}

// Mark is the range of one producer's sequence numbers whose rows of
// this batch's table the batch holds: every row of Batch.Table with a
// sequence in [Lo, Hi] from Stream is in this batch. It is how a
// collector that crashed learns exactly which of its journaled messages
// are stored (see collector/journal): the rows of one table reach the
// store in sequence order, so a batch covers a contiguous range of them.
type Mark struct {
	Stream uint64 // 0: the batch carries no mark
	Lo, Hi uint64
}

// TableMark is a stored Mark with its table.
type TableMark struct {
	Table  string
	Lo, Hi uint64
}

// Marker is implemented by backends that keep marks. WriteBatch of a
// batch with Mark.Stream set (part 0 only) stores (Stream, Table, Lo, Hi)
// atomically with the rows: the mark is stored if and only if the rows
// are. Marks is what was stored for stream with Hi above above; marks
// older than the batch log's retention may be pruned.
type Marker interface {
	Marks(ctx context.Context, stream, above uint64) ([]TableMark, error)
}

// Batch is the rows of one table written together.
type Batch struct {
	Mark  Mark   // see Marker; zero for none
	ID    uint64 // random per process start, then +1 per batch
	Part  uint32 // 0: the whole batch; i: its row i-1 alone (repair)
	Table string // hep_proto_<type>_<class>, valid (ValidTable)
	Rows  int
	// Retry is set when an earlier attempt of (ID, Part) may have been
	// made, by this process or one before it (a retry, a spill replay, a
	// repair part): a backend without transactions checks for it then.
	// Unset, no attempt of this key was ever made.
	Retry bool
	// Body is the rows in the store's record format; read them with
	// NextRow.
	Body []byte
}

// RowView is one decoded row; its slices alias the batch.
type RowView struct {
	Micros                          int64 // create_date, µs since 1970 UTC
	GID                             uint32
	HepHeader, ProtoHeader, Payload []byte // JSON documents
	Raw                             []byte
}

// ErrBadRecord: a batch or spill record does not decode.
var ErrBadRecord = errors.New("bad spill record")

// NextRow decodes the row at the start of body into v and returns the
// rest. Row layout (little endian): 8 bytes create_date µs (int64), 4
// bytes gid, then hep_header, protocol_header, payload and raw, each a
// 4-byte length (uint32) and its bytes.
func NextRow(body []byte, v *RowView) ([]byte, error) {
	if len(body) < 12 {
		return nil, fmt.Errorf("%w: truncated row", ErrBadRecord)
	}
	v.Micros = int64(binary.LittleEndian.Uint64(body))
	v.GID = binary.LittleEndian.Uint32(body[8:])
	body = body[12:]
	for _, f := range [4]*[]byte{&v.HepHeader, &v.ProtoHeader, &v.Payload, &v.Raw} {
		if len(body) < 4 {
			return nil, fmt.Errorf("%w: truncated field length", ErrBadRecord)
		}
		l := binary.LittleEndian.Uint32(body)
		if uint64(l) > uint64(len(body)-4) {
			return nil, fmt.Errorf("%w: field of %d bytes, %d left", ErrBadRecord, l, len(body)-4)
		}
		*f = body[4 : 4+l : 4+l]
		body = body[4+l:]
	}
	return body, nil
}

// Rows is what both database/sql and clickhouse-go return for a query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// ScanTables reads a one-column list of table names and keeps the valid
// ones ([ValidTable]); it closes rows. Each backend lists its tables with
// its own catalogue query and reads the answer with this.
func ScanTables(rows Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if ValidTable(n) {
			out = append(out, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return out, nil
}

// ValidTable reports whether name matches
// ^hep_proto_[0-9]{1,3}_(call|registration|default)$: the only table
// names a backend is ever given (hep/proto builds and parses them).
func ValidTable(name string) bool {
	_, _, ok := proto.ParseTable(name)
	return ok
}

// ClassOf returns the retention class of a valid table name: "call",
// "registration" or "default".
func ClassOf(table string) string {
	_, c, _ := proto.ParseTable(table)
	return c.String()
}

// IsSIP reports whether table has the SIP columns (its HEP type's
// descriptor has proto.SchemaSIP: hep_proto_1_*).
func IsSIP(table string) bool { return proto.SchemaOf(table) == proto.SchemaSIP }

// UTCDay truncates t to its UTC midnight.
func UTCDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
