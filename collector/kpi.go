package collector

import (
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/collector/alias"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtcp"
	"github.com/xhep/xhep/hep/sip"
)

// The SIP KPIs, labelled per capture node and peer/trunk (see the README's
// "Operating xhep" for the definitions and the PromQL built on them):
//
//   - every request and response, by method (a response's is its CSeq
//     method), status code and class;
//   - retransmissions: the same message (node, addresses, Call-ID, CSeq,
//     method or status, top Via branch) seen again within 32 s (64·T1,
//     RFC 3261 timers B/F), counted and otherwise ignored by the KPIs;
//   - per initial INVITE (no To tag): an attempt, its final outcome
//     (answered 2xx, redirected 3xx, user 486/480/600/603, cancelled 487,
//     failed other), the session request delay (RFC 6076 SRD: to the first
//     18x or final response, 100 Trying excluded), the time to 200 OK;
//   - per answered call: active calls (200 OK until BYE or the call
//     timeout) and the session duration (RFC 6076 SDT: 200 OK to BYE), whose
//     mean is the ACD;
//   - REGISTER outcomes (success, challenge, failure) and the registration
//     request delay (RFC 6076 RRD: first REGISTER of a registration, through
//     its 401/407 challenges, to the 2xx).
//
// Cardinality is bounded: peers are the names of the alias map (at most
// maxPeers, the rest and unknown addresses fold into "other"), nodes the
// first maxNodes seen (later ones fold into "other" and count in
// xhep_sip_kpi_label_overflow_total), methods the 14 of sipMethods plus
// "other", codes 100–699.

// kpiConfig bounds the KPI tables.
type kpiConfig struct {
	Aliases     *alias.Map
	MaxPeers    int           // peer label values besides "other"
	MaxNodes    int           // node label values besides "other"
	Window      time.Duration // how long an INVITE waits for its final response
	CallTimeout time.Duration // how long an answered call without BYE counts as active
	Max         int           // entries per table (INVITEs, calls, retransmission keys)
}

// retransWindow is how long a message is remembered to spot its
// retransmissions: 64·T1, the longest a transaction retransmits.
const retransWindow = 32 * time.Second

// kpiTable holds the state behind the SIP KPIs. Safe for concurrent use:
// one mutex guards all of it.
type kpiTable struct {
	cfg kpiConfig
	m   *metrics

	mu      sync.Mutex
	invites map[string]*inviteEntry // inviteKey: Call-ID, CSeq, top Via branch, node
	calls   map[string]*callEntry   // callKey: Call-ID, node, peer of answered calls
	regs    map[string]*inviteEntry // callKey: Call-ID, node, peer of registrations in progress
	// Retransmission keys in two generations, rotated every retransWindow:
	// a key is remembered between one and two windows.
	retrans, retransOld map[uint64]struct{}
	rotated             time.Time
	seed                maphash.Seed

	nodeByID   map[uint32]uint16
	nodeByName map[string]uint16
	nodeLabels []string // index → label; 0 is "other"
	peerIdx    map[string]uint16
	peerLabels []string // index → label; 0 is "other"
	sets       map[labelKey]*labelSet
	rtcpSets   []*rtcpSet // by node index
}

type inviteEntry struct {
	at   time.Time // capture time of the INVITE
	seen time.Time // wall time it was seen, for expiry
	ls   *labelSet // the INVITE's node and peer
	lk   labelKey
	srd  bool // SRD observed
}

type callEntry struct {
	answered time.Time // capture time of the 200 OK
	seen     time.Time // wall time, for the call timeout
	ls       *labelSet
}

type labelKey struct{ node, peer uint16 }

// labelSet holds the children of every family for one node and peer, all
// created (at 0) the first time the pair is seen.
type labelSet struct {
	node, peer string
	requests   [numMethods]prometheus.Counter
	retrans    [numMethods]prometheus.Counter
	responses  map[uint32]prometheus.Counter // method<<10 | code
	attempts   prometheus.Counter
	outcomes   [numOutcomes]prometheus.Counter
	register   [3]prometheus.Counter // success, challenge, failure
	srd        prometheus.Observer
	rrd        prometheus.Observer
	answer     prometheus.Observer
	duration   prometheus.Observer
	active     prometheus.Gauge
}

