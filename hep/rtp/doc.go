// Package rtp holds the userspace truth for RTP media quality: the RTP fixed
// header ([Header]), the per-stream statistics of RFC 3550 Appendix A.1,
// A.3 and A.8 plus the figures xhep keeps beside them ([Stream],
// [Snapshot]), the ITU-T G.107 E-model with the codec impairments of
// G.113 ([EModel], [CodecFor]) and the HEP type 34 quality report in the
// rtpagent JSON shape heplify-server and homer-app read ([Report]).
//
// The same arithmetic runs in the kernel (bpf/rtp.h): integers only, the
// jitter kept ×16 in timestamp units as rtpengine's kernel module keeps
// it, thresholds in timestamp units so no division happens per packet.
// [Stream.Update] is the reference the BPF program is tested against, and
// the code path the agent uses to compute the same figures from a pcap
// file (--read).
//
// RTP fixed header (RFC 3550 §5.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|V=2|P|X|  CC   |M|     PT      |       sequence number         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           timestamp                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           synchronization source (SSRC) identifier            |
//	+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//	|            contributing source (CSRC) identifiers (CC × 4)    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| extension: profile (16) | length in words (16) | words...     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// RTCP shares the port with RTP under rtcp-mux; its packet types 200–204
// put 72–76 in the PT field (RFC 5761 §4), which [Header.DecodeFromBytes]
// rejects with [ErrRTCP].
package rtp
