// Package source holds the agent's packet sources: a pcap/pcapng file
// reader and the live sources (BPF ring buffer, AF_XDP, AF_PACKET). Every
// source yields link-layer frames as [Frame] values to the same pipeline.
//
// The live sources are configured by [LiveConfig], which embeds the BPF
// filter's bpf.Config (and so its bpf.Rules: ports, SIP by content, RTCP)
// rather than relaying its fields. One Rules value drives all three
// filters: the eBPF programs of ringbuf and afxdp mode (package bpf), the
// classic BPF socket filter of afpacket mode (classicFilter, built from
// the same Rules and Exclude list, with the kernel's SIP start-line and
// RTCP tests) and, in the agent, the decoder of agent/packet.
// TestFiltersAgree runs one table of packets through the three and checks
// that the two filters capture the same plain frames and never less than
// the decoder keeps, except where a row says why.
//
// In ringbuf mode each frame carries the kernel's match class
// ([Frame].Match, bpf.Class* bits); the decoder uses the bits instead of
// testing the ports again. AF_XDP frames and AF_PACKET frames carry none
// (the redirect and the socket filter have no room for it), nor frames
// read from files.
package source
