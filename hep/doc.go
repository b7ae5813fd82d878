// Package hep encodes and decodes HEP, the Homer Encapsulation Protocol:
// HEP v3 in both directions, HEP v1 and v2 for reading. Payload protocol
// packages live under it and are shared by the agent and the collector:
// [github.com/xhep/xhep/hep/sip], [github.com/xhep/xhep/hep/rtcp] and
// [github.com/xhep/xhep/hep/dns]; [github.com/xhep/xhep/hep/spool] is the
// on-disk queue of encoded messages.
//
// # Decoding
//
// [Message.DecodeFromBytes] resets a [Message] and fills it from one
// datagram, telling the version by the first bytes: 0x01 or 0x02 is HEP v1
// or v2 (Kamailio sipcapture's layout), "HEP3" is v3. It slices into its
// input without copying and does not allocate for an uncompressed message;
// a compressed payload (chunk 0x10, zlib or gzip) is inflated into the
// Message's reused buffer, at most [MaxDecompressed] bytes.
// Errors are [*DecodeError] values wrapping an Err* sentinel; [ErrorReason]
// turns them into metric labels. No input makes the decoder panic.
//
// # Encoding
//
// [Message.AppendTo] always writes v3 into a caller's buffer, without
// allocating. Fixed-size chunks that are not mandatory are written when
// their field is non-zero or when their present bit is set: decoding sets
// it for every chunk that was on the wire, and [Message.Set] sets it by
// hand. [Message.Has] reports it.
//
// # Wire format
//
// HEP v3, all integers big-endian:
//
//	+--------+--------+-------+-------+-----
//	| "HEP3" | length | chunk | chunk | ...
//	+--------+--------+-------+-------+-----
//	   4 B      2 B: total length including this header
//
//	chunk: vendor id (2 B) | type (2 B) | length (2 B, including these 6) | data
//
// Generic chunks (vendor id 0), HEP3 specification rev 37:
//
//	0x01 uint8   IP family         0x13 string  node name (spec: group id)
//	0x02 uint8   IP protocol       0x14 uint64  source MAC
//	0x03 4 B     IPv4 source       0x15 uint64  destination MAC
//	0x04 4 B     IPv4 destination  0x16 uint16  Ethernet type
//	0x05 16 B    IPv6 source       0x17 uint8   TCP flags
//	0x06 16 B    IPv6 destination  0x18 uint8   IP TOS
//	0x07 uint16  source port       0x20 uint16  MOS
//	0x08 uint16  destination port  0x21 uint16  R-factor
//	0x09 uint32  seconds           0x22 string  geo location
//	0x0a uint32  microseconds      0x23 uint32  jitter
//	0x0b uint8   protocol type     0x24 string  transaction type
//	0x0c uint32  capture agent id  0x25 string  payload JSON keys
//	0x0d uint16  keep-alive timer  0x26 string  tags' values
//	0x0e string  auth key          0x27 uint16  type of tag
//	0x0f string  payload           0x28 uint16  event type
//	0x10 string  zlib/gzip payload 0x29 string  group id
//	0x11 string  correlation id
//	0x12 uint16  VLAN id
//
// Vendor chunks and generic chunks of other types are kept as raw bytes in
// [Message.Extra] and written back unchanged.
//
// xhep's own vendor chunks ([VendorXHEP], written out in ack.go) carry the
// acknowledged delivery between xhep-agent and xhep-collector: a sequence
// chunk first in every message ([AppendSeq], [SeqOf]) and ack messages back
// on the same TCP/TLS connection ([AppendAcks], [ParseAcks]). Other HEP
// receivers skip them.
//
// HEP v1 and v2 (decode only), as Kamailio's sipcapture reads them:
//
//	version (1) | header length (1) | family (1) | IP protocol (1) |
//	source port (2, BE) | destination port (2, BE) |
//	source and destination address (4+4 for family 2, 16+16 for family 10) |
//	v2 only: tv_sec (4) | tv_usec (4) | capture id (2) | padding (2), all in
//	         the sender's host byte order, read as little-endian |
//	payload (the rest of the datagram)
//
// # Streams
//
// Over TCP and TLS, a [Framer] cuts v3 messages out of the byte stream by
// their length field and resynchronises on "HEP3" after garbage.
package hep
