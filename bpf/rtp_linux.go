//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/xhep/xhep/hep/rtp"
)

// sizeRTPMaps sets the RTP maps' sizes from cfg (bpf/rtp.h). With RTP
// statistics off they keep one entry each: the code that uses them is
// dead (rtp_enabled is a load-time constant) but the maps must exist.
func sizeRTPMaps(spec *ebpf.CollectionSpec, cfg Config) {
	if cfg.RTPStreams <= 0 {
		return
	}
	eps := cfg.RTPEndpoints
	if eps <= 0 {
		eps = max(cfg.RTPStreams/2, 1)
	}
	spec.Maps["rtp_streams"].MaxEntries = uint32(cfg.RTPStreams)
	spec.Maps["rtp_endpoints"].MaxEntries = uint32(eps)
}

// RTPEndpoint is what the kernel needs of a media endpoint announced in
// SDP: the Call-ID's hash, the payload types announced and each one's
// clock rate with the telephone-event type (Params).
type RTPEndpoint struct {
	Call   uint64    // FNV-1a 64 of the Call-ID
	PTs    [4]uint32 // bit n%32 of word n/32: payload type n announced
	Params rtp.Params
}

// AddPT marks payload type pt as announced.
func (e *RTPEndpoint) AddPT(pt uint8) { e.PTs[(pt>>5)&3] |= 1 << (pt & 31) }

// ErrRTPOff is returned by the RTP methods of a Filter loaded without RTP
// statistics (Config.RTPStreams 0).
var ErrRTPOff = errors.New("rtp statistics are off")

// PutRTPEndpoint adds or replaces the media endpoint ap.
func (f *Filter) PutRTPEndpoint(ap netip.AddrPort, e RTPEndpoint) error {
	if f.cfg.RTPStreams <= 0 {
		return ErrRTPOff
	}
	v := captureRtpEp{Call: e.Call, PtMask: e.PTs, PtClock: e.Params.PTClock, DtmfPt: e.Params.DTMFPT}
	for i, c := range e.Params.Clocks {
		v.Clocks[i].NsQ8, v.Clocks[i].Hz = c.NsQ8, c.Hz
	}
	k := captureAddrPort{Addr: v6key(ap.Addr().Unmap()), Port: ap.Port()}
	if err := f.objs.RtpEndpoints.Put(&k, &v); err != nil {
		return fmt.Errorf("put rtp endpoint %s: %w", ap, err)
	}
	return nil
}

// DeleteRTPEndpoint removes the media endpoint ap; a missing one is no error.
func (f *Filter) DeleteRTPEndpoint(ap netip.AddrPort) error {
	if f.cfg.RTPStreams <= 0 {
		return ErrRTPOff
	}
	k := captureAddrPort{Addr: v6key(ap.Addr().Unmap()), Port: ap.Port()}
	if err := f.objs.RtpEndpoints.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete rtp endpoint %s: %w", ap, err)
	}
	return nil
}

// RTPStreamKey names one stream in the kernel: the 5-tuple (UDP) and SSRC.
type RTPStreamKey struct {
	Src, Dst netip.AddrPort
	SSRC     uint32
}

func (k RTPStreamKey) raw() captureRtpKey {
	return captureRtpKey{Saddr: v6key(k.Src.Addr().Unmap()), Daddr: v6key(k.Dst.Addr().Unmap()),
		Sport: k.Src.Port(), Dport: k.Dst.Port(), Ssrc: k.SSRC}
}

func addrOf(a [4]uint32, port uint16) netip.AddrPort {
	var b [16]byte
	for i, w := range a {
		// v6key stores the address bytes in network order in each word's memory
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(b).Unmap(), port)
}

// RTPStream is one stream's kernel state.
type RTPStream struct {
	Key   RTPStreamKey
	Call  uint64 // the endpoint's Call-ID hash when the stream began
	Dir   uint8  // 0: towards the announced endpoint, 1: from it
	State rtp.State
}

func (s *RTPStream) from(k *captureRtpKey, v *captureRtpStream) {
	s.Key = RTPStreamKey{Src: addrOf(k.Saddr, k.Sport), Dst: addrOf(k.Daddr, k.Dport), SSRC: k.Ssrc}
	s.Call, s.Dir = v.Call, v.Dir
	s.State = rtp.State{
		Packets: v.Packets, Bytes: v.Bytes, FirstNs: v.FirstNs, LastNs: v.LastNs, MaxDelta: v.MaxDelta,
		BaseSeq: v.BaseSeq, MaxSeq: v.MaxSeq, Cycles: v.Cycles, BadSeq: v.BadSeq, Received: v.Received,
		PriorExpected: v.PriorExpected, PriorReceived: v.PriorReceived,
		Window: v.Window, Duplicates: v.Duplicates, OutOfOrder: v.OutOfOrder, SeqResets: v.SeqResets, BadJumps: v.BadJumps,
		Jitter16: v.Jitter16, Clock: v.Clock, MaxJitterNs: v.MaxJitterNs, JitterSumNs: v.JitterSumNs, JitterSamples: v.JitterSamples,
		PrevTransit: v.PrevTransit, MinTransit: v.MinTransit, HaveTransit: v.HaveTransit,
		LastPT: v.LastPt, PTChanges: v.PtChanges, Markers: v.Markers, DTMFPkts: v.DtmfPkts, DTMFEvents: v.DtmfEvents,
		LastDTMFTS: v.LastDtmfTs, Bursts: v.Bursts, DV: v.Dv,
	}
}

