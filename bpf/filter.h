/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The shared packet filter of the xhep capture programs: header parsing
 * (Ethernet, 802.1Q/QinQ, IPv4 with options, IPv6 with extension headers,
 * UDP/TCP/SCTP, one level of GRE/ERSPAN II/III, VXLAN or IP-in-IP
 * encapsulation) and classification (SIP/DNS ports, SIP by content, RTCP
 * heuristics, remembered flows and fragments, exclude and allow/deny).
 *
 * Every read from the packet is checked against data_end first. The
 * parser works on the linear part of the packet; payload bytes beyond it
 * are read with the program type's load_bytes helper.
 */
#ifndef XHEP_FILTER_H
#define XHEP_FILTER_H

#include "headers/xhep_types.h"
#include "headers/bpf_helpers.h"
#include "headers/bpf_endian.h"

/* Largest snap length the programs copy (a 9000-byte jumbo frame with
 * Ethernet and two VLAN tags fits). */
#define MAX_SNAPLEN 9216

/* Port classes: bits of port_class[port]. */
#define PORT_SIP 1
#define PORT_DNS 2
#define PORT_EXCLUDE 4 /* some exclude entry has this port: look the address up */

/* Match classes: event.class (bpf.Class*, TestCEnumsMatchGo) and the counters. */
enum match_class {
	MATCH_SIP = 1,          /* SIP port */
	MATCH_SIP_CONTENT = 2,  /* SIP request or status line on any port */
	MATCH_RTCP = 4,         /* RTCP heuristic */
	MATCH_DNS = 8,          /* DNS port */
	MATCH_FLOW = 16,        /* continuation of a flow matched by content */
	MATCH_FRAGMENT = 32,    /* later fragment of a matched datagram */
	MATCH_FRAGMENT_EARLY = 64, /* UDP fragment of a datagram whose first fragment was not seen yet,
				    * or that first fragment completing such a train */
};

/* Counter indices; Go mirrors them by name (bpf/counters.go, TestCEnumsMatchGo). */
enum counter {
	C_SEEN = 0,
	C_SIP,
	C_SIP_CONTENT,
	C_RTCP,
	C_DNS,
	C_FLOW,
	C_FRAGMENT,
	C_CAPTURED,
	C_RING_DROP,
	C_FRAG_TRACKED,
	C_FLOW_TRACKED,
	C_PARSE_ERR,
	C_EXCLUDED,
	C_FILTERED,
	C_TRUNCATED,
	C_REDIRECT_ERR,
	C_FRAG_EARLY,         /* fragments captured before their datagram's first fragment */
	C_FRAG_EARLY_LIMITED, /* such fragments not captured: over frag_early_rate */
	C_MAX = 18,
};

struct counters {
	__u64 c[C_MAX];
	__u64 unwoken; /* ring buffer bytes submitted since this CPU last woke the reader */
	__u64 frag_window; /* start (ns) of this CPU's current one-second early-fragment window */
	__u64 frag_tokens; /* early fragments this CPU may still capture in that window */
};

/*
 * The record header each captured frame carries in the ring buffer,
 * followed by cap_len bytes of the frame from its Ethernet header on.
 * Little-endian on the wire of the ring (host order, x86-64/arm64):
 *
 *   0      8         12         16        20      21     22   24
 *   | ts   | ifindex | orig_len | cap_len | egress| class| pad |
 *
 * ts is CLOCK_MONOTONIC in nanoseconds (bpf_ktime_get_ns: about 8 ns
 * cheaper here than bpf_ktime_get_boot_ns, one kernel call level less).
 */
struct event {
	__u64 ts;
	__u32 ifindex;
	__u32 orig_len;
	__u32 cap_len;
	__u8 egress;
	__u8 class;
	__u16 _pad;
};

/* Keys. IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d). */
struct frag_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 id;
	__u8 proto;
	__u8 _pad[3];
};

struct flow_key {
	__u32 a[4];
	__u32 b[4];
	__u16 pa;
	__u16 pb;
	__u8 proto;
	__u8 _pad[3];
};

struct addr_port {
	__u32 addr[4];
	__u16 port; /* host order */
	__u16 _pad;
};

struct lpm_key {
	__u32 prefixlen;
	__u32 addr[4];
};

