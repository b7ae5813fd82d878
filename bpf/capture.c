//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/*
 * xhep capture programs: XDP on ingress and TC on egress share the filter
 * in filter.h. In ringbuf mode a matching frame is copied (up to snaplen)
 * into the events ring buffer behind a struct event header, in a record
 * of the smallest size class that holds it, and the packet
 * continues (XDP_PASS / TC_ACT_OK). In afxdp mode the XDP program
 * redirects matching frames into the AF_XDP socket of their rx queue.
 */
#include "filter.h"
#include "rtp.h"

char __license[] SEC("license") = "Dual MIT/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} events SEC(".maps");

/* Kernels without a BPF ring buffer (before 5.8), or with perf_mode forced:
 * the same records through a perf event array, one buffer per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Force the event type into BTF for bpf2go -type. */
const struct event *unused_event __attribute__((unused));

/* frag_budget: at most frag_early_rate early fragments per CPU in each
 * one-second window. Called only for fragments nothing else matched. */
static __always_inline int frag_budget(struct counters *c)
{
	__u64 now = bpf_ktime_get_ns();
	if (now - c->frag_window >= 1000000000ULL) {
		c->frag_window = now;
		c->frag_tokens = frag_early_rate;
	}
	if (!c->frag_tokens)
		return 0;
	c->frag_tokens--;
	return 1;
}

/* xhep_classify returns the match classes of a parsed packet, 0 for none,
 * and records content-matched flows and matched first fragments. The
 * addresses are read (pkt_addrs) only once a lookup or a matched packet
 * needs them. Inlined: with the SRSO "Safe RET" mitigation a BPF-to-BPF
 * call and its return cost about 12 ns, a third of the non-matching path
 * (BenchmarkFilter). */
static __always_inline int xhep_classify(void *data, void *end, struct pkt *k, struct counters *c)
{
	__u8 one = 1;
	if (k->frag == FRAG_LATER) {
		if (!frags_active && !frag_early_rate)
			return 0;
		if (pkt_addrs(data, end, k))
			return 0;
		struct frag_key fk;
		frag_key_of(&fk, k);
		if (frags_active && bpf_map_lookup_elem(&frags, &fk))
			return MATCH_FRAGMENT;
		/* No matched first fragment (yet): the train may arrive last
		 * fragment first. Capture UDP ones within the budget and
		 * remember the datagram, so its first fragment follows. */
		if (!frag_early_rate || k->l4 != IPPROTO_UDP)
			return 0;
		if (bpf_map_lookup_elem(&frag_skip, &fk))
			return 0; /* its first fragment came first and matched nothing */
		if (!frag_budget(c)) {
			c->c[C_FRAG_EARLY_LIMITED]++;
			return 0;
		}
		if (!bpf_map_lookup_elem(&frag_early, &fk))
			bpf_map_update_elem(&frag_early, &fk, &one, BPF_ANY);
		if (!frag_early_active)
			frag_early_active = 1;
		c->c[C_FRAG_EARLY]++;
		return MATCH_FRAGMENT_EARLY;
	}
	if (k->l4 != IPPROTO_UDP && k->l4 != IPPROTO_TCP && k->l4 != IPPROTO_SCTP)
		return 0;
	__u8 pc = port_class[bound16(k->sport)] | port_class[bound16(k->dport)];
	__u8 m = 0;
	int addrs = 0;
	if (pc & PORT_SIP)
		m |= MATCH_SIP;
	if (pc & PORT_DNS)
		m |= MATCH_DNS;
	if (!m && k->l4 != IPPROTO_SCTP) {
		if (k->have_w) {
			if (sip_by_content && is_sip(data, end, k))
				m = MATCH_SIP_CONTENT;
			else if (rtcp_heuristic && k->l4 == IPPROTO_UDP && is_rtcp(k->w, k->payload_len))
				m = MATCH_RTCP;
		}
		if (!m && flows_active) {
			if (pkt_addrs(data, end, k))
				return 0;
			addrs = 1;
			struct flow_key fl;
			flow_key_of(&fl, k);
			if (bpf_map_lookup_elem(&flows, &fl))
				m = MATCH_FLOW;
		}
	}
	if (!m) {
		/* The first fragment of a datagram whose later fragments went up
		 * early goes up too, whatever it holds; one that matched nothing
		 * before any later fragment came keeps them from going up. */
		if (k->frag != FRAG_FIRST || !frag_early_rate || k->l4 != IPPROTO_UDP ||
		    (!addrs && pkt_addrs(data, end, k)))
			return 0;
		struct frag_key fk;
		frag_key_of(&fk, k);
		if (frag_early_active && bpf_map_lookup_elem(&frag_early, &fk)) {
			bpf_map_delete_elem(&frag_early, &fk);
			return MATCH_FRAGMENT_EARLY;
		}
		if (!bpf_map_lookup_elem(&frag_skip, &fk))
			bpf_map_update_elem(&frag_skip, &fk, &one, BPF_ANY);
		return 0;
	}
	if (!addrs && ((has_exclude && (pc & PORT_EXCLUDE)) || has_deny || has_allow ||
		       (m & MATCH_SIP_CONTENT) || k->frag == FRAG_FIRST)) {
		if (pkt_addrs(data, end, k))
			return 0;
	}
	if (!admitted(k, c, pc))
		return 0;
	if (m & MATCH_SIP_CONTENT) {
		struct flow_key fl;
		flow_key_of(&fl, k);
		/* Look up first: an LRU update allocates a node before it finds
		 * the key exists. The lookup also refreshes the entry. */
		if (!bpf_map_lookup_elem(&flows, &fl) &&
		    bpf_map_update_elem(&flows, &fl, &one, BPF_NOEXIST) == 0) {
			c->c[C_FLOW_TRACKED]++;
			if (!flows_active)
				flows_active = 1;
		}
	}
	if (k->frag == FRAG_FIRST) {
		struct frag_key fk;
		frag_key_of(&fk, k);
		if (bpf_map_update_elem(&frags, &fk, &one, BPF_ANY) == 0) {
			c->c[C_FRAG_TRACKED]++;
			if (!frags_active)
				frags_active = 1;
		}
	}
	return m;
}

