/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * RTP stream statistics in the kernel (issue 16). Frames the filter did
 * not capture are looked at here: UDP to or from a media endpoint the
 * agent learnt from SDP (rtp_endpoints), carrying RTP version 2 with a
 * payload type that endpoint announced, update the per-stream state in
 * rtp_streams (key: addresses, ports, SSRC). Nothing is copied to
 * userspace; the agent reads the map. The arithmetic is hep/rtp's
 * State.Update, integer for integer (the Go tests run both on the same
 * packets): RFC 3550 A.1 sequence tracking without probation, A.3 loss,
 * A.8 jitter ×16 in timestamp units, a 64-packet window for duplicates,
 * loss runs and delay variation in buckets. Each payload type has its
 * clock (pt_clock indexes the endpoint's clocks): jitter is kept in the
 * units of the packet's type's clock, rescaled when the clock changes; max
 * and mean jitter and the delay variation are turned into ns by a
 * multiplication with the clock's ns per unit ×256, so no division by the
 * clock rate happens here beyond the arrival time's.
 *
 * Old verifiers: bounded unrolled loops, indices checked against the array
 * length before use, helpers of Linux 4.x (map lookup/update, ktime_get_ns)
 * and bpf_spin_lock (5.1). Two CPUs may update one stream (RPS, a flow
 * spread over queues, XDP and TC at once): the update runs under one of
 * RTP_LOCKS spin locks in an array chosen by the stream key's hash
 * (lock striping: an LRU hash cannot hold a bpf_spin_lock on 5.10 and
 * 6.1, an array can since 5.1). The critical section has no helper call
 * and no packet access.
 */
#ifndef XHEP_RTP_H
#define XHEP_RTP_H

#define RTP_BURSTS 10
#define RTP_DV 11
#define RTP_MAX_DROPOUT 3000
#define RTP_MAX_MISORDER 100
#define RTP_SEQ_MOD 65536
#define RTP_CLOCKS 4 /* hep/rtp.MaxClocks */
#define RTP_LOCKS 1024 /* power of two */

/* 1: look frames up in rtp_endpoints (set by the loader when enabled). */
volatile const __u8 rtp_enabled = 0;

/* An RTP clock rate (hep/rtp.Clock). */
struct rtp_clock {
	__u64 ns_q8; /* ns per timestamp unit ×256 */
	__u32 hz;
	__u32 _pad;
};

/* A media endpoint announced in SDP (c= address, m= port). */
struct rtp_ep {
	__u64 call;                          /* FNV-1a 64 of the Call-ID */
	struct rtp_clock clocks[RTP_CLOCKS]; /* [0]: the default */
	__u32 pt_mask[4];                    /* bit n of word n/32: payload type n announced */
	__u8 pt_clock[128];                  /* index in clocks of payload type n's clock */
	__u8 dtmf_pt;                        /* telephone-event payload type, 0 if none */
	__u8 _pad[7];
};

/* hep/rtp.DVBoundsMS in ns. */
#define RTP_DV_NS(i) ((__u64)((i) < 6 ? 10 * ((i) + 1) : (i) == 6 ? 80 : (i) == 7 ? 100 : (i) == 8 ? 150 : 200) * 1000000ULL)

struct rtp_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport; /* host order */
	__u16 dport;
	__u32 ssrc;  /* host order */
};

/* Mirrors hep/rtp.State; bpf/rtp_linux.go converts. */
struct rtp_stream {
	__u64 packets;
	__u64 bytes;
	__u64 first_ns;
	__u64 last_ns;
	__u64 max_delta;
	__u64 window;
	__u64 max_jitter_ns;
	__u64 jitter_sum_ns;
	__u64 call;
	__u32 base_seq;
	__u32 cycles;
	__u32 bad_seq;
	__u32 received;
	__u32 prior_expected;
	__u32 prior_received;
	__u32 duplicates;
	__u32 out_of_order;
	__u32 seq_resets;
	__u32 bad_jumps;
	__u32 jitter16;
	__u32 clock; /* Hz of jitter16's units */
	__u32 jitter_samples;
	__u32 prev_transit;
	__u32 min_transit;
	__u32 pt_changes;
	__u32 markers;
	__u32 dtmf_pkts;
	__u32 dtmf_events;
	__u32 last_dtmf_ts;
	__u32 bursts[RTP_BURSTS];
	__u32 dv[RTP_DV];
	__u16 max_seq;
	__u8 have_transit;
	__u8 last_pt;
	__u8 dir; /* 0: to the announced endpoint, 1: from it */
	__u8 _pad[3];
};