/* Load-time configuration (.rodata, set by the Go loader). */
volatile const __u32 snaplen = 9216;
volatile const __u8 sip_by_content = 1;
volatile const __u8 rtcp_heuristic = 1;
volatile const __u8 has_allow = 0;
volatile const __u8 has_deny = 0;
volatile const __u8 has_exclude = 0;
volatile const __u8 afxdp_mode = 0;
volatile const __u8 drop_unmatched = 0;
volatile const __u16 vxlan_port = 4789;
/* 1: records go to the perf event array (kernels without BPF ring buffer). */
volatile const __u8 perf_mode = 0;
volatile const __u8 fast_path = 1;
/* UDP fragments that arrive before their datagram's first fragment (a
 * train in reverse order) are captured, at most this many per CPU per
 * second; 0: never (only after a matched first fragment). */
volatile const __u32 frag_early_rate = 0; /* 0: every frame through PARSE (tests compare) */
/* Each CPU wakes the reader once it has submitted this many bytes since
 * its last wakeup; the reader also polls on a short timer, so a lone
 * record is never stuck. 0: the kernel's adaptive notification (a wakeup
 * whenever the reader had caught up). */
volatile const __u32 wakeup_bytes = 0;
volatile const __u8 port_class[65536] = {};
/* Up to EXCLUDE_INLINE exclude entries are compared inline from .rodata
 * (cheaper than two hash lookups); more go through the exclude map. */
#define EXCLUDE_INLINE 4
volatile const __u32 exclude_n = 0;
volatile const struct addr_port exclude_list[EXCLUDE_INLINE] = {};

/* Set once the first flow or fragment entry is written, so the lookup is
 * skipped while the maps are empty. */
__u32 flows_active = 0;
__u32 frags_active = 0;
__u32 frag_early_active = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct frag_key);
	__type(value, __u8);
} frags SEC(".maps");

/* Datagrams some of whose later fragments were captured before their
 * first fragment: that first fragment is captured too, matched or not,
 * so the agent can complete the datagram (and drop it if it is not SIP). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct frag_key);
	__type(value, __u8);
} frag_early SEC(".maps");

/* Datagrams whose first fragment came first and matched nothing: their
 * later fragments are not captured early. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct frag_key);
	__type(value, __u8);
} frag_skip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, __u8);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct addr_port);
	__type(value, __u8);
} exclude SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u8);
} deny SEC(".maps");

/* What the parser found. Only what the path taken sets is initialised:
 * the addresses are read from the packet (pkt_addrs) once a matched
 * packet or a map lookup needs them, so a frame that matches nothing
 * costs no stores for them. */
struct pkt {
	__u32 saddr[4];    /* after pkt_addrs */
	__u32 daddr[4];    /* after pkt_addrs */
	__u64 w;           /* first eight L4 payload bytes, when have_w */
	__u32 frag_id;
	__u32 payload_len; /* L4 payload length from the IP/UDP lengths */
	__u32 next_off;    /* tunnels: offset of the inner header */
	__u32 l3_off;      /* offset of the (innermost) IP header */
	__u32 poff;        /* offset of the L4 payload, when have_w */
	__u16 sport;
	__u16 dport;
	__u8 l4;    /* IPPROTO_* of the innermost transport */
	__u8 frag;  /* FRAG_NONE, FRAG_FIRST or FRAG_LATER */
	__u8 is_ip; /* 4 or 6 */
	__u8 have_w;
};

#define FRAG_NONE 0
#define FRAG_FIRST 1
#define FRAG_LATER 2

/* Parse results. */
#define P_OK 0
#define P_NOT_IP 1
#define P_TRUNC 2
#define P_BAD 3
#define P_TUNNEL_ETH 4
#define P_TUNNEL_IP4 5
#define P_TUNNEL_IP6 6

/* Headers are looked for in the first MAX_HDR_OFF bytes. */
#define MAX_HDR_OFF 512
#define IPV6_EXT_MAX 6

static __always_inline int is_vlan(__u16 p)
{
	return p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD) ||
	       p == bpf_htons(ETH_P_QINQ1);
}

/*
 * Ethernet II, then up to two 802.1Q/802.1ad tags:
 *
 *   dst mac(6) | src mac(6) | [0x8100|0x88a8|0x9100 (2), TCI (2)]{0,2} | ethertype(2)
 *
 * Advances *off to the L3 header and returns the ethertype (network order).
 */
static __always_inline int parse_eth(void *data, void *end, __u32 *off, __u16 *proto)
{
	__u32 o = *off;
	if (o > MAX_HDR_OFF)
		return P_BAD;
	void *p = data + o;
	if (p + 14 > end)
		return P_TRUNC;
	__u16 et = *(__u16 *)(p + 12);
	o += 14;
	if (is_vlan(et)) {
		if (p + 18 > end)
			return P_TRUNC;
		et = *(__u16 *)(p + 16);
		o += 4;
		if (is_vlan(et)) {
			if (p + 22 > end)
				return P_TRUNC;
			et = *(__u16 *)(p + 20);
			o += 4;
		}
	}
	*off = o;
	*proto = et;
	return P_OK;
}

