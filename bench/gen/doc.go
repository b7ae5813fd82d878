// Package gen generates realistic, deterministic VoIP capture traffic for
// the tests and benchmarks of the whole project: SIP dialogs over UDP or
// TCP, RTCP between the SDP media endpoints, and the DNS lookups of the
// SIP domains, as whole Ethernet frames.
//
// [Generate] builds the frames a [Config] describes and hands each to a
// callback; [WritePcap] writes them as a pcap file; [Stream] sends copies
// into a channel. Each returns a [Truth]: every SIP message, RTCP and DNS
// packet it put into the capture and [Stats] counts, so a test can compare
// what a decoder found with what is there. The same Config (seed included)
// gives byte-identical output.
//
// The traffic: phones (10.1.0.0/16, or fd00:0:0:1::/64 with IPv6)
// register with a proxy (10.0.0.10:5060 or [fd00::10]:5060,
// voip.example.com) through 401 challenges and call each other through it
// (multiple Via, Record-Route, P-Asserted-Identity, 407 challenges,
// re-INVITE hold/resume, CANCEL/487, 486, 503 from a trunk gateway at
// 10.0.0.30); some calls go to a B2BUA/PBX (10.0.0.20, media on 10.0.0.21)
// that opens a second leg with X-CID set to the first leg's Call-ID. Some
// phones write compact header names (over TCP they keep Content-Length
// long: tshark 4.0 does not reassemble on "l:"). Calls active at the same
// time never share a media endpoint. With RTP > 0 the media itself flows
// too (G.711, KindOther), for filters to skip. A resolver at 10.0.0.53
// (fd00::53) answers NAPTR, SRV, A and AAAA queries (and an occasional
// NXDOMAIN). Options add SIP over TCP (handshake, messages split across
// segments and two in one segment, FINs), IPv6, 802.1Q or QinQ tags and IP
// fragmentation. The options change how the traffic is carried, not what
// it is: one seed gives the same dialogs in every mode.
//
// On Linux, [RawSender] puts frames on an interface through an AF_PACKET
// socket with sendmmsg batches ([NewRawSenderBypass]: PACKET_QDISC_BYPASS),
// and [TxRing] through a TPACKET_V2 TX ring, for live rate tests; [Blast]
// sends a frame set through either at a rate paced by [Pacer], a token
// bucket over batches (one system call per batch, no sleep per frame). On
// a veth the three cost the same sender CPU per frame within noise
// (~550 ns for 600 bytes here, most of it the peer's receive path, which
// runs in the sender's call); the suite uses sendmmsg with qdisc bypass.
package gen