/* Counter indices of rtp_counters; must match bpf/rtp_linux.go. */
enum rtp_counter {
	RTP_C_PACKETS = 0, /* RTP packets counted into a stream */
	RTP_C_NEW,         /* streams created (created - live - removed = LRU evictions) */
	RTP_C_NOT_RTP,     /* to/from an endpoint but not RTP v2 of an announced type */
	RTP_C_NO_ROOM,     /* a new stream could not be inserted */
	RTP_C_MAX = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set from --rtp-max-endpoints by the loader */
	__type(key, struct addr_port);
	__type(value, struct rtp_ep);
} rtp_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1); /* set from --rtp-max-streams by the loader */
	__type(key, struct rtp_key);
	__type(value, struct rtp_stream);
} rtp_streams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[RTP_C_MAX]);
} rtp_counters SEC(".maps");

/* linux/bpf.h's (headers/ has only the forward declaration). */
struct bpf_spin_lock {
	__u32 val;
};

struct rtp_lock {
	struct bpf_spin_lock l;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RTP_LOCKS);
	__type(key, __u32);
	__type(value, struct rtp_lock);
} rtp_locks SEC(".maps");

/* Tests set this to drive the arrival clock (prog.Run); 0: bpf_ktime_get_ns. */
__u64 rtp_test_now = 0;

/* The initial value of a new stream (never written). */
struct rtp_stream rtp_zero = {};

static __always_inline void rtp_count(__u32 i)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&rtp_counters, &zero);
	if (c && i < RTP_C_MAX)
		c[i]++;
}

static __always_inline void rtp_init_seq(struct rtp_stream *s, __u16 seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RTP_SEQ_MOD + 1;
	s->cycles = 0;
	s->received = 0;
	s->window = 1;
}

/* rtp_update_seq: RFC 3550 A.1 update_seq, no probation. 0: not counted. */
static __always_inline int rtp_update_seq(struct rtp_stream *s, __u16 seq)
{
	__u16 udelta = seq - s->max_seq;
	if (udelta == 0) {
		s->duplicates++;
	} else if (udelta < RTP_MAX_DROPOUT) {
		if (seq < s->max_seq)
			s->cycles += RTP_SEQ_MOD;
		s->max_seq = seq;
		if (udelta >= 64)
			s->window = 1;
		else
			s->window = (s->window << udelta) | 1;
		__u32 gap = (__u32)udelta - 1;
		if (gap > 0) {
			__u32 i = gap >= RTP_BURSTS ? RTP_BURSTS - 1 : gap - 1;
			if (i < RTP_BURSTS)
				s->bursts[i]++;
		}
	} else if (udelta <= RTP_SEQ_MOD - RTP_MAX_MISORDER) {
		if ((__u32)seq == s->bad_seq) {
			s->prior_expected += s->cycles + (__u32)s->max_seq - s->base_seq + 1;
			s->prior_received += s->received;
			s->seq_resets++;
			rtp_init_seq(s, seq);
			s->have_transit = 0;
		} else {
			s->bad_seq = ((__u32)seq + 1) & (RTP_SEQ_MOD - 1);
			s->bad_jumps++;
			return 0;
		}
	} else {
		__u16 back = s->max_seq - seq;
		if (back < 64 && (s->window & (1ULL << back))) {
			s->duplicates++;
		} else {
			if (back < 64)
				s->window |= 1ULL << back;
			s->out_of_order++;
		}
	}
	s->received++;
	return 1;
}

