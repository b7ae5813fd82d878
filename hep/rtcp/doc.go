// Package rtcp recognises and decodes RTCP (RFC 3550 compound packets with
// SR, RR, SDES, BYE, APP and RFC 3611 XR) and converts it to and from the
// RTCP JSON that heplify and captagent send as HEP type 5.
//
// [Valid] is the agent classifier's test: version 2, packet types 200-207
// and sub-packet lengths that add up to the datagram exactly.
// [Packet.DecodeFromBytes] decodes a compound packet without copying and,
// in steady state, without allocating; [Packet.AppendJSON] writes
// heplify's JSON shape into a caller's buffer; [Packet.DecodeJSON] reads
// heplify's or captagent's JSON into the same [Packet] so the collector
// stores one shape; [Packet.Quality] gives jitter, loss and round-trip
// time.
//
// Ownership: after DecodeFromBytes the byte fields of a Packet alias the
// input; after DecodeJSON they alias storage the Packet owns. Either way
// they are valid until the next decode. A Packet is not safe for
// concurrent use.
//
// Errors are exported sentinels ([ErrTruncated], [ErrVersion], [ErrType],
// [ErrLength], [ErrJSON]); nothing here panics on any input.
package rtcp