// RTPStreams calls fn for every stream in the kernel table (in no order)
// until fn returns false. s is reused between calls.
func (f *Filter) RTPStreams(fn func(s *RTPStream) bool) error {
	if f.cfg.RTPStreams <= 0 {
		return ErrRTPOff
	}
	var (
		k  captureRtpKey
		v  captureRtpStream
		st RTPStream
	)
	it := f.objs.RtpStreams.Iterate()
	for it.Next(&k, &v) {
		st.from(&k, &v)
		if !fn(&st) {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iterate rtp streams: %w", err)
	}
	return nil
}

// DeleteRTPStream removes a stream (after its final report); a missing
// one is no error.
func (f *Filter) DeleteRTPStream(k RTPStreamKey) error {
	if f.cfg.RTPStreams <= 0 {
		return ErrRTPOff
	}
	rk := k.raw()
	if err := f.objs.RtpStreams.Delete(&rk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete rtp stream: %w", err)
	}
	return nil
}

// RTPCounters are the RTP counters summed over CPUs. Streams created
// minus streams present minus streams the agent deleted is the number the
// LRU evicted.
type RTPCounters struct {
	Packets uint64 // RTP packets counted into a stream
	Streams uint64 // streams created
	NotRTP  uint64 // frames to/from an endpoint that were not RTP of an announced type
	NoRoom  uint64 // packets of a new stream that found no slot
}

// RTPCounters reads the counters.
func (f *Filter) RTPCounters() (RTPCounters, error) {
	var c RTPCounters
	var per [][4]uint64
	if err := f.objs.RtpCounters.Lookup(uint32(0), &per); err != nil {
		return c, fmt.Errorf("read rtp counters: %w", err)
	}
	for _, p := range per {
		c.Packets += p[0]
		c.Streams += p[1]
		c.NotRTP += p[2]
		c.NoRoom += p[3]
	}
	return c, nil
}

// setRTPTestNow drives the programs' arrival clock (tests only; 0 gives
// it back to bpf_ktime_get_ns).
func (f *Filter) setRTPTestNow(ns uint64) error { return f.objs.RtpTestNow.Set(ns) }

// RTPKernel adapts Filters to agent/media's Kernel interface (same method
// set, no import of agent code here): one per interface in afxdp mode, one
// for all interfaces in ringbuf mode. Endpoints go into every filter,
// streams are read from every filter (a flow crossing two captured
// interfaces is two streams with one key: the tracker sees the one read
// last), deleted from each.
type RTPKernel []*Filter

// RTPKernelOf is the stream tables of a live source: its Filters()
// (afxdp: one per interface) or its Filter() (ringbuf), nil for a source
// without BPF filters (afpacket, a file).
func RTPKernelOf(src any) RTPKernel {
	switch f := src.(type) {
	case interface{ Filters() []*Filter }:
		return f.Filters()
	case interface{ Filter() *Filter }:
		if f.Filter() != nil {
			return RTPKernel{f.Filter()}
		}
	}
	return nil
}

// PutEndpoint pushes one SDP endpoint.
func (k RTPKernel) PutEndpoint(ap netip.AddrPort, call uint64, pts [4]uint32, p *rtp.Params) error {
	var errs []error
	for _, f := range k {
		errs = append(errs, f.PutRTPEndpoint(ap, RTPEndpoint{Call: call, PTs: pts, Params: *p}))
	}
	return errors.Join(errs...)
}

// DeleteEndpoint removes one SDP endpoint.
func (k RTPKernel) DeleteEndpoint(ap netip.AddrPort) error {
	var errs []error
	for _, f := range k {
		errs = append(errs, f.DeleteRTPEndpoint(ap))
	}
	return errors.Join(errs...)
}

// Streams reads every stream.
func (k RTPKernel) Streams(fn func(src, dst netip.AddrPort, ssrc uint32, dir uint8, st *rtp.State) bool) error {
	more := true
	for _, f := range k {
		err := f.RTPStreams(func(s *RTPStream) bool {
			more = fn(s.Key.Src, s.Key.Dst, s.Key.SSRC, s.Dir, &s.State)
			return more
		})
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// DeleteStream removes one stream.
func (k RTPKernel) DeleteStream(src, dst netip.AddrPort, ssrc uint32) error {
	var errs []error
	for _, f := range k {
		errs = append(errs, f.DeleteRTPStream(RTPStreamKey{Src: src, Dst: dst, SSRC: ssrc}))
	}
	return errors.Join(errs...)
}
