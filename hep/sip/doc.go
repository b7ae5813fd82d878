// Package sip frames, recognises and decodes SIP messages (RFC 3261) and
// the media summary of their SDP bodies (RFC 4566/8866), for both the
// capture agent (hot path: framing, [Head], SDP media for RTCP
// correlation) and the collector (full dissection into JSON). It is the
// one home of SIP rules in xhep; case folding and trimming come from
// hep/ascii.
//
// # Framing and recognition
//
// [LooksLikeSIP] is the agent classifier's cheap content test on SIP
// ports, [StartsWithStartLine] its structural test for extension methods,
// and [HasStartLine] the stricter one for traffic on other ports.
// [MethodOf] gives a request's method or a response's CSeq method (the
// agent's method filter). [FrameLength] splits a byte stream (TCP, TLS,
// WebSocket, SCTP) into messages using the blank line and Content-Length,
// returning [ErrIncomplete] until a whole message is there; [KeepAliveLen]
// skips the RFC 5626 CRLF keep-alives between messages.
//
// # Fast path: Head
//
// [Head.Scan] is the agent's per-message path: the Call-ID (send key,
// RTCP correlation), the CSeq method, the Content-Type and the body, from
// four header lines, without a full decode and without allocating.
// [Head.HasSDP] (with [IsSDP], the one Content-Type test for SDP, also the
// collector's) and [Head.EndsCall] (BYE, CANCEL, final INVITE errors but
// 491, 481) are the rules agent/correlate and agent/media act on. Where
// both read a header, Head and [Message] agree: the first occurrence
// counts, compact forms and any case are accepted.
//
// # Decoding
//
// [Message.DecodeFromBytes] decodes a request or response: start line,
// every header in order (compact forms, any case, folded lines, CRLF or
// bare LF), and the fields HOMER indexes (From/To with tags, Call-ID,
// CSeq, Via list with branches, Contact, P-Asserted-Identity, Diversion,
// Reason, Expires, Authorization user, Record-Route, X-CID, body).
// [SDP.DecodeFromBytes] decodes the c=, m=, a=rtcp, a=rtcp-mux and
// a=rtpmap lines; [Media.RTCPEndpoint] gives the address RTCP for a stream
// is sent to.
//
// # Ownership and allocation
//
// Decoders are zero-copy: every []byte field is a sub-slice of the input,
// valid while the input is and until the next decode into the same value.
// Decoders reset their value in place and reuse slice capacity, so in
// steady state they do not allocate. Values are not safe for concurrent
// use; use one per goroutine.
//
// # Errors
//
// Errors are exported sentinels returned unwrapped (no allocation): the
// caller counts them by identity. Apart from [ErrMalformed] (not SIP at
// all), a decoding error leaves every other field decoded: the first
// problem is reported, decoding continues past it. Nothing here panics on
// any input; the fuzz tests check that.
package sip
