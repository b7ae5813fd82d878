package bpf

// Counters are the kernel counters, summed over CPUs. Indices follow
// enum counter in filter.h (pinned by TestCEnumsMatchGo).
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

// Counter indices, enum counter in filter.h by name (C_SEEN is cSeen).
const (
	cSeen = iota
	cSIP
	cSIPContent
	cRTCP
	cDNS
	cFlow
	cFragment
	cCaptured
	cRingDrop
	cFragTracked
	cFlowTracked
	cParseErr
	cExcluded
	cFiltered
	cTruncated
	cRedirectErr
	cFragEarly
	cFragEarlyLimited
	numCounters // C_MAX
)

func countersFrom(c *[numCounters]uint64) Counters {
	return Counters{
		Seen: c[cSeen], SIP: c[cSIP], SIPContent: c[cSIPContent], RTCP: c[cRTCP], DNS: c[cDNS],
		Flow: c[cFlow], Fragment: c[cFragment], Captured: c[cCaptured], RingDrops: c[cRingDrop],
		FragTracked: c[cFragTracked], FlowTracked: c[cFlowTracked], ParseErrors: c[cParseErr],
		Excluded: c[cExcluded], Filtered: c[cFiltered], Truncated: c[cTruncated],
		RedirectErrors: c[cRedirectErr], FragEarly: c[cFragEarly], FragEarlyLimited: c[cFragEarlyLimited],
	}
}

// Port classes, the bits of port_class[port] in filter.h.
const (
	portSIP     = 1 // PORT_SIP
	portDNS     = 2 // PORT_DNS
	portExclude = 4 // PORT_EXCLUDE: some exclude entry has this port
)

// excludeInline is EXCLUDE_INLINE in filter.h: exclude entries compared
// inline from .rodata (exclude_list) rather than through the map.
const excludeInline = 4
