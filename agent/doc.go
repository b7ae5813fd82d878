// Package agent wires the capture agent's pipeline:
//
//	source.Source → packet.Decoder (L2–L4, defrag, TCP reassembly, classify)
//	  → SIP:  head scan (Call-ID, CSeq, status, SDP body) →
//	          correlate.Table.ObserveSDP / End → HEP type 1,
//	          Call-ID as the send key
//	  → RTCP: hep/rtcp decode → JSON (heplify-server's shape) → HEP type 5,
//	          chunk 0x11 = Call-ID from correlate.Table.Lookup when known
//	  → DNS:  hep/dns decode → JSON → HEP type 53
//	  → HEP3 encode (node id/name, auth key, VLAN in chunk 0x12, payload
//	    compressed in chunk 0x10 over Config.CompressOver bytes)
//	  → send.Group (queues, spool, collectors)
//
// The HEP type of each class is its descriptor's in hep/proto
// (proto.ByClass); the payload is written by the class's entry in the
// encoders array (pipeline.go), the agent half of that descriptor.
//
// A [Pipeline] runs on one goroutine ([Pipeline.Run]); the decoder, the
// correlation table and the encoder buffers are reused, so steady-state
// processing does not allocate. Counters are exported to Prometheus by
// [Pipeline.Collector], which reads atomics and a snapshot of the decoder's
// counters that the pipeline goroutine publishes every few thousand frames
// and once per second of capture time.
package agent
