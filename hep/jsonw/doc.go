// Package jsonw holds the JSON string and number appenders shared by the
// payload packages (rtcp, dns) and the collector's dissector, which build
// their documents by hand instead of through encoding/json.
//
// [AppendString] writes a JSON string: control characters, '"' and '\\'
// escaped (\n, \r and \t in their short form), bytes that are not valid
// UTF-8 as the escape \ufffd, so the result is always valid JSON text that
// MariaDB's JSON_VALID accepts. Most strings need no escape; they are
// tested and copied in one pass, 8 bytes at a time (a value shorter than
// 8 bytes inside a larger buffer as one word). [AppendEscaped] writes the
// same without the quotes, and [AppendStringUTF8] writes U+FFFD as its
// UTF-8 bytes instead of an escape, for output that must come back the
// same after a decode and re-encode.
//
// [AppendField], [AppendUint], [AppendInt], [AppendAddr] and [AppendBool]
// write a member whose key and separator are a constant prefix
// (`,"ssrc":`); they are small enough to be inlined, so the compiler copies
// the constant prefix without a call. [AppendHex] writes bytes as
// lowercase hex digits.
//
// Every function appends to dst and returns the extended slice; none
// allocates when dst has room.
package jsonw