static __always_inline void rtp_dtmf(struct rtp_stream *s, struct rtp_ep *ep, __u8 pt, __u32 ts)
{
	if (!ep->dtmf_pt || pt != ep->dtmf_pt)
		return;
	s->dtmf_pkts++;
	if (!s->dtmf_events || ts != s->last_dtmf_ts) {
		s->dtmf_events++;
		s->last_dtmf_ts = ts;
	}
}

/* rtp_jitter: RFC 3550 A.8, J16 += |D| - (J16 + 8) >> 4, in the units of
 * the packet's payload type's clock. */
static __always_inline void rtp_jitter(struct rtp_stream *s, struct rtp_ep *ep, __u8 pt, __u32 ts, __u64 now)
{
	if (ep->dtmf_pt && pt == ep->dtmf_pt)
		return;
	struct rtp_clock *c = &ep->clocks[ep->pt_clock[pt & 127] & (RTP_CLOCKS - 1)];
	__u32 hz = c->hz;
	__u64 q8 = c->ns_q8;
	if (!hz) {
		hz = 8000;
		q8 = 32000000;
	}
	if (hz != s->clock) {
		if (s->clock)
			s->jitter16 = (__u32)((__u64)s->jitter16 * hz / s->clock);
		s->clock = hz;
		s->have_transit = 0;
	}
	__u32 arrival = (__u32)((now - s->first_ns) * hz / 1000000000ULL);
	__u32 transit = arrival - ts;
	if (!s->have_transit) {
		s->have_transit = 1;
		s->prev_transit = transit;
		s->min_transit = transit;
		s->dv[0]++;
		return;
	}
	__s32 d = (__s32)(transit - s->prev_transit);
	s->prev_transit = transit;
	if (d < 0)
		d = -d;
	s->jitter16 += (__u32)d - ((s->jitter16 + 8) >> 4);
	__u64 jns = ((__u64)s->jitter16 * q8) >> 12;
	if (jns > s->max_jitter_ns)
		s->max_jitter_ns = jns;
	s->jitter_sum_ns += jns;
	s->jitter_samples++;
	if ((__s32)(transit - s->min_transit) < 0)
		s->min_transit = transit;
	__u64 rel = ((__u64)(transit - s->min_transit) * q8) >> 8;
	__u32 n = 0;
#pragma unroll
	for (int i = 0; i < RTP_DV - 1; i++)
		if (rel > RTP_DV_NS(i))
			n = i + 1;
	if (n < RTP_DV)
		s->dv[n]++;
}

/* rtp_update is hep/rtp State.Update. */
static __always_inline void rtp_update(struct rtp_stream *s, struct rtp_ep *ep, __u8 b1, __u16 seq,
				       __u32 ts, __u32 len, __u64 now)
{
	__u8 pt = b1 & 0x7f;
	s->packets++;
	s->bytes += len;
	if (b1 & 0x80)
		s->markers++;
	if (s->packets == 1) {
		s->first_ns = now;
		s->last_ns = now;
		s->last_pt = pt;
		s->call = ep->call;
		rtp_init_seq(s, seq);
		s->received = 1;
		rtp_dtmf(s, ep, pt, ts);
		rtp_jitter(s, ep, pt, ts, now);
		return;
	}
	if (now > s->last_ns) {
		__u64 d = now - s->last_ns;
		if (d > s->max_delta)
			s->max_delta = d;
		s->last_ns = now;
	}
	__u8 dt = ep->dtmf_pt;
	if (pt != s->last_pt && pt != dt && s->last_pt != dt) {
		s->pt_changes++;
		s->have_transit = 0;
	}
	if (pt != dt || !dt)
		s->last_pt = pt;
	if (!rtp_update_seq(s, seq))
		return;
	rtp_dtmf(s, ep, pt, ts);
	rtp_jitter(s, ep, pt, ts, now);
}

/*
 * rtp_track looks at a frame the filter did not capture: Ethernet (one
 * optional 802.1Q tag), IPv4 without fragmentation or IPv6 without
 * extension headers, UDP, and the 12-byte RTP header, all in the linear
 * data. Addresses are kept IPv4-mapped as in the filter's keys.
 */