static __always_inline void map_v4(__u32 *dst, __u32 a)
{
	dst[0] = 0;
	dst[1] = 0;
	dst[2] = bpf_htonl(0xffff);
	dst[3] = a;
}

/* pkt_addrs reads the addresses of the IP header the parser stopped at
 * into k (IPv4 mapped into IPv6). Nonzero if the header is out of reach,
 * which the parser already ruled out. */
static __always_inline int pkt_addrs(void *data, void *end, struct pkt *k)
{
	__u32 o = k->l3_off;
	if (o > MAX_HDR_OFF)
		return -1;
	void *p = data + o;
	if (k->is_ip == 4) {
		if (p + 20 > end)
			return -1;
		map_v4(k->saddr, *(__u32 *)(p + 12));
		map_v4(k->daddr, *(__u32 *)(p + 16));
		return 0;
	}
	if (p + 40 > end)
		return -1;
	__builtin_memcpy(k->saddr, p + 8, 16);
	__builtin_memcpy(k->daddr, p + 24, 16);
	return 0;
}

/*
 * GRE (RFC 2784/2890), after the outer IP header:
 *
 *   C|R|K|S|...|ver(3) (2) | protocol type (2) | [checksum+reserved (4)]
 *   | [key (4)] | [sequence (4)]
 *
 * ERSPAN type II (0x88be with S set) adds an 8-byte header:
 *   ver(4)=1|vlan(12) | cos,en,t,session id(2) | reserved,index (4)
 * ERSPAN type III (0x22eb) a 12-byte header, plus an 8-byte platform
 * specific sub-header when its O flag (bit 0 of byte 11) is set:
 *   ver(4)=2|vlan(12) | cos,bso,t,session(2) | timestamp(4) | sgt(2) | p,ft,hw,d,gra,o(2)
 * ERSPAN type I (0x88be without S) has no header of its own.
 * Protocol 0x6558 carries Ethernet, 0x0800/0x86dd carry IP.
 */
static __always_inline int parse_gre(struct pkt *k, void *p, void *data, void *end)
{
	if (p + 4 > end)
		return P_TRUNC;
	__u8 flags = *(__u8 *)p;
	__u16 proto = *(__u16 *)(p + 2);
	if ((*(__u8 *)(p + 1) & 7) != 0)
		return P_OK; /* PPTP/enhanced GRE: not decapsulated */
	__u32 o = 4;
	if (flags & 0x80)
		o += 4;
	if (flags & 0x20)
		o += 4;
	if (flags & 0x10)
		o += 4;
	if (proto == bpf_htons(ETH_P_ERSPAN)) {
		if (flags & 0x10)
			o += 8;
		proto = bpf_htons(ETH_P_TEB);
	} else if (proto == bpf_htons(ETH_P_ERSPAN3)) {
		if (p + o + 12 > end)
			return P_TRUNC;
		__u8 ob = *(__u8 *)(p + o + 11) & 1;
		o += 12;
		if (ob)
			o += 8;
		proto = bpf_htons(ETH_P_TEB);
	}
	k->next_off = (__u32)(p - data) + o;
	if (proto == bpf_htons(ETH_P_TEB))
		return P_TUNNEL_ETH;
	if (proto == bpf_htons(ETH_P_IP))
		return P_TUNNEL_IP4;
	if (proto == bpf_htons(ETH_P_IPV6))
		return P_TUNNEL_IP6;
	return P_OK;
}

/*
 * L4 headers, where the ports are the first four bytes:
 *   UDP:  sport(2) dport(2) length(2) checksum(2)
 *   TCP:  sport(2) dport(2) seq(4) ack(4) doff(4 bits)... , doff*4 bytes
 *   SCTP: sport(2) dport(2) vtag(4) checksum(4), then chunks
 * VXLAN (RFC 7348) on UDP port vxlan_port:
 *   flags(1)=0x08 | reserved(3) | VNI(3) | reserved(1), then Ethernet
 * Returns the payload offset in *poff.
 */
