// Package packet is the agent's packet decoder: it turns captured frames
// ([source.Frame]) into application messages ([Message]) — whole SIP
// messages, RTCP compound packets and DNS messages — with their inner-most
// addresses, ports, VLAN and capture time.
//
// A [Decoder] decodes, by offset and without copying:
//
//   - link layers: Ethernet II, Linux cooked v1 and v2, raw IP, BSD
//     loopback (null and loop); 802.1Q and QinQ tags (0x8100, 0x88a8,
//     0x9100); PPPoE sessions; MPLS label stacks;
//   - tunnels that mirrored traffic arrives in: GRE (checksum, key and
//     sequence options; IP or Ethernet inside), ERSPAN types I, II and III,
//     VXLAN (UDP 4789), IP-in-IP and IPv6-in-IP;
//   - IPv4 (options) and IPv6 (hop-by-hop, routing, destination options,
//     fragment and AH extension headers); UDP, TCP and SCTP DATA chunks.
//
// IPv4 and IPv6 fragments are reassembled with bounded memory and a
// timeout. TCP stream directions carrying SIP are reassembled (out of
// order, retransmitted, mid-stream start, gaps with resync) and framed by
// Content-Length; SIP over WebSocket (RFC 7118) is followed through the HTTP
// Upgrade; DNS over TCP is framed by its length prefix.
//
// Classification (see [Config]): SIP by port or by its first line, RTCP by
// a compound-packet check, DNS by port. Keep-alives and junk on SIP ports
// are counted, not emitted. Filters drop by SIP method, IP prefix or
// payload substring.
//
// Everything the decoder drops is counted in [Stats] by reason; it never
// panics on any input. A Decoder is used from one goroutine; UDP SIP
// decodes with no allocation per packet.
package packet
