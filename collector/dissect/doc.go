// Package dissect turns decoded HEP messages into store rows: it picks the
// table by HEP protocol type and SIP transaction class and writes the
// hep_header, protocol_header and payload JSON documents of the contract in
// package [github.com/xhep/xhep/collector/store].
//
// [Dissector.Dissect] is the collector's hot path. It decodes SIP with
// [github.com/xhep/xhep/hep/sip] (zero-copy), writes JSON by hand into the
// [store.Row]'s reused buffers (no encoding/json, no reflection) and sets
// Raw to the payload without copying, so in steady state it does not
// allocate. Strings are escaped so the result is always valid JSON that
// MariaDB's JSON_VALID accepts, whatever bytes arrive: invalid UTF-8
// becomes U+FFFD in JSON (the raw column keeps the bytes).
//
// Routing reads hep/proto's registry: each type's descriptor says how its
// payload is written (raw, the JSON as sent, or its decoder, bound to the
// type in this package's decoders map — registry.go), whether SIP's split
// into call, registration and default applies, and the table name. Today:
//
//	type 1 (SIP)       hep_proto_1_call          CSeq INVITE ACK BYE CANCEL UPDATE PRACK REFER INFO
//	                   hep_proto_1_registration  CSeq REGISTER
//	                   hep_proto_1_default       anything else, and SIP that does not decode
//	type 5 (RTCP)      hep_proto_5_default       binary RTCP or RTCP JSON, one JSON shape
//	type 53 (DNS)      hep_proto_53_default      binary DNS or DNS JSON
//	type 100 (logs)    hep_proto_100_default     {"message": text}
//	type 34 (RTP)      hep_proto_34_default      the rtpagent JSON report as sent, when valid
//	type 54 (ISUP)     hep_proto_54_default      ISUP JSON as sent; protocol_header: circuit callid,
//	                                             cic, opc, dpc, msg_name, numbers (isup.go)
//	0x32-0x3d (JSON)   hep_proto_<N>_default     the other JSON types as sent, when valid (one entry each)
//	any other          hep_proto_<N>_default     {"length": n}, the bytes in raw
//
// The SIP protocol_header starts with the keys the database indexes, in
// this order: callid, callid_aleg (when present), method, status,
// ruri_user, from_user, to_user; MariaDB's JSON_VALUE stops at the key it
// looks for. The SIP payload holds start_line, body_length and the SDP
// media summary (sdp); the header lines are in raw only.
//
// Malformed payloads are never dropped: the row is filled with
// {"error": ...} in its payload and the raw bytes, and Dissect returns a
// [*PayloadError] whose Reason is the metric label.
package dissect
