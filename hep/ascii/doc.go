// Package ascii holds the byte-level text helpers every protocol parser in
// xhep shares: ASCII case folding ([Lower], [EqualFold], [HasPrefixFold],
// [ContainsFold]) and the trimming of the whitespace that SIP, SDP, HTTP
// and the other line-based formats allow around values ([IsWS], [TrimWS],
// [TrimLeftWS], [TrimRightWS], [TrimOWS], [TrimCR]).
//
// They are the one copy of these rules: hep/sip, agent/packet,
// agent/media, agent/correlate and collector/dissect use them instead of
// their own loops. Folding is ASCII only (RFC 3261 header names, methods,
// tokens and media types are ASCII; bytes >= 0x80 compare exactly). Every
// function takes []byte or string, aliases its input, never allocates and
// is small enough to be inlined or nearly so on the hot paths.
package ascii
