// Package store writes collector rows into a database: batching, the
// memory queue, the on-disk spill used while the database is away, the
// drain, the up/down prober, exactly-once batches and the repair of
// refused batches are here, backend-neutral; the database itself is a
// [backend.Backend] (package collector/store/backend describes the
// interface): MySQL 8 / MariaDB 10.11 in package collector/store/mysql
// (the default, built from Config.DSN) — its schema, partitions and
// figures are what this doc describes below.
//
// [Open] connects (or keeps retrying in the background when the database
// does not answer), creates the database and the standard tables, and
// starts the writers and the partition manager. [Store.Write] copies a
// [Row] into its table's batch and never blocks in steady state;
// [Store.Flush] waits until everything written is committed (or spilled
// while the database is down); [Store.Close] drains. Table names come from
// hep/proto's registry (proto.Table, the one place they are built; the
// standard tables are its Standard entries'); Write accepts only names matching
// ^hep_proto_[0-9]{1,3}_(call|registration|default)$ ([ErrInvalidTable]).
//
// # Tables
//
// One table per HEP protocol type and class, named hep_proto_<type>_<class>:
// hep_proto_1_call, hep_proto_1_registration, hep_proto_1_default,
// hep_proto_5_default (RTCP), hep_proto_53_default (DNS),
// hep_proto_100_default (logs), hep_proto_34_default (RTP quality
// reports), hep_proto_54_default (ISUP) — the standard tables of
// hep/proto's registry, created at Open — and hep_proto_<N>_default for
// any other type seen (created on its first row). Which tables have the
// SIP columns is the type's schema in hep/proto (backend.IsSIP reads it).
// Every table has
//
//	id              BIGINT UNSIGNED AUTO_INCREMENT
//	gid             INT UNSIGNED      -- HEP capture node id
//	create_date     DATETIME(6)       -- capture time, UTC
//	hep_header      JSON
//	protocol_header JSON
//	payload         JSON
//	raw             MEDIUMBLOB
//	PRIMARY KEY (id, create_date)
//	PARTITION BY RANGE COLUMNS(create_date):
//	  p_old     VALUES LESS THAN (the day the table was created)
//	  pYYYYMMDD VALUES LESS THAN (the next day), one a day, PartitionsAhead days ahead
//	  pmax      VALUES LESS THAN (MAXVALUE)
//
// plus VIRTUAL generated columns (listed under "JSON contract" below), the
// searched ones with an index (column, create_date). Strings are
// JSON_VALUE(doc,'$.key') cut with LEFT to the column's VARCHAR size;
// integers are BIGINT, CAST only when the value is all decimal digits (CONV
// gives it back unchanged) and at most 18 long, else NULL. So no document
// can make an INSERT fail in strict mode. A missing key, a JSON null, an
// object or an array gives NULL. The SQL is meant for MariaDB 10.11 and
// MySQL 8.0.21+ (JSON_VALUE): MariaDB's JSON is LONGTEXT with a JSON_VALID
// check, MySQL's is binary JSON; both index VIRTUAL columns of partitioned
// InnoDB tables. Tested here on MariaDB only.
//
// (col, create_date) rather than (col): an InnoDB secondary index holds the
// primary key (id, create_date) anyway, so both are the same size and cost
// the same to insert, and (col, create_date) also serves the time range
// every API query names.
//
// Why these columns, measured on MariaDB 10.11 (µs of server CPU per SIP
// row of about 2 KB, LOAD DATA, 2000-row batches; see "Performance"):
// an unindexed VIRTUAL column costs nothing on insert (it is computed only
// when read), an indexed one costs its expression plus a B-tree insert.
// JSON_UNQUOTE(JSON_EXTRACT()) reads the whole document every time (about
// 4 µs for a 900-byte protocol_header, 2 µs for hep_header; the old
// integer expression, three extractions, 11.5 µs); JSON_VALUE stops at the
// key (0.5 to 2.5 µs for keys in the first half, as much as JSON_EXTRACT
// for the last key or a missing one). So keys read by indexed columns
// should come early in protocol_header.
//
// The JSON_VALID check MariaDB attaches to a JSON column parses the
// document on insert: about 3 µs for protocol_header, 2.5 µs for a SIP
// payload and 2 µs for hep_header. It is kept on all three: it is a few
// per cent of a row's cost, it is what makes a bad document a refused row
// that the writer repairs (see below) instead of a stored one that every
// JSON function then fails on, and on MySQL 8 the JSON type validates
// anyway.
//
// p_old and pmax catch any capture time (1970, 2092; a zero time is clamped
// to 1000-01-01) so an insert never fails for its date. When the store was
// away for days, the first partition added covers the gap (rows of a missing
// day go to the next existing partition). A query on create_date prunes to
// the day partitions it spans (EXPLAIN PARTITIONS shows it; see the tests).
//
// # Partition manager
//
// At start, whenever the database comes back, and hourly: REORGANIZE
// PARTITION pmax INTO (new days..., pmax) up to PartitionsAhead days after
// today (UTC); DROP PARTITION of day partitions whose rows are all older
// than their class's retention (call, registration, default by the table
// name's suffix); TRUNCATE PARTITION p_old once its bound is past retention,
// before that DELETE (in chunks) of its whole days past retention;
// then, with MaxDBSize set, ANALYZE TABLE and drop whole days, oldest first
// across all tables, until data+index size is under it (never today's or
// later partitions, never pmax). Every action is logged and counted.
//
// # Writers and delivery
//
// Rows go into a per-table batch (the record format is written out in
// batch.go), handed to one of Conns writers when it holds BatchRows rows or
// BatchBytes bytes or is FlushInterval old. A writer stores a batch in one
// transaction: INSERT of the batch id into xhep_batch_log, then the rows,
// then COMMIT. A retried batch whose earlier attempt did commit (the ack was
// lost) hits the batch log's primary key and is skipped, so a batch is
// stored exactly once even across lost acks, spill replays and restarts
// (the log keeps ids 7 days; a spill older than that could be replayed
// twice). A batch the server refuses for its data is repaired: rows with
// invalid UTF-8 or JSON get {"error":"invalid JSON document"}, a row refused
// alone is stored with every JSON column set to {"error": reason} and its
// raw bytes kept; only a row refused even then is dropped (counted,
// reason "rejected").
//
// Batches are written with cached multi-row prepared INSERTs of
// power-of-two sizes up to 1024 rows ([MethodInsert], the default): the
// binary protocol sends every field length-prefixed, so the server copies
// it instead of parsing it. LOAD DATA LOCAL INFILE (through a
// go-sql-driver reader handler, no file) is [MethodLoad]; it turns refused
// rows into warnings, so that writer checks @@warning_count and the row
// count and treats any warning as a refusal.
//
// # Performance
//
// Both methods are bound by the server, so MariaDB CPU per row is the
// figure that compares. Measured in isolation on this 2-core machine
// (MariaDB 10.11, 100,000 real SIP rows of the API benchmark, about 2 KB
// each, one session, mariadbd CPU from /proc):
//
//	table shape                                  LOAD DATA   prepared INSERT   (µs/row)
//	no generated column, no secondary index      40          20
//	JSON columns + 10 indexed VIRTUAL columns    126         83
//	the same without MariaDB's JSON_VALID check  111         76
//	10 plain (collector-written) indexed columns -           53-59
//	the same 10 VIRTUAL indexes, payload without
//	the header list (about 1.4 KB a row)         -           52-70
//
// LOAD DATA's cost is its text parser (a 220-byte row costs 10 µs, a 2 KB
// row 40 µs, with no index); a secondary index costs about 3 to 5 µs per
// row (B-tree insert plus, for a VIRTUAL column, its JSON_VALUE). So the
// server's CPU per row is set by the number of indexes and the row's
// bytes: the SIP payload no longer repeats the header list (raw has it)
// and status is not indexed (see schema.go). At about 50 µs per row, two
// cores store some 35,000 SIP rows/s at best, less the collector's share.
//
// When the database is down, writers spill their batches (a batch record is
// a spill record) to SpillDir through package hep/spool, and new batches go
// straight there while the spill is not empty, so rows are written back in
// order. When memory (QueueRows) is full, batches spill too. Only when both
// bounds are hit does Write return [ErrDropped]. Close waits DrainTimeout for
// the database, then spills what is left; the next Open writes the spill
// first. What remains possible: with no SpillDir, rows queued while the
// database is away are lost at Close (counted); a row can be stored twice
// only if a spill segment older than the batch log's 7 days is replayed.
//
// # Metrics
//
// xhep_store_rows_written_total{table}, xhep_store_batch_rows,
// xhep_store_batch_seconds, xhep_store_queue_rows, xhep_store_spill_records,
// xhep_store_spill_bytes, xhep_store_spilled_rows_total,
// xhep_store_dropped_rows_total{reason}, xhep_store_write_errors_total{kind},
// xhep_store_rows_repaired_total, xhep_store_duplicate_batches_total,
// xhep_store_partition_actions_total{action}, xhep_store_db_up.
//
// # JSON contract
//
// The dissector (package collector/dissect) writes these keys; the
// generated columns and the HTTP API read them. Keys not listed may be added
// freely; these must not change meaning.
//
// hep_header (every table), HOMER 7 names:
//
//	protocolFamily int (2 or 10), protocol int (17, 6, 132), srcIp, dstIp string,
//	srcPort, dstPort int, timeSeconds, timeUseconds int, payloadType int,
//	captureId int, captureName string (node name), correlation_id string,
//	vlan int, mos int, transaction_type string, hepVersion int
//
// Generated columns on every table: src_ip, dst_ip, src_port, dst_port,
// correlation_id (from hep_header); src_ip, dst_ip and correlation_id are
// indexed with create_date.
//
// protocol_header for SIP (HOMER 7 data_header names):
//
//	callid, callid_aleg, method (request method, or the status code as a
//	string for responses, as HOMER does), status int (0 for requests),
//	reason, cseq ("1 INVITE"), cseq_method, cseq_num int,
//	ruri_user, ruri_domain, from_user, from_domain, from_tag,
//	to_user, to_domain, to_tag, pid_user, auth_user, contact_user,
//	via_1, via_1_branch, via_count int, user_agent, content_type,
//	content_length int, expires int, transaction ("call", "registration", "default")
//
// Generated columns on SIP tables: callid, callid_aleg, method, status,
// ruri_user, ruri_domain, from_user, from_domain, to_user, to_domain,
// user_agent. Indexed (with create_date): callid, callid_aleg, method,
// ruri_user, from_user, to_user (a response's method is its code, so the
// method index serves a search by status). The domains and user_agent are
// not indexed: a search on them scans the day partitions of its time
// range.
//
// protocol_header for other types holds what can be searched in them
// (RTCP: ssrc, type; DNS: id, qname, qtype, rcode; logs: empty object).
//
// payload is the rest of the dissection: for SIP the start line, body
// length and SDP summary (the headers are in raw, not repeated),
// for RTCP the report JSON, for DNS the message JSON, for logs
// {"message": text}. A malformed payload is stored with {"error": reason}
// and the raw bytes, never dropped.
package store
