// Command xhep-agent captures SIP, RTCP and DNS — live with eBPF (XDP and
// TC into a BPF ring buffer), AF_XDP or AF_PACKET, or from a pcap/pcapng
// file — and sends it as HEP3 to one or more collectors.
//
//	xhep-agent --read FILE --collector udp://HOST:PORT [flags]
//	xhep-agent --iface IF [--mode ringbuf|afxdp|afpacket] --collector SCHEME://HOST:PORT [flags]
//
// With --read the file is replayed as fast as possible (or paced with
// --speed), every message is delivered or spooled, a summary is printed and
// the command exits 0. Live capture runs until SIGINT or SIGTERM, then
// drains the same way. Every flag can also be set in a YAML file given with
// --config, keyed by flag name; flags on the command line win. Run with -h
// for the list.
//
// # Delivery at high rates
//
// Over udp:// every HEP message is its own datagram, and each one costs a
// sendmmsg(2) its kernel path (and, to a collector on the same host, the
// receiving side's too): measured on the 2-core benchmark VM at about 4 µs
// of CPU per datagram whatever the batch size, so one UDP sender tops out
// near 250,000 datagrams per second of CPU. Over tcp:// (or tls://) the
// messages are written back to back in writes of up to 256 KiB, a fraction
// of a microsecond each: use it when rates are high (xhep-bench reports
// both).
//
// # Memory budget
//
// With the defaults, live ringbuf capture holds:
//
//   - the BPF ring buffer, --ring-size (64 MiB): kernel memory, allocated
//     when the agent starts. Its data pages are mapped twice into the
//     agent (so records that wrap read contiguously), and the kernel counts
//     both mappings in the agent's RSS (RssFile) once they are touched:
//     about 128 MiB of the RSS shown is this one 64 MiB ring. It absorbs
//     about 0.45 s of 200,000 600-byte frames per second while the agent is
//     not scheduled.
//   - the send queue per collector, --queue (65536 messages): buffers are
//     taken from a free list only as the queue backs up, so a sender that
//     keeps up holds a few batches (a few MiB); one whose collector cannot
//     keep up grows to --queue buffers of about the largest message each
//     (about 64 MiB for SIP) before messages are spooled or dropped.
//   - the decoder's reassembly bounds (--frag-bytes, --tcp-total-bytes),
//     used only by fragmented IP and SIP over TCP, and the correlation
//     table (--correlate-max entries).
//
// The rest of the Go heap is a few MiB.
package main