static __always_inline void count_match(struct counters *c, __u8 m)
{
	if (m & MATCH_SIP)
		c->c[C_SIP]++;
	if (m & MATCH_SIP_CONTENT)
		c->c[C_SIP_CONTENT]++;
	if (m & MATCH_RTCP)
		c->c[C_RTCP]++;
	if (m & MATCH_DNS)
		c->c[C_DNS]++;
	if (m & MATCH_FLOW)
		c->c[C_FLOW]++;
	if (m & MATCH_FRAGMENT)
		c->c[C_FRAGMENT]++;
}

/*
 * submit_flags: wake the reader only now and then. Each CPU counts the
 * bytes it submitted since it last woke the reader and forces a wakeup
 * once they reach wakeup_bytes (the loader divides the configured
 * threshold by the CPU count); otherwise the record is submitted without
 * a wakeup and the reader finds it on its next poll. A per-CPU counter
 * costs about a nanosecond where bpf_ringbuf_query, a helper call, cost
 * about 8 ns (BenchmarkFilter). 0: the kernel's adaptive wakeup.
 */
static __always_inline __u64 submit_flags(struct counters *c, __u32 size)
{
	if (!wakeup_bytes)
		return 0;
	__u64 n = c->unwoken + size;
	if (n >= wakeup_bytes) {
		c->unwoken = 0;
		return BPF_RB_FORCE_WAKEUP;
	}
	c->unwoken = n;
	return BPF_RB_NO_WAKEUP;
}

/*
 * copy_linear copies len bytes from the linear packet data into a ring
 * record of cap bytes with direct loads and stores: 64-byte blocks, then
 * 8-byte words, then the last 8 bytes once more (overlapping; len >= 8).
 * No helper call: bpf_xdp_load_bytes cost about 10 ns more for 600 bytes.
 * It returns nonzero when the verifier-visible bounds do not hold.
 */
