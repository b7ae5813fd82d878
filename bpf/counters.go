package bpf

// Counters are the kernel counters, summed over CPUs. Indices follow
// enum counter in filter.h.
type Counters struct {
	Seen           uint64 // frames the programs saw
	SIP            uint64 // matched by SIP port
	SIPContent     uint64 // matched by SIP request/status line on another port
	RTCP           uint64 // matched by the RTCP heuristic
	DNS            uint64 // matched by DNS port
	Flow           uint64 // matched as continuation of a content-matched flow
	Fragment       uint64 // later fragments of matched datagrams
	Captured       uint64 // written to the ring buffer or redirected to AF_XDP
	RingDrops      uint64 // matched but the ring buffer was full
	FragTracked    uint64 // first fragments recorded in the fragment map
	FlowTracked    uint64 // flows recorded in the flow map
	ParseErrors    uint64 // truncated or malformed headers
	Excluded       uint64 // matched but to or from the agent's own HEP output
	Filtered       uint64 // matched but refused by the allow/deny prefixes
	Truncated      uint64 // captured shorter than on the wire (snap length)
	RedirectErrors uint64 // afxdp: no socket on the frame's queue
	// FragEarly: UDP fragments captured before their datagram's first
	// fragment (a train arriving in reverse order), within the budget.
	FragEarly uint64
	// FragEarlyLimited: such fragments not captured, over the budget
	// (Config.FragEarlyRate per CPU per second).
	FragEarlyLimited uint64
}

const numCounters = 18

func countersFrom(c *[numCounters]uint64) Counters {
	return Counters{
		Seen: c[0], SIP: c[1], SIPContent: c[2], RTCP: c[3], DNS: c[4], Flow: c[5],
		Fragment: c[6], Captured: c[7], RingDrops: c[8], FragTracked: c[9],
		FlowTracked: c[10], ParseErrors: c[11], Excluded: c[12], Filtered: c[13],
		Truncated: c[14], RedirectErrors: c[15], FragEarly: c[16], FragEarlyLimited: c[17],
	}
}