static __always_inline int parse_l4(struct pkt *k, void *p, void *data, void *end,
				    __u32 ip_end, int tunnel, __u32 *poff)
{
	if (k->l4 == IPPROTO_UDP) {
		if (p + 8 > end)
			return P_TRUNC;
		k->sport = bpf_ntohs(*(__u16 *)p);
		k->dport = bpf_ntohs(*(__u16 *)(p + 2));
		__u16 ulen = bpf_ntohs(*(__u16 *)(p + 4));
		if (ulen < 8)
			return P_BAD;
		*poff = (__u32)(p - data) + 8;
		k->payload_len = ulen - 8;
		if (tunnel && k->dport == vxlan_port && k->frag == FRAG_NONE) {
			if (p + 16 > end)
				return P_TRUNC;
			if ((*(__u8 *)(p + 8) & 0x08) == 0)
				return P_OK;
			k->next_off = (__u32)(p - data) + 16;
			return P_TUNNEL_ETH;
		}
		return P_OK;
	}
	if (k->l4 == IPPROTO_TCP) {
		if (p + 20 > end)
			return P_TRUNC;
		k->sport = bpf_ntohs(*(__u16 *)p);
		k->dport = bpf_ntohs(*(__u16 *)(p + 2));
		__u32 doff = (*(__u8 *)(p + 12) >> 4) * 4;
		if (doff < 20)
			return P_BAD;
		__u32 off = (__u32)(p - data) + doff;
		*poff = off;
		k->payload_len = ip_end > off ? ip_end - off : 0;
		return P_OK;
	}
	if (k->l4 == IPPROTO_SCTP) {
		if (p + 12 > end)
			return P_TRUNC;
		k->sport = bpf_ntohs(*(__u16 *)p);
		k->dport = bpf_ntohs(*(__u16 *)(p + 2));
		k->payload_len = 0; /* content is not inspected on SCTP */
		return P_OK;
	}
	return P_OK;
}

/*
 * IPv4 (RFC 791):
 *   ver(4)=4 ihl(4) | tos | total length(2) | id(2) | flags(3) frag off(13)
 *   | ttl | protocol | checksum(2) | src(4) | dst(4) | options (ihl*4-20)
 */
static __always_inline int parse_ipv4(struct pkt *k, void *p, void *data, void *end,
				      int tunnel, __u32 *poff)
{
	if (p + 20 > end)
		return P_TRUNC;
	__u8 vihl = *(__u8 *)p;
	if ((vihl >> 4) != 4)
		return P_BAD;
	__u32 ihl = (vihl & 0x0f) * 4;
	if (ihl < 20)
		return P_BAD;
	__u16 tot = bpf_ntohs(*(__u16 *)(p + 2));
	if (tot < ihl)
		return P_BAD;
	__u16 fo = bpf_ntohs(*(__u16 *)(p + 6));
	k->is_ip = 4;
	k->l4 = *(__u8 *)(p + 9);
	k->l3_off = (__u32)(p - data);
	k->frag_id = *(__u16 *)(p + 4);
	k->frag = FRAG_NONE;
	if (fo & 0x1fff)
		k->frag = FRAG_LATER;
	else if (fo & 0x2000)
		k->frag = FRAG_FIRST;
	__u32 ip_end = (__u32)(p - data) + tot;
	p += ihl;
	if (k->frag == FRAG_LATER)
		return P_OK;
	if (tunnel && k->frag == FRAG_NONE) {
		if (k->l4 == IPPROTO_IPIP || k->l4 == IPPROTO_IPV6) {
			k->next_off = (__u32)(p - data);
			return k->l4 == IPPROTO_IPIP ? P_TUNNEL_IP4 : P_TUNNEL_IP6;
		}
		if (k->l4 == IPPROTO_GRE)
			return parse_gre(k, p, data, end);
	}
	return parse_l4(k, p, data, end, ip_end, tunnel, poff);
}

/*
 * IPv6 (RFC 8200):
 *   ver(4)=6 tc(8) flow(20) | payload length(2) | next header | hop limit
 *   | src(16) | dst(16)
 * then extension headers, each starting with next header(1), length(1):
 *   hop-by-hop (0), routing (43), destination options (60), mobility (135):
 *       (length+1)*8 bytes
 *   authentication (51): (length+2)*4 bytes
 *   fragment (44): next(1) res(1) offset(13 bits) res(2) M(1) | id(4)
 */
