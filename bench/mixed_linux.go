//go:build linux

package bench

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/xhep/xhep/bench/vethns"
)

// The mixed scenario: RTP (non-matching, 214-byte G.711 frames) as fast as
// one sender thread puts it on the veth, and SIP at a fixed rate from a
// second thread; every SIP message must arrive as HEP. The RTP rate each
// mode lets the generator reach, and the sender's CPU per frame, show what
// the capture costs the kernel per packet it does not capture: on a veth
// the receive path runs in the sender's system call. Baselines: no capture
// at all, and an XDP program that only returns XDP_PASS (generic XDP, as
// every XDP program on a veth), which separates the price of generic XDP
// itself from what a program does.

// mixedSIPRate is the SIP rate offered beside the RTP flood.
const mixedSIPRate = 20_000

// xdpPassMode is the agentSpec mode of the empty-XDP baseline.
const xdpPassMode = "xdp-pass"

// attachXDPPass loads an XDP program that returns XDP_PASS and attaches
// it to iface in namespace ns (generic mode); the returned func detaches
// it.
func attachXDPPass(ns, iface string) (func(), error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.XDP,
		License:      "Dual MIT/GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2 /* XDP_PASS */), asm.Return()},
	})
	if err != nil {
		return nil, fmt.Errorf("load empty XDP program: %w", err)
	}
	var l link.Link
	err = vethns.DoNamed(ns, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		l, err = link.AttachXDP(link.XDPOptions{Program: prog, Interface: ifi.Index, Flags: link.XDPGenericMode})
		return err
	})
	if err != nil {
		prog.Close()
		return nil, fmt.Errorf("attach empty XDP program: %w", err)
	}
	return func() { l.Close(); prog.Close() }, nil
}

func (s *suite) mixed() {
	const sec = "mixed"
	if r := liveReason(); r != "" {
		s.skip(sec, "mixed RTP + SIP on veth", r)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		s.skip(sec, "mixed RTP + SIP on veth", err.Error())
		return
	}
	sip, err := liveSIPFrames()
	if err != nil {
		s.skip(sec, "mixed RTP + SIP on veth", err.Error())
		return
	}
	rtp := rtpFrames(64)
	topo, err := newLiveTopo()
	if err != nil {
		s.skip(sec, "mixed RTP + SIP on veth", "network namespaces: "+err.Error())
		return
	}
	defer topo.Close()
	d := s.dur(time.Second, 4*time.Second)
	agents := []agentSpec{{mode: "none"}, {mode: xdpPassMode}}
	agents = append(agents, s.liveAgents()...)
	scheme := "tcp"
	var steps []*step
	var base *step
	for _, a := range agents {
		if s.ctx.Err() != nil {
			return
		}
		var st *step
		var err error
		if a.mode == xdpPassMode {
			var detach func()
			if detach, err = attachXDPPass(topo.NameA, "xbench0"); err == nil {
				st, err = s.runStep(exe, topo, agentSpec{mode: "none"}, scheme, mixedLoads(rtp, sip), d)
				detach()
				if st != nil {
					st.agent = a
				}
			}
		} else {
			st, err = s.runStep(exe, topo, a, scheme, mixedLoads(rtp, sip), d)
		}
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			s.skip(sec, "mixed RTP + SIP, "+mixedName(a), err.Error())
			continue
		}
		if a.mode == "none" {
			base = st
		}
		s.logf("  mixed %s: RTP %.0f pkts/s at %.0f ns/frame, SIP lost %d of %d, agent CPU %v",
			mixedName(a), st.loads[0].Rate(), st.senderNs(0), st.lost(), st.expected, st.agentCPU)
		steps = append(steps, st)
	}
	s.mixedTable(sec, steps, base, d, len(rtp[0]))
}

func mixedName(a agentSpec) string {
	if a.mode == xdpPassMode {
		return "empty XDP program (XDP_PASS), no agent"
	}
	return a.String()
}

func mixedLoads(rtp, sip [][]byte) []load {
	return []load{
		{Name: "RTP", Frames: rtp, Rate: 0, Senders: 1},
		{Name: "SIP", Frames: sip, Rate: mixedSIPRate, Senders: 1, Capture: true},
	}
}

