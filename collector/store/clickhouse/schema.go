package clickhouse

import (
	"fmt"
	"strings"

	"github.com/xhep/xhep/collector/store/backend"
)

// col is one column of a table.
type col struct {
	name, typ string
}

// Columns of every table, in insert order. ts is the capture time in
// microseconds (ClickHouse 18.16 has no DateTime64: create_date is the
// same time in whole seconds, for the daily partitions and pruning); id
// is unique per row ((batch id << 20) + row, in write order within a
// process); batch and bpart are the batch key that makes writes exactly
// once (see writer.go); mark_* are the batch's journal mark
// (backend.Marker, see marks.go): the same in every row of a marked
// batch, zero otherwise (a constant column per part: next to no bytes).
var commonCols = []col{
	{"ts", "Int64"},
	{"create_date", "DateTime"},
	{"id", "UInt64"},
	{"batch", "UInt64"},
	{"bpart", "UInt32"},
	{"mark_stream", "UInt64"},
	{"mark_lo", "UInt64"},
	{"mark_hi", "UInt64"},
	{"mark_rows", "UInt32"},
	{"gid", "UInt32"},
	{"proto", "UInt8"},
	{"src_ip", "String"},
	{"dst_ip", "String"},
	{"src_port", "UInt16"},
	{"dst_port", "UInt16"},
	{"correlation_id", "String"},
}

// SIP tables: everything the API searches, typed.
var sipCols = []col{
	{"callid", "String"},
	{"callid_aleg", "String"},
	{"method", "String"},
	{"status", "UInt16"},
	{"cseq_method", "String"},
	{"ruri_user", "String"},
	{"ruri_domain", "String"},
	{"from_user", "String"},
	{"from_domain", "String"},
	{"to_user", "String"},
	{"to_domain", "String"},
	{"user_agent", "String"},
}

// Other tables: the DNS question (empty elsewhere; an empty column costs
// next to nothing compressed).
var otherCols = []col{
	{"qname", "String"},
	{"qtype", "UInt16"},
	{"qr", "UInt8"},
	{"rcode", "UInt16"},
}

// The documents, as the MySQL backend stores them (server-side zstd).
var docCols = []col{
	{"hep_header", "String"},
	{"protocol_header", "String"},
	{"payload", "String"},
	{"raw", "String"},
}

// columns returns the columns of table in insert order.
func columns(table string) []col {
	out := append([]col(nil), commonCols...)
	if backend.IsSIP(table) {
		out = append(out, sipCols...)
	} else {
		out = append(out, otherCols...)
	}
	return append(out, docCols...)
}

// orderBy is the table's sort key: a Call-ID lookup or flow reads a few
// granules of the SIP tables, a correlation id lookup (RTCP, logs) of the
// others.
func orderBy(table string) string {
	if backend.IsSIP(table) {
		return "callid, ts"
	}
	return "correlation_id, ts"
}

// Names: in a cluster the data lives in <table>_local on every shard and
// <table> is a Distributed table over them; single node, <table> is the
// data. <table>_users (SIP tables) is the user index: one row per user
// name of a message (from, to, request-URI), ordered by (user, ts), filled
// by the materialized view <table>_users_mv.
func (b *Backend) dataTable(t string) string {
	if b.cfg.Cluster != "" {
		return t + "_local"
	}
	return t
}

func usersTable(t string) string { return t + "_users" }

func (b *Backend) q(name string) string { return "`" + b.db + "`.`" + name + "`" }

// engine is the ENGINE clause of data table name (local in a cluster):
// MergeTree, or with replicas ReplicatedMergeTree in the old-style
// arguments both 18.16 and current servers take, its ZooKeeper path
// from the servers' {shard} macro and the database and table names, the
// replica's name from {replica}.
func (b *Backend) engine(name, order string) string {
	e := "MergeTree()"
	if b.replicated.Load() {
		e = fmt.Sprintf("ReplicatedMergeTree('/clickhouse/tables/{shard}/%s/%s', '{replica}')", b.db, name)
	}
	return "ENGINE = " + e + " PARTITION BY toYYYYMMDD(create_date) ORDER BY (" + order + ")"
}

// createSQL is the DDL of a data table (local in a cluster). A SIP table
// has its search header columns from the start (a replica made later must
// have the columns the others have, in their order).
func (b *Backend) createSQL(table string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "CREATE TABLE IF NOT EXISTS %s (", b.q(b.dataTable(table)))
	for i, c := range columns(table) {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(c.name + " " + c.typ)
	}
	if backend.IsSIP(table) {
		for _, h := range b.hdrs {
			sb.WriteString(", " + searchColDef(h.Column))
		}
	}
	sb.WriteString(") " + b.engine(b.dataTable(table), orderBy(table)))
	return sb.String()
}

// usersSQL is the user index table and its materialized view; with
// replicas the index rows carry their batch key and the writer inserts
// them itself, no view (see Writer.writeIndex).
func (b *Backend) usersSQL(table string) []string {
	data, users := b.dataTable(table), b.dataTable(usersTable(table))
	if b.replicated.Load() {
		return []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (user String, role UInt8, ts Int64, create_date DateTime, callid String, batch UInt64, bpart UInt32) %s",
			b.q(users), b.engine(users, "user, ts"))}
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (user String, role UInt8, ts Int64, create_date DateTime, callid String) %s",
			b.q(users), b.engine(users, "user, ts")),
		fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s TO %s AS SELECT tupleElement(u, 1) AS user, tupleElement(u, 2) AS role, ts, create_date, callid"+
			" FROM %s ARRAY JOIN [(from_user, toUInt8(1)), (to_user, toUInt8(2)), (ruri_user, toUInt8(3))] AS u WHERE tupleElement(u, 1) != ''",
			b.q(users+"_mv"), b.q(users), b.q(data)),
	}
}

// distributedSQL is the Distributed table over the shards' local tables
// (cluster only). It has no sharding key: the collector writes the
// shards' local tables itself (sharded by the A-leg Call-ID, see
// shardOf), so that a shard that is down makes the batch fail and spill
// instead of queueing in a Distributed table's directory.
func (b *Backend) distributedSQL(local, name string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s ENGINE = Distributed(`%s`, `%s`, `%s`)",
		b.q(name), b.q(local), b.cfg.Cluster, b.db, local)
}

// insertSQL names the columns (clickhouse-go v2 needs that against 18.16).
func insertSQL(db, table string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "INSERT INTO `%s`.`%s` (", db, table)
	for i, c := range columns(strings.TrimSuffix(table, "_local")) {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(c.name)
	}
	sb.WriteString(")")
	return sb.String()
}

// validDatabase: letters, digits and _ only, 1..64 long.
func validDatabase(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("database name %q: length must be 1..64", name)
	}
	for _, c := range name {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("database name %q: only letters, digits and _ are allowed", name)
		}
	}
	return nil
}

// validCluster: the same rule for a cluster name (it goes into DDL).
func validCluster(name string) error {
	if name == "" {
		return nil
	}
	if err := validDatabase(name); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// searchColSQL adds a search header's column to a table: MATERIALIZED
// from protocol_header (the key the dissector writes), so inserts need
// not name it and rows stored before it was added read it from their
// documents.
func searchColSQL(table, column string) string {
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", table, searchColDef(column))
}

func searchColDef(column string) string {
	return fmt.Sprintf("%s String MATERIALIZED visitParamExtractString(protocol_header, '%s')", column, column)
}
