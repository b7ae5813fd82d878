// Package journal is the collector's durable receive log: every HEP
// message the collector accepts is appended here before it is dissected
// and stored, and an agent's message is acknowledged only once its record
// is fsynced. After kill -9, an OOM kill or a power loss, [Open] finds
// what was received and not yet known to be committed to the database and
// [Journal.Replay] hands it back, in order, to be stored.
//
// Appends go to a memory buffer; a syncer writes and fsyncs the buffer
// every [Config.SyncInterval] (default 10 ms: the bounded window) or once
// [Config.SyncBytes] wait, so one fsync covers thousands of messages.
// [Journal.Durable] gives, per producer stream, the highest sequence that
// is fsynced (what the collector may acknowledge); [Journal.Changed] fires
// after each sync. The collector calls [Journal.Checkpoint] with the
// highest record number it knows committed downstream (a store Flush); the
// checkpoint file keeps that number and the streams' high-water marks, and
// segments wholly below it are deleted. [Config.MaxBytes] bounds the disk
// use: Append blocks beyond it, and so does the collector's reading of
// TCP/TLS (backpressure).
//
// Exactly once: a resend from an agent at or below its stream's mark
// ([Journal.Seen]) is a duplicate and is dropped before the journal; the
// marks survive restarts (kept in the checkpoint for streams whose
// segments are gone). What remains: records committed after the last
// checkpoint and before a crash are replayed and stored again, at most
// one checkpoint interval of traffic; this goes away once the database
// keeps the high-water marks with each batch (see the collector package).
//
// Crash bounds: a record is whole or absent after a crash (length and
// CRC-32C per record; a torn tail of the last segment is cut at Open and
// counted in [Stats].TornBytes). A power loss can take what was appended in
// the last sync window, none of it acknowledged.
//
// Record format: see appendRecord in journal.go; checkpoint format: see
// readCheckpoint.
package journal
