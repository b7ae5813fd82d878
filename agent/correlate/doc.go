// Package correlate links RTCP packets to the SIP call that negotiated
// their media.
//
// A [Table] learns media endpoints from the SDP bodies of SIP messages
// ([Table.ObserveSDP]: INVITE, 18x, 200, UPDATE, ACK, PRACK — any message
// with an application/sdp body) and maps each RTCP endpoint (the a=rtcp
// port, the RTP port with rtcp-mux, else the RTP port + 1) to the dialog's
// Call-ID. The agent's pipeline finds the Call-ID, the body and whether a
// message ends its call with hep/sip's fast path (sip.Head: Scan, HasSDP,
// EndsCall) and calls ObserveSDP and [Table.End]; this package holds no
// SIP rules of its own. [Table.Lookup] then finds the Call-ID of an RTCP packet from
// either direction: its source or its destination is a known endpoint. The
// pipeline sends that Call-ID in HEP chunk 0x11 (correlation id).
//
// The table is bounded: at most [Config.MaxEntries] endpoints, stored in
// preallocated slots with the Call-ID copied into a fixed-size buffer, so
// memory does not grow with traffic. Entries expire [Config.TTL] after they
// were last confirmed by SDP or by a matching RTCP packet; BYE, CANCEL and a
// final error response to INVITE shorten that to [Config.EndTTL]. When the
// table is full the entry closest to expiry among a few sampled slots is
// evicted and counted ([Stats].Evicted).
//
// Lookup does not allocate. All methods but [Table.Stats] and
// [Table.Len] are for one goroutine (the pipeline's); Stats and Len may be
// called from any goroutine (metrics).
package correlate