static __always_inline int copy_linear(void *dst, void *data, void *end, __u32 len, __u32 cap)
{
	__u32 off = 0;
	for (int i = 0; i < MAX_SNAPLEN / 64; i++) {
		if (off + 64 > len)
			break;
		void *s = data + off;
		if (s + 64 > end || off > cap - 64)
			return -1;
		__u64 *d = dst + off;
		__u64 *q = s;
		d[0] = q[0];
		d[1] = q[1];
		d[2] = q[2];
		d[3] = q[3];
		d[4] = q[4];
		d[5] = q[5];
		d[6] = q[6];
		d[7] = q[7];
		off += 64;
	}
	for (int i = 0; i < 7; i++) {
		if (off + 8 > len)
			break;
		void *s = data + off;
		if (s + 8 > end || off > cap - 8)
			return -1;
		*(__u64 *)(dst + off) = *(__u64 *)s;
		off += 8;
	}
	if (off < len) {
		__u32 t = len - 8;
		asm volatile("" : "+r"(t));
		if (t > cap - 8)
			return -1;
		void *s = data + t;
		if (s + 8 > end)
			return -1;
		*(__u64 *)(dst + t) = *(__u64 *)s;
	}
	return 0;
}

/*
 * emit_class reserves a record of the constant size class N (the verifier
 * wants a constant reservation size), writes the header and copies len <=
 * N frame bytes behind it: straight from the linear packet data when the
 * frame is there, else with the load_bytes helper (non-linear skb).
 * Records follow the frame size in steps of at most twice the frame (size
 * classes 128 ... 9216), not the snap length.
 */
static __always_inline int emit_class(void *ctx, int is_xdp, void *data, void *end,
				      struct event *h, struct counters *c, const __u32 N)
{
	void *rec = bpf_ringbuf_reserve(&events, sizeof(struct event) + N, 0);
	if (!rec)
		return -1;
	__builtin_memcpy(rec, h, sizeof(*h));
	__u32 len = h->cap_len;
	asm volatile("" : "+r"(len));
	if (len > N)
		len = N;
	if (len < 8)
		len = 8;
	int err;
	if (data + len <= end)
		err = copy_linear(rec + sizeof(struct event), data, end, len, N);
	else
		err = load_bytes(ctx, is_xdp, 0, rec + sizeof(struct event), len);
	if (err) {
		bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
		return -2;
	}
	bpf_ringbuf_submit(rec, submit_flags(c, sizeof(struct event) + N));
	return 0;
}

static __always_inline int emit(void *ctx, int is_xdp, void *data, void *end, __u32 pkt_len,
				__u32 ifindex, __u8 egress, __u8 m, struct counters *c)
{
	__u32 len = pkt_len;
	if (len > snaplen)
		len = snaplen;
	if (len > MAX_SNAPLEN)
		len = MAX_SNAPLEN;
	if (len < 8)
		return -2; /* shorter than any frame the parser accepts */
	if (len < pkt_len)
		c->c[C_TRUNCATED]++;
	struct event h = {
		.ts = bpf_ktime_get_ns(),
		.ifindex = ifindex,
		.orig_len = pkt_len,
		.cap_len = len,
		.egress = egress,
		.class = m,
	};
	int r;
	if (perf_mode) {
		/* The kernel appends len bytes of the packet (BPF_F_CTXLEN_MASK)
		 * to the header: the same record as in the ring. A full per-CPU
		 * buffer is a drop, counted as a ring drop. */
		__u64 flags = BPF_F_CURRENT_CPU | ((__u64)len << 32);
		long e = bpf_perf_event_output(ctx, &perf_events, flags, &h, sizeof(h));
		if (e == 0)
			c->c[C_CAPTURED]++;
		else if (e == -ENOSPC)
			c->c[C_RING_DROP]++;
		else
			c->c[C_PARSE_ERR]++;
		return e == 0 ? 0 : -1;
	}
	if (len <= 128)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 128);
	else if (len <= 256)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 256);
	else if (len <= 512)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 512);
	else if (len <= 768)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 768);
	else if (len <= 1024)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 1024);
	else if (len <= 1536)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 1536);
	else if (len <= 2048)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 2048);
	else if (len <= 4096)
		r = emit_class(ctx, is_xdp, data, end, &h, c, 4096);
	else
		r = emit_class(ctx, is_xdp, data, end, &h, c, MAX_SNAPLEN);
	if (r == -1)
		c->c[C_RING_DROP]++;
	else if (r == 0)
		c->c[C_CAPTURED]++;
	else
		c->c[C_PARSE_ERR]++;
	return r;
}