// rtpFrames makes n RTP frames of distinct streams (ports 30000+2i).
func rtpFrames(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		f := rtpFrame()
		p := uint16(30000 + 2*i)
		f[34], f[35], f[36], f[37] = byte(p>>8), byte(p), byte((p+2)>>8), byte(p+2)
		out[i] = f
	}
	return out
}

// senderNs is load i's sender CPU per frame, ns.
func (st *step) senderNs(i int) float64 {
	if st.loads[i].Sent == 0 {
		return 0
	}
	return float64(st.loads[i].CPU.Nanoseconds()) / float64(st.loads[i].Sent)
}

func (s *suite) mixedTable(sec string, steps []*step, base *step, d time.Duration, rtpLen int) {
	t := Table{Section: sec,
		Title: fmt.Sprintf("RTP flood (one sender thread, as fast as it goes) + SIP at %s pkts/s (second thread), HEP over TCP; %v per agent", FormatValue(mixedSIPRate, ""), d),
		Columns: []string{"capture", "RTP pkts/s reached", "SIP sent", "SIP HEP received", "SIP lost", "agent CPU % of a core",
			"sender CPU ns per RTP frame", "kernel cost per RTP frame over no capture, ns", "softirq ns/pkt", "peak RSS MiB"}}
	for _, st := range steps {
		extra := ""
		if base != nil && st != base {
			extra = fmt.Sprintf("%+.0f", st.senderNs(0)-base.senderNs(0))
		}
		cpu := ""
		rss := ""
		sipLost := "n/a (nothing captures)"
		if st.agent.mode != "none" && st.agent.mode != xdpPassMode {
			cpu = fmt.Sprintf("%.0f", 100*st.agentCPU.Seconds()/st.dur.Seconds())
			rss = fmt.Sprintf("%.1f", float64(st.child.MaxRSSKiB)/1024)
			sipLost = lostText(st)
			if st.lost() > 0 && st.agent.peer == nil {
				sipLost += "; " + st.stages()
			}
		}
		t.Rows = append(t.Rows, []string{mixedName(st.agent), FormatValue(st.loads[0].Rate(), ""), FormatValue(float64(st.loads[1].Sent), ""),
			FormatValue(float64(st.received), ""), sipLost, cpu, fmt.Sprintf("%.0f", st.senderNs(0)), extra,
			fmt.Sprintf("%.0f", st.softirqPerPkt()), rss})
	}
	t.Note = fmt.Sprintf("RTP: %d-byte G.711 frames of 64 streams, not matched by any filter; the veth delivers each frame inside the sender's system call, so the sender's CPU per frame (getrusage of its thread) holds the receiving kernel's work, XDP or AF_PACKET included; \"over no capture\" subtracts the first row. XDP on a veth runs in generic mode (native XDP needs a NIC driver with XDP support: not measurable here). Load average %s.", rtpLen, loadAvg())
	s.addTable(t)
	// Figures: SIP loss and the kernel cost per RTP frame of each mode.
	for _, st := range steps {
		if st == base {
			continue
		}
		name := mixedName(st.agent)
		if base != nil {
			s.add(Result{Section: sec, Name: "kernel cost per RTP frame over no capture: " + name, Value: st.senderNs(0) - base.senderNs(0), Unit: "ns",
				Note: fmt.Sprintf("sender CPU %.0f ns/frame against %.0f with nothing attached; RTP reached %s pkts/s", st.senderNs(0), base.senderNs(0), FormatValue(st.loads[0].Rate(), ""))})
		}
		if st.agent.mode == xdpPassMode {
			continue
		}
		r := Result{Section: sec, Name: "SIP lost beside the RTP flood: " + name, Value: float64(max(st.lost(), 0)), Unit: "messages",
			Target: "0", Note: fmt.Sprintf("%d SIP frames sent at %s pkts/s beside %s RTP pkts/s; agent CPU %.0f%% of a core",
				st.expected, FormatValue(mixedSIPRate, ""), FormatValue(st.loads[0].Rate(), ""), 100*st.agentCPU.Seconds()/st.dur.Seconds())}
		if st.agent.peer != nil {
			r.Note = "peer, measured in this run; " + r.Note
		}
		s.add(r)
	}
	_ = strings.ToUpper
}