static __always_inline int parse_ipv6(struct pkt *k, void *p, void *data, void *end,
				      int tunnel, __u32 *poff)
{
	if (p + 40 > end)
		return P_TRUNC;
	if ((*(__u8 *)p >> 4) != 6)
		return P_BAD;
	k->is_ip = 6;
	__u32 ip_end = (__u32)(p - data) + 40 + bpf_ntohs(*(__u16 *)(p + 4));
	__u8 nh = *(__u8 *)(p + 6);
	k->l3_off = (__u32)(p - data);
	k->frag = FRAG_NONE;
	__u32 o = (__u32)(p - data) + 40;
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_MH && nh != IPPROTO_AH && nh != IPPROTO_FRAGMENT)
			break;
		if (o > MAX_HDR_OFF)
			return P_BAD;
		void *e = data + o;
		if (e + 8 > end)
			return P_TRUNC;
		__u8 cur = nh;
		__u32 hl = *(__u8 *)(e + 1);
		nh = *(__u8 *)e;
		if (cur == IPPROTO_FRAGMENT) {
			__u16 fo = bpf_ntohs(*(__u16 *)(e + 2));
			k->frag_id = *(__u32 *)(e + 4);
			if (fo & 0xfff8)
				k->frag = FRAG_LATER;
			else if (fo & 1)
				k->frag = FRAG_FIRST;
			o += 8;
		} else if (cur == IPPROTO_AH) {
			o += (hl + 2) * 4;
		} else {
			o += (hl + 1) * 8;
		}
	}
	k->l4 = nh;
	if (k->frag == FRAG_LATER)
		return P_OK;
	if (o > MAX_HDR_OFF)
		return P_BAD;
	p = data + o;
	if (tunnel && k->frag == FRAG_NONE) {
		if (nh == IPPROTO_IPIP || nh == IPPROTO_IPV6) {
			k->next_off = o;
			return nh == IPPROTO_IPIP ? P_TUNNEL_IP4 : P_TUNNEL_IP6;
		}
		if (nh == IPPROTO_GRE)
			return parse_gre(k, p, data, end);
	}
	return parse_l4(k, p, data, end, ip_end, tunnel, poff);
}

/*
 * load_bytes reads bytes beyond the linear data of an skb (TC) with
 * bpf_skb_load_bytes (Linux 4.5; into ring buffer memory 5.8). XDP frames
 * are linear (the program is loaded without BPF_F_XDP_HAS_FRAGS), so
 * nothing lies beyond data_end there and no helper is needed: kernels
 * before 5.18 have no bpf_xdp_load_bytes.
 */
static __always_inline long load_bytes(void *ctx, int is_xdp, __u32 off, void *to, __u32 len)
{
	if (is_xdp)
		return -1;
	return bpf_skb_load_bytes(ctx, off, to, len);
}

/*
 * bound16 hides v from the compiler behind a mask the verifier sees:
 * kernels before 6.3 (Debian 12's 6.1) do not track the range of a byte
 * swap (bpf_ntohs), so a port from one is an unbounded index into
 * port_class without it ("math between map_value pointer and register
 * with unbounded min value"). The compiler would drop a plain C mask.
 */
static __always_inline __u32 bound16(__u32 v)
{
	asm volatile("%0 &= 0xffff" : "+r"(v));
	return v;
}

/*
 * parse_l3 parses the L3 header at off (ethertype proto, network order)
 * and what follows it, and reads the first eight bytes of a TCP or UDP
 * payload into k->w. With tunnel set, GRE, VXLAN and IP-in-IP return
 * P_TUNNEL_* with k->next_off at the inner header.
 */
static __always_inline int parse_l3(void *ctx, int is_xdp, void *data, void *end, struct pkt *k,
				    __u32 off, __u32 proto, __u32 tunnel)
{
	if (off > MAX_HDR_OFF)
		return P_BAD;
	void *p = data + off;
	__u32 poff = 0;
	int r;
	k->have_w = 0;
	k->payload_len = 0;
	if (proto == bpf_htons(ETH_P_IP))
		r = parse_ipv4(k, p, data, end, tunnel, &poff);
	else if (proto == bpf_htons(ETH_P_IPV6))
		r = parse_ipv6(k, p, data, end, tunnel, &poff);
	else
		return P_NOT_IP;
	if (r != P_OK || k->frag == FRAG_LATER || k->payload_len < 8 ||
	    (k->l4 != IPPROTO_UDP && k->l4 != IPPROTO_TCP))
		return r;
	if (poff > 0x3fff)
		return r;
	void *w = data + poff;
	k->poff = poff;
	if (w + 8 <= end) {
		k->w = *(__u64 *)w;
		k->have_w = 1;
	} else if (load_bytes(ctx, is_xdp, poff, &k->w, 8) == 0) {
		k->have_w = 1;
	}
	return r;
}

/* Subprograms for the inner headers of a tunnel, one per context type.
 * Static, not global: a global function (verified once on its own) may
 * take only scalars and the context before Linux 5.12 ("Arg#1 type PTR
 * ... is not supported yet" on 5.10). */
static __attribute__((noinline)) int xhep_l3_xdp(struct xdp_md *ctx, struct pkt *k, __u32 off,
					  __u32 proto, __u32 tunnel)
{
	if (!k)
		return P_BAD;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	return parse_l3(ctx, 1, data, end, k, off, proto, tunnel);
}

