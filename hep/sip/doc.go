// Package sip frames, recognises and decodes SIP messages (RFC 3261) and
// the media summary of their SDP bodies (RFC 4566/8866), for both the
// capture agent (hot path: framing, Call-ID, SDP media for RTCP
// correlation) and the collector (full dissection into JSON).
//
// # Framing and recognition
//
// [LooksLikeSIP] is the agent classifier's cheap content test.
// [FrameLength] splits a byte stream (TCP, TLS, WebSocket, SCTP) into
// messages using the blank line and Content-Length, returning
// [ErrIncomplete] until a whole message is there; [KeepAliveLen] skips the
// RFC 5626 CRLF keep-alives between messages. [CallID] pulls the Call-ID
// out of a message without decoding it (for hashing to a collector).
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