static __always_inline void rtp_track(void *data, void *end)
{
	void *p = data + 14;
	if (p > end)
		return;
	__u16 et = *(__u16 *)(data + 12);
	if (et == bpf_htons(ETH_P_8021Q)) {
		if (data + 18 > end)
			return;
		et = *(__u16 *)(data + 16);
		p += 4;
	}
	struct rtp_key k;
	void *l4;
	if (et == bpf_htons(ETH_P_IP)) {
		if (p + 20 > end)
			return;
		__u8 vihl = *(__u8 *)p;
		if ((vihl >> 4) != 4 || *(__u8 *)(p + 9) != IPPROTO_UDP ||
		    (*(__u16 *)(p + 6) & bpf_htons(0x3fff)))
			return;
		map_v4(k.saddr, *(__u32 *)(p + 12));
		map_v4(k.daddr, *(__u32 *)(p + 16));
		l4 = p + (vihl & 0x0f) * 4;
	} else if (et == bpf_htons(ETH_P_IPV6)) {
		if (p + 40 > end || *(__u8 *)(p + 6) != IPPROTO_UDP)
			return;
		__builtin_memcpy(k.saddr, p + 8, 16);
		__builtin_memcpy(k.daddr, p + 24, 16);
		l4 = p + 40;
	} else {
		return;
	}
	if (l4 + 8 + 12 > end)
		return;
	k.sport = bpf_ntohs(*(__u16 *)l4);
	k.dport = bpf_ntohs(*(__u16 *)(l4 + 2));
	__u32 ulen = bpf_ntohs(*(__u16 *)(l4 + 4));

	struct addr_port ep_key = {};
	__builtin_memcpy(ep_key.addr, k.daddr, 16);
	ep_key.port = k.dport;
	__u8 dir = 0;
	struct rtp_ep *ep = bpf_map_lookup_elem(&rtp_endpoints, &ep_key);
	if (!ep) {
		__builtin_memcpy(ep_key.addr, k.saddr, 16);
		ep_key.port = k.sport;
		ep = bpf_map_lookup_elem(&rtp_endpoints, &ep_key);
		if (!ep)
			return;
		dir = 1;
	}
	void *r = l4 + 8;
	__u8 b0 = *(__u8 *)r;
	__u8 b1 = *(__u8 *)(r + 1);
	__u8 pt = b1 & 0x7f;
	if ((b0 & 0xc0) != 0x80 || ulen < 8 + 12 + (__u32)(b0 & 0x0f) * 4 ||
	    !(ep->pt_mask[(pt >> 5) & 3] & (1U << (pt & 31)))) {
		rtp_count(RTP_C_NOT_RTP);
		return;
	}
	__u16 seq = bpf_ntohs(*(__u16 *)(r + 2));
	__u32 ts = bpf_ntohl(*(__u32 *)(r + 4));
	k.ssrc = bpf_ntohl(*(__u32 *)(r + 8));
	__u64 now = rtp_test_now ? rtp_test_now : bpf_ktime_get_ns();
	struct rtp_stream *s = bpf_map_lookup_elem(&rtp_streams, &k);
	if (!s) {
		if (bpf_map_update_elem(&rtp_streams, &k, &rtp_zero, BPF_NOEXIST) == 0)
			rtp_count(RTP_C_NEW);
		s = bpf_map_lookup_elem(&rtp_streams, &k);
		if (!s) {
			rtp_count(RTP_C_NO_ROOM);
			return;
		}
		s->dir = dir;
	}
	__u32 li = k.ssrc ^ k.saddr[3] ^ k.daddr[3] ^ ((__u32)k.sport << 16 | k.dport);
	li = (li ^ (li >> 16)) & (RTP_LOCKS - 1);
	struct rtp_lock *l = bpf_map_lookup_elem(&rtp_locks, &li);
	if (!l)
		return;
	bpf_spin_lock(&l->l);
	rtp_update(s, ep, b1, seq, ts, ulen - 8, now);
	bpf_spin_unlock(&l->l);
	rtp_count(RTP_C_PACKETS);
}

#endif