// methodNames bounds the method label; index numMethods-1 is "other".
var methodNames = [...]string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
	"SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE", "other"}

const numMethods = len(methodNames)

func methodIndex(m []byte) int {
	for i, n := range methodNames[:numMethods-1] {
		if string(m) == n {
			return i
		}
	}
	return numMethods - 1
}

// INVITE outcomes, the label values of xhep_sip_invite_outcomes_total.
const (
	outAnswered   = iota // 2xx
	outRedirected        // 3xx
	outUser              // 486, 480, 600, 603: the user was reached (RFC 6076 SEER)
	outCancelled         // 487 after CANCEL
	outFailed            // any other 4xx-6xx
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"answered", "redirected", "user", "cancelled", "failed"}

func outcomeOf(code int) int {
	switch {
	case code < 300:
		return outAnswered
	case code < 400:
		return outRedirected
	}
	switch code {
	case 486, 480, 600, 603:
		return outUser
	case 487:
		return outCancelled
	}
	return outFailed
}

var classNames = [7]string{"", "1xx", "2xx", "3xx", "4xx", "5xx", "6xx"}

func newKPITable(cfg kpiConfig, m *metrics) *kpiTable {
	t := &kpiTable{
		cfg: cfg, m: m,
		invites:    make(map[string]*inviteEntry),
		calls:      make(map[string]*callEntry),
		regs:       make(map[string]*inviteEntry),
		retrans:    make(map[uint64]struct{}),
		retransOld: make(map[uint64]struct{}),
		rotated:    time.Now(),
		seed:       maphash.MakeSeed(),
		nodeByID:   make(map[uint32]uint16),
		nodeByName: make(map[string]uint16),
		nodeLabels: []string{"other"},
		peerIdx:    make(map[string]uint16),
		peerLabels: []string{"other"},
		sets:       make(map[labelKey]*labelSet),
	}
	for _, n := range cfg.Aliases.Names() {
		if len(t.peerLabels) > cfg.MaxPeers {
			break
		}
		if n == "other" {
			continue
		}
		t.peerIdx[n] = uint16(len(t.peerLabels))
		t.peerLabels = append(t.peerLabels, n)
	}
	// Aliases beyond the limit fold into "other" (peerIdx misses them).
	return t
}

// nodeIndex returns the node label index of a message; the caller holds mu.
func (t *kpiTable) nodeIndex(msg *hep.Message) uint16 {
	if len(msg.NodeName) > 0 {
		if i, ok := t.nodeByName[string(msg.NodeName)]; ok {
			return i
		}
		if len(t.nodeLabels) > t.cfg.MaxNodes || !labelSafe(msg.NodeName) {
			t.m.labelOverflow[0].Inc()
			return 0
		}
		i := uint16(len(t.nodeLabels))
		t.nodeByName[string(msg.NodeName)] = i
		t.nodeLabels = append(t.nodeLabels, string(msg.NodeName))
		return i
	}
	if i, ok := t.nodeByID[msg.NodeID]; ok {
		return i
	}
	if len(t.nodeLabels) > t.cfg.MaxNodes {
		t.m.labelOverflow[0].Inc()
		return 0
	}
	i := uint16(len(t.nodeLabels))
	t.nodeByID[msg.NodeID] = i
	t.nodeLabels = append(t.nodeLabels, strconv.FormatUint(uint64(msg.NodeID), 10))
	return i
}

