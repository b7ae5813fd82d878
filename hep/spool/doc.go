// Package spool is a bounded on-disk FIFO of byte records, kept in
// zstd-compressed segment files. The agent's senders spool encoded HEP
// messages into it while no collector answers, and the collector spills
// rows into it while the database is down.
//
// Records are appended to an open segment held in memory. The open
// segment is sealed — compressed and written to its own file — when it
// reaches [Config.SegmentBytes], on [Spool.Seal], on [Spool.Close], and by
// [Spool.Oldest] once it is older than [Config.MaxAge]. Readers see sealed
// segments only, oldest first, and [Spool.Remove] one once its records are
// delivered. A restart resumes the sealed segments in order.
//
// Durability: a sealed segment is written to a temporary file, synced and
// renamed into place, so after a crash every segment file is either whole
// or absent. Records in the open segment (at most SegmentBytes, at most
// about MaxAge old when a reader polls Oldest) are lost in a crash; a clean
// Close seals them. A segment that fails its checksum, or a temporary file
// left by a crash, is deleted and counted in [Stats].Corrupt.
//
// Segment file (integers little-endian):
//
//	0   4  magic "XSP1"
//	4   1  flags: bit 0 set = data is one zstd frame, clear = stored raw
//	5   3  zero
//	8   4  number of records
//	12  4  raw length: bytes of the record stream
//	16  4  data length: bytes after this header
//	20  4  CRC-32C of bytes 0..19 followed by the data
//	24  .. data: the record stream, zstd-compressed or raw
//
// Record stream: for each record, its length as uint32 little-endian, then
// its bytes.
package spool