#define DATA(x) ((void *)(long)(x)->data)
#define DATA_END(x) ((void *)(long)(x)->data_end)

/* The emit functions are inlined into the programs for the same reason as
 * xhep_classify: a BPF-to-BPF call costs ~12 ns under SRSO Safe RET. */
static __always_inline int xhep_emit_xdp(struct xdp_md *ctx, __u32 m, struct counters *c)
{
	if (!c)
		return -2;
	/* The program is loaded without BPF_F_XDP_HAS_FRAGS, so frames are
	 * linear and data_end - data is their whole length. */
	return emit(ctx, 1, DATA(ctx), DATA_END(ctx), DATA_END(ctx) - DATA(ctx), ctx->ingress_ifindex, 0,
		    m, c);
}

static __always_inline int xhep_emit_skb(struct __sk_buff *skb, __u32 m, struct counters *c)
{
	if (!c)
		return -2;
	return emit(skb, 0, DATA(skb), DATA_END(skb), skb->len, skb->ifindex, 1, m, c);
}

/* frame_match parses and classifies a frame: its match classes, 0 for
 * none. Frames the fast path does not take go through PARSE; a TC frame
 * whose headers lie beyond the linear data is pulled in and parsed again.
 * Inlined with a constant is_xdp, so each program keeps its branch. */
static __always_inline __u8 frame_match(void *ctx, int is_xdp, struct counters *c)
{
	struct xdp_md *x = ctx;
	struct __sk_buff *skb = ctx;
	struct pkt k;
	int r = FP_SLOW;
	if (fast_path)
		r = is_xdp ? fast_parse(DATA(x), DATA_END(x), &k) : fast_parse(DATA(skb), DATA_END(skb), &k);
	if (r == FP_REJECT)
		return 0;
	if (r == FP_SLOW) {
		if (is_xdp) {
			r = PARSE(x, 1, xhep_l3_xdp, &k);
		} else {
			r = PARSE(skb, 0, xhep_l3_skb, &k);
			if (r == P_TRUNC && skb->len > skb->data_end - skb->data) {
				/* Headers beyond the linear part: pull some into it and retry. */
				__u32 pull = skb->len < 256 ? skb->len : 256;
				if (bpf_skb_pull_data(skb, pull) == 0)
					r = PARSE(skb, 0, xhep_l3_skb, &k);
			}
		}
		if (r != P_OK) {
			if (r != P_NOT_IP)
				c->c[C_PARSE_ERR]++;
			return 0;
		}
	}
	if (is_xdp)
		return xhep_classify(DATA(x), DATA_END(x), &k, c);
	return xhep_classify(DATA(skb), DATA_END(skb), &k, c);
}

SEC("xdp")
int xhep_xdp(struct xdp_md *ctx)
{
	int miss = afxdp_mode && drop_unmatched ? XDP_DROP : XDP_PASS;
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	if (!c)
		return XDP_PASS;
	c->c[C_SEEN]++;

	__u8 m = frame_match(ctx, 1, c);
	if (!m) {
		if (rtp_enabled)
			rtp_track(DATA(ctx), DATA_END(ctx));
		return miss;
	}
	count_match(c, m);
	if (afxdp_mode) {
		long act = bpf_redirect_map(&xsks, ctx->rx_queue_index, 0);
		if (act != XDP_REDIRECT) {
			c->c[C_REDIRECT_ERR]++;
			return miss;
		}
		c->c[C_CAPTURED]++;
		return act;
	}
	xhep_emit_xdp(ctx, m, c);
	return XDP_PASS;
}

SEC("tc")
int xhep_tc(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	if (!c)
		return TC_ACT_OK;
	c->c[C_SEEN]++;

	__u8 m = frame_match(skb, 0, c);
	if (!m) {
		if (rtp_enabled)
			rtp_track(DATA(skb), DATA_END(skb));
		return TC_ACT_OK;
	}
	count_match(c, m);
	xhep_emit_skb(skb, m, c);
	return TC_ACT_OK;
}