// labelSafe accepts node names of at most 64 printable ASCII bytes; others
// fold into "other" rather than become label values.
func labelSafe(b []byte) bool {
	if len(b) > 64 {
		return false
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// peerIndex names the peer of a message: the request's destination (the
// response's source) when the alias map knows it (with its port: a port
// alias names it before a port-less one), else the other address,
// else "other". A request and its responses so get the same peer.
func (t *kpiTable) peerIndex(msg *hep.Message, request bool) uint16 {
	first, second := msg.DstIP, msg.SrcIP
	fport, sport := msg.DstPort, msg.SrcPort
	if !request {
		first, second = second, first
		fport, sport = sport, fport
	}
	name, ok := t.cfg.Aliases.LookupPort(first, fport)
	if !ok {
		name, ok = t.cfg.Aliases.LookupPort(second, sport)
	}
	if !ok {
		return 0
	}
	return t.peerIdx[name] // 0 for names beyond the limit
}

// labels returns the label set of a node and peer; the caller holds mu.
func (t *kpiTable) labels(node, peer uint16) *labelSet {
	k := labelKey{node, peer}
	if ls := t.sets[k]; ls != nil {
		return ls
	}
	m := t.m
	n, p := t.nodeLabels[node], t.peerLabels[peer]
	ls := &labelSet{node: n, peer: p, responses: make(map[uint32]prometheus.Counter)}
	for i, meth := range methodNames {
		ls.requests[i] = m.sipRequests.WithLabelValues(meth, n, p)
		ls.retrans[i] = m.sipRetrans.WithLabelValues(meth, n, p)
	}
	ls.attempts = m.inviteAttempts.WithLabelValues(n, p)
	for i, o := range outcomeNames {
		ls.outcomes[i] = m.inviteOutcomes.WithLabelValues(o, n, p)
	}
	for i, o := range []string{"success", "challenge", "failure"} {
		ls.register[i] = m.register.WithLabelValues(o, n, p)
	}
	ls.srd = m.srd.WithLabelValues(n, p)
	ls.rrd = m.rrd.WithLabelValues(n, p)
	ls.answer = m.invite200.WithLabelValues(n, p)
	ls.duration = m.callDuration.WithLabelValues(n, p)
	ls.active = m.callsActive.WithLabelValues(n, p)
	t.sets[k] = ls
	return ls
}

func (ls *labelSet) response(m *metrics, method, code int) prometheus.Counter {
	k := uint32(method)<<10 | uint32(code)
	c := ls.responses[k]
	if c == nil {
		c = m.sipResponses.WithLabelValues(methodNames[method], strconv.Itoa(code), classNames[code/100], ls.node, ls.peer)
		ls.responses[k] = c
	}
	return c
}

// retransmission reports whether the message was seen within the last
// retransmission window, and remembers it. The caller holds mu.
func (t *kpiTable) retransmission(msg *hep.Message, s *sip.Message) bool {
	var h maphash.Hash
	h.SetSeed(t.seed)
	var b [8]byte
	put32 := func(v uint32) {
		b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		h.Write(b[:4])
	}
	put32(msg.NodeID)
	h.Write(msg.NodeName)
	a := msg.SrcIP.As16()
	h.Write(a[:])
	a = msg.DstIP.As16()
	h.Write(a[:])
	put32(uint32(msg.SrcPort)<<16 | uint32(msg.DstPort))
	h.Write(s.CallID)
	put32(s.CSeqNum)
	h.Write(s.CSeqMethod)
	h.WriteByte(0)
	if s.IsRequest {
		h.Write(s.Method)
	} else {
		put32(uint32(s.StatusCode))
	}
	h.WriteByte(0)
	if len(s.Via) > 0 {
		h.Write(s.Via[0].Branch)
	}
	if !s.IsRequest && len(s.To.Tag) > 0 {
		h.Write(s.To.Tag) // forked 200s differ by To tag
	}
	k := h.Sum64()
	if _, ok := t.retrans[k]; ok {
		return true
	}
	if _, ok := t.retransOld[k]; ok {
		return true
	}
	if len(t.retrans) < t.cfg.Max {
		t.retrans[k] = struct{}{}
	} else {
		t.m.kpiEvicted[tabRetrans].Inc()
	}
	return false
}

// Table indexes of xhep_sip_kpi_evicted_total and xhep_sip_kpi_entries.
const (
	tabInvites = iota
	tabCalls
	tabRetrans
	tabRegisters
	numTables
)

var tableNames = [numTables]string{"invites", "calls", "retransmissions", "registrations"}

// inviteKey appends the transaction key of a message to buf: Call-ID, CSeq
// number, top Via branch and node. A proxy's two legs share Call-ID and
// CSeq but not the branch, so each leg is a transaction of its own; a
// response carries its request's top Via.
func inviteKey(buf []byte, s *sip.Message, node uint16) []byte {
	buf = append(buf[:0], s.CallID...)
	buf = append(buf, ' ')
	buf = strconv.AppendUint(buf, uint64(s.CSeqNum), 10)
	buf = append(buf, ' ')
	if len(s.Via) > 0 {
		buf = append(buf, s.Via[0].Branch...)
	}
	buf = append(buf, ' ')
	return strconv.AppendUint(buf, uint64(node), 10)
}

// callKey appends the key of an answered call to buf: Call-ID, node and
// peer, so the legs of a call through a proxy (one Call-ID) towards
// different peers are calls of their own, each ended by its own BYE.
func callKey(buf []byte, s *sip.Message, k labelKey) []byte {
	buf = append(buf[:0], s.CallID...)
	buf = append(buf, ' ')
	buf = strconv.AppendUint(buf, uint64(k.node), 10)
	buf = append(buf, '/')
	return strconv.AppendUint(buf, uint64(k.peer), 10)
}

// observe updates the KPIs with a SIP message s carried by msg and captured
// at at. key is scratch space; observe returns it grown, for reuse.
func (t *kpiTable) observe(msg *hep.Message, s *sip.Message, at time.Time, key []byte) []byte {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Sub(t.rotated) >= retransWindow {
		t.retransOld, t.retrans = t.retrans, t.retransOld
		clear(t.retrans)
		t.rotated = now
	}
	lk := labelKey{t.nodeIndex(msg), t.peerIndex(msg, s.IsRequest)}
	ls := t.labels(lk.node, lk.peer)
	retrans := t.retransmission(msg, s)

	if s.IsRequest {
		meth := methodIndex(s.Method)
		ls.requests[meth].Inc()
		if retrans {
			ls.retrans[meth].Inc()
			return key
		}
		if len(s.CallID) == 0 {
			return key
		}
		switch meth {
		case 0: // INVITE
			if len(s.To.Tag) > 0 {
				return key // a re-INVITE inside a dialog: not a call attempt
			}
			key = inviteKey(key, s, lk.node)
			if _, ok := t.invites[string(key)]; ok {
				return key // a retransmission on another path keeps the first time
			}
			if len(t.invites) >= t.cfg.Max {
				t.m.kpiEvicted[tabInvites].Inc()
				return key
			}
			t.invites[string(key)] = &inviteEntry{at: at, seen: now, ls: ls, lk: lk}
			ls.attempts.Inc()
		case 4: // REGISTER: the first of a registration (challenges reuse the Call-ID) starts the RRD
			key = callKey(key, s, lk)
			if _, ok := t.regs[string(key)]; ok {
				return key
			}
			if len(t.regs) >= t.cfg.Max {
				t.m.kpiEvicted[tabRegisters].Inc()
				return key
			}
			t.regs[string(key)] = &inviteEntry{at: at, seen: now, ls: ls, lk: lk}
		case 2: // BYE
			key = callKey(key, s, lk)
			c := t.calls[string(key)]
			if c == nil {
				return key
			}
			delete(t.calls, string(key))
			c.ls.active.Dec()
			if d := at.Sub(c.answered).Seconds(); d >= 0 {
				c.ls.duration.Observe(d)
			}
		}
		return key
	}

	meth := methodIndex(s.CSeqMethod)
	code := s.StatusCode
	if code < 100 || code > 699 {
		return key // the dissector counts malformed status lines
	}
	ls.response(t.m, meth, code).Inc()
	if retrans {
		ls.retrans[meth].Inc()
		return key
	}
	switch meth {
	case 4: // REGISTER
		switch {
		case code >= 200 && code < 300:
			ls.register[0].Inc()
		case code == 401 || code == 407:
			ls.register[1].Inc()
		case code >= 300:
			ls.register[2].Inc()
		}
		if code < 200 || code == 401 || code == 407 {
			return key // the registration goes on
		}
		key = callKey(key, s, lk)
		e := t.regs[string(key)]
		if e == nil {
			return key
		}
		delete(t.regs, string(key))
		if d := at.Sub(e.at).Seconds(); code < 300 && d >= 0 {
			e.ls.rrd.Observe(d)
		}
	case 0: // INVITE
		key = inviteKey(key, s, lk.node)
		e := t.invites[string(key)]
		if e == nil {
			return key
		}
		d := at.Sub(e.at).Seconds()
		if code > 100 && !e.srd && d >= 0 {
			e.srd = true
			e.ls.srd.Observe(d)
		}
		if code < 200 {
			return key
		}
		delete(t.invites, string(key))
		e.ls.outcomes[outcomeOf(code)].Inc()
		if code >= 300 {
			return key
		}
		if d >= 0 {
			e.ls.answer.Observe(d)
		}
		key = callKey(key, s, e.lk)
		if _, ok := t.calls[string(key)]; ok {
			return key
		}
		if len(t.calls) >= t.cfg.Max {
			t.m.kpiEvicted[tabCalls].Inc()
			return key
		}
		t.calls[string(key)] = &callEntry{answered: at, seen: now, ls: e.ls}
		e.ls.active.Inc()
	}
	return key
}

// expire drops INVITEs seen longer than the window before now and answered
// calls older than the call timeout (wall time, so replayed captures
// expire like live traffic), counting them as evicted.
func (t *kpiTable) expire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.invites {
		if now.Sub(e.seen) > t.cfg.Window {
			t.m.kpiEvicted[tabInvites].Inc()
			delete(t.invites, k)
		}
	}
	for k, e := range t.regs {
		if now.Sub(e.seen) > t.cfg.Window {
			t.m.kpiEvicted[tabRegisters].Inc()
			delete(t.regs, k)
		}
	}
	for k, c := range t.calls {
		if now.Sub(c.seen) > t.cfg.CallTimeout {
			t.m.kpiEvicted[tabCalls].Inc()
			c.ls.active.Dec()
			delete(t.calls, k)
		}
	}
}

// entries returns the number of entries of a table, for the gauge.
func (t *kpiTable) entries(table int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch table {
	case tabInvites:
		return len(t.invites)
	case tabCalls:
		return len(t.calls)
	case tabRegisters:
		return len(t.regs)
	}
	return len(t.retrans) + len(t.retransOld)
}

// rtcpSet holds the RTCP quality children of one node.
type rtcpSet struct {
	reports                prometheus.Counter
	jitter, loss, rtt, mos prometheus.Observer
}

// rtcp returns the RTCP children of the message's node.
func (t *kpiTable) rtcp(msg *hep.Message) *rtcpSet {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.nodeIndex(msg)
	for int(i) >= len(t.rtcpSets) {
		t.rtcpSets = append(t.rtcpSets, nil)
	}
	if r := t.rtcpSets[i]; r != nil {
		return r
	}
	n := t.nodeLabels[i]
	r := &rtcpSet{
		reports: t.m.rtcpReports.WithLabelValues(n),
		jitter:  t.m.rtcpJitter.WithLabelValues(n),
		loss:    t.m.rtcpLoss.WithLabelValues(n),
		rtt:     t.m.rtcpRTT.WithLabelValues(n),
		mos:     t.m.rtcpMOS.WithLabelValues(n),
	}
	t.rtcpSets[i] = r
	return r
}

// estimateMOS estimates the listening quality MOS of a stream from one
// RTCP report by the simplified E-model (ITU-T G.107 as reduced by Cole and
// Rosenbluth, 2001): effective latency Le = RTT/2 + 2·jitter + 10 ms,
// R = 93.2 − Le/40 (Le < 160 ms) or 93.2 − (Le − 120)/10, less 2.5 per
// percent lost, and MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R).
// An unknown RTT counts as 0.
func estimateMOS(q rtcp.Quality) float64 {
	le := q.RTT.Seconds()*1000/2 + 2*q.Jitter + 10
	r := 93.2 - le/40
	if le >= 160 {
		r = 93.2 - (le-120)/10
	}
	r -= 2.5 * q.FractionLost * 100
	r = min(max(r, 0), 100)
	mos := 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
	return min(max(mos, 1), 4.5)
}
