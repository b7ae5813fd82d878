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
package main
