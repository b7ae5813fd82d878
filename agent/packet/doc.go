// Package packet is the agent's packet decoder: it turns captured frames
// ([source.Frame]) into application messages ([Message]) — whole SIP
// messages, RTCP compound packets and DNS messages — with their inner-most
// addresses, ports, VLAN and capture time.
//
// # Decoding
//
// A [Decoder] decodes by offset, without copying (the wire formats are
// written out beside the code that reads them):
//
//   - link layers: Ethernet II, Linux cooked v1 and v2, raw IP, BSD
//     loopback (null and loop); 802.1Q and QinQ tags (0x8100, 0x88a8,
//     0x9100; [Message].VLAN is the inner-most tag); PPPoE sessions; MPLS
//     label stacks;
//   - tunnels that mirrored traffic arrives in: GRE (checksum, key and
//     sequence options; IP or Ethernet inside), ERSPAN types I, II and III,
//     VXLAN (UDP 4789), IP-in-IP and IPv6-in-IP, nested up to 8 deep;
//   - IPv4 (options) and IPv6 (hop-by-hop, routing, destination options,
//     fragment and AH extension headers); UDP, TCP and SCTP DATA chunks.
//
// Checksums are not verified (offload makes them wrong on captured egress
// traffic).
//
// # Reassembly
//
// IPv4 and IPv6 fragments are reassembled per (source, destination,
// identification, protocol) with bounded memory and a timeout; exact
// duplicates are ignored, other overlaps keep the first bytes for IPv4 and
// drop the datagram for IPv6 (RFC 5722). SCTP user messages split over
// several DATA chunks are reassembled by TSN.
//
// TCP is reassembled per direction in two parts, as gopacket's reassembly
// package separates its Assembler from a Stream. The assembler (tcp.go)
// owns sequence numbers: out-of-order segments are held (bounded),
// retransmitted bytes dropped, a hole that does not fill within GapTimeout
// is skipped, streams are bounded in bytes and number (LRU eviction), idle
// ones flushed, FIN and RST close them, and every byte it drops is counted.
// It hands in-order bytes to the stream's framer (framer.go), chosen when
// the stream starts, with the metadata of the segment that brought them
// (addresses, VLAN, capture time); the framer cuts messages and returns
// them, and the assembler delivers each with that metadata. Framers: SIP by
// Content-Length (hep/sip.FrameLength, compact "l" too; several messages
// per segment or one over many; a mid-stream start or a skipped hole
// resyncs at the next start line), DNS by its 2-byte length prefix, SIP
// over WebSocket (RFC 7118) through the HTTP Upgrade (masked frames,
// 16/64-bit lengths, fragmented messages). A framer that cannot resync
// after a hole (DNS, WebSocket) loses its stream, which is then followed
// but not framed until it closes. A new stream format is one framer type,
// its proto.Framer kind in hep/proto and a case in classFramer.
//
// With [Config].HEP the decoder reads captures of HEP traffic (the
// collector's --read): every UDP payload is a HEP message and TCP streams
// on any port are cut by hep.FrameLength, resyncing at the next "HEP3".
//
// # Classification and filters
//
// SIP by port ([Config].SIPPorts) or, on any port, by its first line; RTCP
// by the compound-packet check of hep/rtcp.Valid; DNS by port. On SIP ports
// keep-alives (CRLFs, tiny datagrams) and junk are counted, not emitted.
// Filters drop by SIP method, IP prefix or payload substring. [Class] is
// hep/proto's: a class's descriptor gives the HEP type the agent sends it
// as and the framer its TCP streams use (streamFramer reads it).
//
// The ports and switches are [Config]'s embedded bpf.Rules, the same value
// the live capture's kernel and socket filters are built from (the agent
// parses its flags into one Rules for both), so the filters pass what the
// decoder keeps (agent/source's TestFiltersAgree). A frame the kernel
// classified carries its match class (source.Frame.Match): for a datagram
// of that frame (not reassembled, not inside a tunnel) the port tests are
// its bits, and the SIP start-line test is skipped for one matched as RTCP
// only.
//
// # Use
//
// Call [Decoder.Decode] for every frame and [Decoder.Expire] about once a
// second with the current time (capture time when reading a file), and
// with math.MaxInt64 at the end of a file to flush what is left. Both call
// emit for each message completed; the Message is valid only during the
// call. A Decoder belongs to one goroutine. Everything it drops is counted
// in [Stats] by reason; it never panics on any input. UDP SIP and in-order
// TCP SIP decode with no allocation per packet in steady state.
package packet
