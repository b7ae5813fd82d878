/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Minimal kernel UAPI declarations for the xhep BPF programs: only what
 * they read, copied from linux/bpf.h, linux/if_ether.h, linux/in.h and
 * linux/pkt_cls.h (UAPI, stable ABI), so that the build needs no
 * vmlinux.h and no system kernel headers. The libbpf helper headers beside
 * this file are copied unchanged from libbpf 1.1.2 (Debian 12 libbpf-dev).
 */
#ifndef XHEP_TYPES_H
#define XHEP_TYPES_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;

/* enum bpf_map_type (linux/bpf.h), the values used here. */
enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_LPM_TRIE = 11,
	BPF_MAP_TYPE_XSKMAP = 17,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* Map creation flags. */
#define BPF_F_NO_PREALLOC (1U << 0)
#define BPF_F_RDONLY_PROG (1U << 7)

/* bpf_map_update_elem flags. */
#define BPF_ANY 0
#define BPF_NOEXIST 1

/* Ring buffer submit flags and query (linux/bpf.h). */
#define BPF_RB_NO_WAKEUP (1ULL << 0)
#define BPF_RB_FORCE_WAKEUP (1ULL << 1)
#define BPF_RB_AVAIL_DATA 0
/* bpf_perf_event_output flags: this CPU's buffer; bytes of the packet
 * (context) to append, in the upper 32 bits (BPF_F_CTXLEN_MASK). */
#define BPF_F_CURRENT_CPU 0xffffffffULL
#define BPF_F_CTXLEN_MASK (0xfffffULL << 32)
#define ENOSPC 28

/* enum xdp_action. */
enum xdp_action {
	XDP_ABORTED = 0,
	XDP_DROP,
	XDP_PASS,
	XDP_TX,
	XDP_REDIRECT,
};

/* TC actions (linux/pkt_cls.h). */
#define TC_ACT_OK 0

/* Ethertypes (linux/if_ether.h), host order. */
#define ETH_P_IP 0x0800
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100
#define ETH_P_IPV6 0x86DD
#define ETH_P_TEB 0x6558    /* transparent Ethernet bridging (GRE) */
#define ETH_P_ERSPAN 0x88BE /* ERSPAN type I and II */
#define ETH_P_ERSPAN3 0x22EB

/* IP protocol numbers (linux/in.h, linux/in6.h). */
#define IPPROTO_HOPOPTS 0
#define IPPROTO_IPIP 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_GRE 47
#define IPPROTO_AH 51
#define IPPROTO_DSTOPTS 60
#define IPPROTO_SCTP 132
#define IPPROTO_MH 135

#define __bpf_md_ptr(type, name) \
	union {                      \
		type name;               \
		__u64 : 64;              \
	} __attribute__((aligned(8)))

struct bpf_flow_keys;
struct bpf_sock;

/* The context of XDP programs (linux/bpf.h). */
struct xdp_md {
	__u32 data;
	__u32 data_end;
	__u32 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};

/* The context of TC programs (linux/bpf.h). */
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 data_meta;
	__bpf_md_ptr(struct bpf_flow_keys *, flow_keys);
	__u64 tstamp;
	__u32 wire_len;
	__u32 gso_segs;
	__bpf_md_ptr(struct bpf_sock *, sk);
	__u32 gso_size;
	__u8 tstamp_type;
	__u32 : 24;
	__u64 hwtstamp;
};

#endif /* XHEP_TYPES_H */
