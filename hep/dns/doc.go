// Package dns decodes DNS messages (RFC 1035) for HEP type 53 and converts
// them to the DNS JSON the collector stores, following heplify's key names
// and adding the sections and record data it lacks (A, AAAA, CNAME, NS,
// PTR, MX, SRV, NAPTR, TXT, SOA; anything else as hex).
//
// [Msg.DecodeFromBytes] decodes a message (without the TCP length prefix)
// with compression-loop and size protection, without copying RDATA and,
// in steady state, without allocating; [Msg.AppendJSON] writes the JSON
// into a caller's buffer; [Msg.DecodeJSON] validates DNS that arrives as
// JSON and extracts its header and questions.
//
// Ownership: RR.Data aliases the decoded input; names live in a buffer
// the Msg owns; AppendJSON reads the input again to decompress names in
// RDATA, so keep it unchanged until then. Everything is overwritten by the
// next decode. A Msg is not safe for concurrent use.
//
// Errors are exported sentinels ([ErrTruncated], [ErrName], [ErrPointer],
// [ErrJSON]); nothing here panics on any input.
package dns