static __attribute__((noinline)) int xhep_l3_skb(struct __sk_buff *ctx, struct pkt *k, __u32 off,
					  __u32 proto, __u32 tunnel)
{
	if (!k)
		return P_BAD;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	return parse_l3(ctx, 0, data, end, k, off, proto, tunnel);
}

/* PARSE walks the frame and fills k: the outer headers inline, the inner
 * ones of a tunnel (one level deep) through the global function fn, which
 * the verifier checks once on its own. */
#define PARSE(ctx, is_xdp, fn, k)                                                  \
	({                                                                     \
		void *__data = (void *)(long)(ctx)->data;                          \
		void *__end = (void *)(long)(ctx)->data_end;                       \
		__u32 __off = 0;                                                   \
		__u16 __proto = 0;                                                 \
		int __r = parse_eth(__data, __end, &__off, &__proto);              \
		if (__r == P_OK) {                                                 \
			__r = parse_l3(ctx, is_xdp, __data, __end, k, __off, __proto, 1); \
			if (__r == P_TUNNEL_ETH) {                                     \
				__off = (k)->next_off;                                     \
				__data = (void *)(long)(ctx)->data;                        \
				__end = (void *)(long)(ctx)->data_end;                     \
				__r = parse_eth(__data, __end, &__off, &__proto);          \
				if (__r == P_OK)                                           \
					__r = fn(ctx, k, __off, __proto, 0);                   \
			} else if (__r == P_TUNNEL_IP4 || __r == P_TUNNEL_IP6) {       \
				__proto = __r == P_TUNNEL_IP4 ? bpf_htons(ETH_P_IP)        \
							      : bpf_htons(ETH_P_IPV6);     \
				__r = fn(ctx, k, (k)->next_off, __proto, 0);               \
			}                                                              \
		}                                                                  \
		__r;                                                               \
	})

/*
 * SIP request or status line (RFC 3261), by structure, not by a name list:
 *
 *   status:  "SIP/2.0 "
 *   request: method SP scheme ":"   method: 1..SIP_METHOD_MAX token chars
 *                                   scheme: "sip", "sips" or "tel", any case
 *
 * token = ALPHA / DIGIT / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
 * (RFC 3261 §25.1; the agent's hep/sip.StartsWithStartLine accepts the same
 * methods, with any Request-URI and the " SIP/2.0" at the line's end). The
 * scheme keeps HTTP ("GET / HTTP/1.1"), RTSP and other text protocols out.
 *
 * sip_maybe is the cheap first step on w, the first eight payload bytes in
 * memory order read as a little-endian u64: the status line, or a token
 * char first and either a token char or SP second. RTP/RTCP (first byte
 * 0x80..0xbf) and most binary data stop there. is_sip then reads the
 * method and scheme from the packet, byte by byte under data_end.
 */
#define S8(a, b, c, d, e, f, g, h)                                                  \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |          \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define SIP_METHOD_MAX 32

