package store

import "time"

// Row is one message ready to store. The collector's dissector builds it;
// the store batches it into Table.
//
// Table is chosen by the collector's own mapping (never from input):
// hep_proto_<type>_<class> with class call, registration or default.
// HepHeader, ProtocolHeader and Payload are JSON documents; Raw is the
// original payload. Write copies what it keeps, so the caller may reuse
// every buffer of the Row once Write returns.
type Row struct {
	Table          string
	CreateDate     time.Time // the packet's capture time, UTC, microsecond precision
	GID            uint32    // the HEP capture node id (chunk 0x0c)
	HepHeader      []byte    // JSON: the HEP envelope
	ProtocolHeader []byte    // JSON: the searchable summary fields of the payload protocol
	Payload        []byte    // JSON: the full dissection (or {"error":...} for malformed input)
	Raw            []byte    // the payload as received
	// Mark, when not 0, is the row's number in Config.MarkStream (the
	// collector's journal record number); rows of a table must be written
	// in increasing Mark order. Batches carry the range they hold
	// (backend.Mark) so that a restarted collector can tell what is
	// stored ([Store.Marks]).
	Mark uint64
}
