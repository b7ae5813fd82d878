package media

import (
	"net/netip"

	"github.com/xhep/xhep/hep/rtp"
)

// Tick emits the reports that are due: for every stream with new packets
// whose last report is Interval old (PERIODIC), and a final one for
// streams whose call ended (HANGUP), that saw no packet for Idle
// (TIMEOUT), or all of them when final is set (the input ended: TYPE END).
// now is the capture clock (Unix ns; userspace streams are timed by it),
// kernelNow the kernel's CLOCK_MONOTONIC (ns; the kernel's streams are
// timed by it; ignored without a Kernel). emit must not keep the report
// or its slices. Endpoints past their life are removed.
func (t *Tracker) Tick(now, kernelNow int64, final bool, emit func(*Report)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.k != nil {
		t.pullKernel()
	}
	var rep Report
	var done []streamKey
	for k, s := range t.streams {
		clock := now
		if s.kernel {
			clock = kernelNow
		}
		typ := ""
		switch {
		case s.ep != nil && s.ep.ended:
			typ = rtp.TypeHangup
		case final:
			typ = rtp.TypeEnd
		case clock-int64(s.state.LastNs) >= int64(t.cfg.Idle):
			typ = rtp.TypeTimeout
		case s.state.Packets > s.lastPk && now-s.reported >= int64(t.cfg.Interval):
			typ = rtp.TypePeriodic
		}
		if typ == "" {
			continue
		}
		if typ != rtp.TypePeriodic || s.state.Packets > s.lastPk || s.lastPk == 0 {
			t.report(&rep, k, s, typ, now)
			emit(&rep)
			t.st.Reports++
		}
		s.reported, s.lastPk = now, s.state.Packets
		if typ != rtp.TypePeriodic {
			done = append(done, k)
		}
	}
	// Removed after the loop, so every report of this tick counts the
	// SSRCs of its 5-tuple alike.
	for _, k := range done {
		s := t.streams[k]
		delete(t.streams, k)
		tk := [2]netip.AddrPort{k.src, k.dst}
		if t.tuples[tk]--; t.tuples[tk] == 0 {
			delete(t.tuples, tk)
		}
		if s.kernel {
			if err := t.k.DeleteStream(k.src, k.dst, k.ssrc); err != nil {
				t.st.KernelErrors++
			}
		}
	}
	for ap, e := range t.eps {
		if e.expires <= now {
			t.dropEndpoint(ap)
		}
	}
	t.lastTick = now
}

// pullKernel copies the kernel's stream states into the table, adding the
// streams it does not know yet.
func (t *Tracker) pullKernel() {
	var orphans []streamKey
	err := t.k.Streams(func(src, dst netip.AddrPort, ssrc uint32, dir uint8, st *rtp.State) bool {
		k := streamKey{src, dst, ssrc}
		s := t.streams[k]
		if s == nil {
			ap := dst
			if dir == 1 {
				ap = src
			}
			e := t.eps[ap]
			if e == nil || e.ended {
				// Its endpoint is gone (expired, evicted) or its call
				// ended and it was reported: packets that came after.
				orphans = append(orphans, k)
				return true
			}
			s = t.newStream(k, e, dir, st.LastPT)
			s.kernel = true
		}
		s.state = *st
		return true
	})
	if err != nil {
		t.st.KernelErrors++
	}
	for _, k := range orphans {
		if err := t.k.DeleteStream(k.src, k.dst, k.ssrc); err != nil {
			t.st.KernelErrors++
		}
		t.st.KernelOrphans++
	}
}

func (t *Tracker) report(r *Report, k streamKey, s *stream, typ string, now int64) {
	if s.ep != nil {
		s.params = s.ep.params
		// the codec now: a stream can change payload type (re-INVITE)
		if c, ok := s.ep.codec(s.state.LastPT); ok && s.state.Packets > 0 && s.state.LastPT != s.params.DTMFPT {
			s.pt, s.codec = c.pt, c.name
		}
	}
	c := rtp.CodecFor([]byte(s.codec), s.pt)
	rr := rtp.Report{CallID: s.callID, Type: typ, TimeNs: now, Src: k.src, Dst: k.dst, SSRC: k.ssrc,
		PT: s.pt, Codec: []byte(s.codec), Dir: s.dir, Params: s.params, State: s.state, Model: t.cfg.Model}
	s.rep.Next(&rr, c)
	t.buf = rr.AppendJSON(t.buf[:0], t.tuples[[2]netip.AddrPort{k.src, k.dst}]-1)
	*r = Report{CallID: s.callID, Src: k.src, Dst: k.dst, TimeNs: now, JSON: t.buf,
		MOS: rr.Rating.MOS, LossPct: rr.Rating.Ppl, Final: typ != rtp.TypePeriodic}
}