static __always_inline int sip_token(__u8 c)
{
	__u8 l = c | 0x20;
	if ((l >= 'a' && l <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return c == '-' || c == '.' || c == '!' || c == '%' || c == '*' || c == '_' || c == '+' ||
	       c == '`' || c == '\'' || c == '~';
}

static __always_inline int sip_maybe(__u64 w)
{
	if (w == S8('S', 'I', 'P', '/', '2', '.', '0', ' '))
		return 1;
	__u8 b1 = (w >> 8) & 0xff;
	return sip_token(w & 0xff) && (b1 == ' ' || sip_token(b1));
}

/* sip_scheme: the bytes at p (p + 5 <= end checked) start "sip:", "sips:"
 * or "tel:" in any case. */
static __always_inline int sip_scheme(__u8 *p)
{
	__u32 s = ((__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24) |
		  0x20202020; /* ':' has 0x20 set: "SIPS:" folds too */
	if (s == ('s' | 'i' << 8 | 'p' << 16 | ':' << 24) ||
	    s == ('t' | 'e' << 8 | 'l' << 16 | ':' << 24))
		return 1;
	return s == ('s' | 'i' << 8 | 'p' << 16 | 's' << 24) && p[4] == ':';
}

/*
 * is_sip: k's payload starts a SIP start line (see above). Reads the
 * linear data only; when the payload goes on beyond it (a TC frame whose
 * payload is not linear, where w came from bpf_skb_load_bytes), a method
 * that runs up to there counts, so nothing the agent would keep is lost
 * (the agent checks the whole line again).
 */
static __always_inline int is_sip(void *data, void *end, struct pkt *k)
{
	__u64 w = k->w;
	if (!sip_maybe(w))
		return 0;
	if (w == S8('S', 'I', 'P', '/', '2', '.', '0', ' '))
		return 1;
	__u32 o = k->poff;
	asm volatile("%0 &= 0x3fff" : "+r"(o));
	__u8 *p = data + o;
	/* 1: the payload ends in the linear data, so bytes past end are none. */
	int whole = o + k->payload_len <= (__u32)(end - data);
#pragma unroll
	for (int i = 1; i <= SIP_METHOD_MAX; i++) {
		if ((void *)(p + i + 1) > end)
			return !whole;
		__u8 c = p[i];
		if (c == ' ') {
			if ((void *)(p + i + 6) > end)
				return !whole;
			return sip_scheme(p + i + 1);
		}
		if (!sip_token(c))
			return 0;
	}
	return 0;
}

/*
 * RTCP (RFC 3550 §6.4): V(2)=2 P(1) RC(5) | PT(8) 200..207 | length(16)
 * in 32-bit words minus one, which must fit in the datagram.
 */
static __always_inline int is_rtcp(__u64 w, __u32 plen)
{
	__u8 b0 = w & 0xff;
	__u8 pt = (w >> 8) & 0xff;
	__u16 words = ((w >> 16) & 0xff) << 8 | ((w >> 24) & 0xff);
	if ((b0 & 0xc0) != 0x80 || pt < 200 || pt > 207)
		return 0;
	return ((__u32)words + 1) * 4 <= plen;
}

/* fast_parse results. */
#define FP_REJECT 0 /* certainly no match */
#define FP_PARSED 1 /* k filled as PARSE would have: classify it */
#define FP_SLOW 2   /* anything else: run PARSE */

/*
 * fast_parse takes the common frame in one pass, its fields in registers:
 * Ethernet II without VLAN tag, IPv4 (not a fragment) or IPv6 without
 * extension headers, UDP (not to the VXLAN port) or TCP, with the first
 * eight payload bytes (if any) in the linear data. Such a frame that can
 * match nothing (no SIP or DNS port, no SIP line, not RTCP, no flow
 * tracked yet) is rejected before anything is stored; PARSE and
 * xhep_classify decide every other frame exactly as before. A frame this
 * function does not fully understand goes to PARSE (FP_SLOW), so the
 * counters stay as they were. Measured: 41 -> ~33 ns per non-matching RTP
 * frame (BenchmarkFilter, empty program 25 ns).
 */
static __always_inline int fast_parse(void *data, void *end, struct pkt *k)
{
	void *ip = data + 14;
	if (ip + 20 > end)
		return FP_SLOW;
	__u16 et = *(__u16 *)(data + 12);
	__u32 ip_end, l4_off;
	__u8 proto;
	if (et == bpf_htons(ETH_P_IP)) {
		__u8 vihl = *(__u8 *)ip;
		__u32 ihl = (vihl & 0x0f) * 4;
		__u16 tot = bpf_ntohs(*(__u16 *)(ip + 2));
		if ((vihl >> 4) != 4 || ihl < 20 || tot < ihl ||
		    (*(__u16 *)(ip + 6) & bpf_htons(0x3fff)))
			return FP_SLOW;
		proto = *(__u8 *)(ip + 9);
		l4_off = 14 + ihl;
		ip_end = 14 + tot;
		k->is_ip = 4;
	} else if (et == bpf_htons(ETH_P_IPV6)) {
		if (ip + 40 > end || (*(__u8 *)ip >> 4) != 6)
			return FP_SLOW;
		proto = *(__u8 *)(ip + 6);
		l4_off = 14 + 40;
		ip_end = l4_off + bpf_ntohs(*(__u16 *)(ip + 4));
		k->is_ip = 6;
	} else {
		return FP_SLOW;
	}
	void *l4 = data + l4_off;
	__u16 sport, dport;
	__u32 poff, plen;
	if (proto == IPPROTO_UDP) {
		if (l4 + 8 > end)
			return FP_SLOW;
		dport = bpf_ntohs(*(__u16 *)(l4 + 2));
		__u16 ulen = bpf_ntohs(*(__u16 *)(l4 + 4));
		if (ulen < 8 || dport == vxlan_port)
			return FP_SLOW;
		poff = l4_off + 8;
		plen = ulen - 8;
	} else if (proto == IPPROTO_TCP) {
		if (l4 + 20 > end)
			return FP_SLOW;
		dport = bpf_ntohs(*(__u16 *)(l4 + 2));
		__u32 doff = (*(__u8 *)(l4 + 12) >> 4) * 4;
		if (doff < 20)
			return FP_SLOW;
		poff = l4_off + doff;
		plen = ip_end > poff ? ip_end - poff : 0;
	} else {
		return FP_SLOW;
	}
	sport = bpf_ntohs(*(__u16 *)l4);
	__u64 w = 0;
	__u8 have_w = 0;
	if (plen >= 8) {
		void *pw = data + poff;
		if (pw + 8 > end)
			return FP_SLOW; /* payload beyond the linear data */
		w = *(__u64 *)pw;
		have_w = 1;
	}
	if (!((port_class[bound16(sport)] | port_class[bound16(dport)]) & (PORT_SIP | PORT_DNS)) &&
	    !flows_active &&
	    !(have_w && sip_by_content && sip_maybe(w)) &&
	    !(have_w && rtcp_heuristic && proto == IPPROTO_UDP && is_rtcp(w, plen)))
		return FP_REJECT;
	k->l3_off = 14;
	k->poff = poff;
	k->l4 = proto;
	k->frag = FRAG_NONE;
	k->sport = sport;
	k->dport = dport;
	k->payload_len = plen;
	k->w = w;
	k->have_w = have_w;
	return FP_PARSED;
}

static __always_inline void flow_key_of(struct flow_key *f, struct pkt *k)
{
	int swap = 0;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (k->saddr[i] != k->daddr[i]) {
			swap = bpf_ntohl(k->saddr[i]) > bpf_ntohl(k->daddr[i]);
			goto done;
		}
	}
	swap = k->sport > k->dport;
done:
	if (swap) {
		__builtin_memcpy(f->a, k->daddr, 16);
		__builtin_memcpy(f->b, k->saddr, 16);
		f->pa = k->dport;
		f->pb = k->sport;
	} else {
		__builtin_memcpy(f->a, k->saddr, 16);
		__builtin_memcpy(f->b, k->daddr, 16);
		f->pa = k->sport;
		f->pb = k->dport;
	}
	f->proto = k->l4;
	f->_pad[0] = f->_pad[1] = f->_pad[2] = 0;
}

static __always_inline void frag_key_of(struct frag_key *f, struct pkt *k)
{
	__builtin_memcpy(f->saddr, k->saddr, 16);
	__builtin_memcpy(f->daddr, k->daddr, 16);
	f->id = k->frag_id;
	f->proto = k->is_ip;
	f->_pad[0] = f->_pad[1] = f->_pad[2] = 0;
}

static __always_inline int ap_eq(const volatile struct addr_port *e, __u32 *a, __u16 port)
{
	return e->port == port && e->addr[0] == a[0] && e->addr[1] == a[1] &&
	       e->addr[2] == a[2] && e->addr[3] == a[3];
}

static __always_inline int excluded(struct pkt *k)
{
	if (exclude_n <= EXCLUDE_INLINE) {
#pragma unroll
		for (int i = 0; i < EXCLUDE_INLINE; i++) {
			if (i >= exclude_n)
				break;
			if (ap_eq(&exclude_list[i], k->daddr, k->dport) ||
			    ap_eq(&exclude_list[i], k->saddr, k->sport))
				return 1;
		}
		return 0;
	}
	struct addr_port ap = {};
	__builtin_memcpy(ap.addr, k->daddr, 16);
	ap.port = k->dport;
	if (bpf_map_lookup_elem(&exclude, &ap))
		return 1;
	__builtin_memcpy(ap.addr, k->saddr, 16);
	ap.port = k->sport;
	return bpf_map_lookup_elem(&exclude, &ap) != 0;
}

static __always_inline int in_trie(void *trie, struct pkt *k)
{
	struct lpm_key lk = {.prefixlen = 128};
	__builtin_memcpy(lk.addr, k->saddr, 16);
	if (bpf_map_lookup_elem(trie, &lk))
		return 1;
	__builtin_memcpy(lk.addr, k->daddr, 16);
	return bpf_map_lookup_elem(trie, &lk) != 0;
}

/* Allow/deny and exclude: 0 when the matched packet must not be captured. */
static __always_inline int admitted(struct pkt *k, struct counters *c, __u8 pc)
{
	if (has_exclude && (pc & PORT_EXCLUDE) && excluded(k)) {
		c->c[C_EXCLUDED]++;
		return 0;
	}
	if (has_deny && in_trie(&deny, k)) {
		c->c[C_FILTERED]++;
		return 0;
	}
	if (has_allow && !in_trie(&allow, k)) {
		c->c[C_FILTERED]++;
		return 0;
	}
	return 1;
}

#endif /* XHEP_FILTER_H */
