//go:build linux

package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bpf"
)

// The rtp section: the agent with RTP statistics on (--rtp-stats) while
// RTP of SDP-announced streams floods the veth as fast as one sender
// thread goes, beside SIP at mixedSIPRate from a second thread. Before the
// flood, one INVITE per stream announces its endpoint (the RTP source,
// 10.199.0.2:30000+2i). Every SIP message must arrive as HEP; every
// stream must be reported with all its packets; the agent's CPU per
// 100,000 RTP packets per second and its RSS are the figures. In ringbuf
// and afxdp mode the kernel counts (the agent reads the stream table once
// a second); in afpacket mode every RTP packet is read and counted in
// userspace.

// rtpChildEnv, set to 1, turns RTP statistics on in the live agent child.
const rtpChildEnv = "XHEP_BENCH_RTP"

// rtpChildStreams sizes the child's kernel stream and endpoint tables.
const rtpChildStreams = 4096

// rtpBenchStreams is the number of streams of the section.
const rtpBenchStreams = 64

// rtpSpec: the SDP to send before the media and how many streams it names;
// off: the same traffic to an agent without RTP statistics (the baseline).
type rtpSpec struct {
	streams int
	invites [][]byte
	off     bool
}

// announce sends the INVITEs once and gives the agent time to learn them.
func (r *rtpSpec) announce(s gen.Sender) error {
	if _, err := s.Send(r.invites); err != nil {
		return fmt.Errorf("send the SDP: %w", err)
	}
	time.Sleep(500 * time.Millisecond)
	return nil
}

// rtpChildTracker is the child's media tracker: reports every second, the
// kernel's stream table when the source has BPF filters.
func rtpChildTracker(src source.Source) (*media.Tracker, error) {
	t, err := media.New(media.Config{Interval: time.Second, Idle: time.Minute,
		MaxStreams: rtpChildStreams, MaxEndpoints: rtpChildStreams}, nil)
	if err != nil {
		return nil, err
	}
	if k := bpf.RTPKernelOf(src); len(k) > 0 {
		t.SetKernel(k)
	}
	return t, nil
}

// monoNs is CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
func monoNs() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// rtpStreamFrames: n streams (10.199.0.2:30000+2i → 10.199.0.1:30002+2i,
// SSRC 0x5000+i), k packets each with advancing sequence numbers and
// timestamps, interleaved (packet j of every stream, then j+1). Blast
// cycles them: every k packets a stream's sequence jumps back, which RFC
// 3550 A.1 takes as a restart (one packet not counted as received, then a
// reset); packets are counted either way.
func rtpStreamFrames(n, k int) [][]byte {
	out := make([][]byte, 0, n*k)
	for j := range k {
		for i := range n {
			f := rtpFrame()
			sp, dp := uint16(30000+2*i), uint16(30002+2*i)
			binary.BigEndian.PutUint16(f[34:], sp)
			binary.BigEndian.PutUint16(f[36:], dp)
			r := f[42:]
			binary.BigEndian.PutUint16(r[2:], uint16(j))
			binary.BigEndian.PutUint32(r[4:], uint32(j)*160)
			binary.BigEndian.PutUint32(r[8:], uint32(0x5000+i))
			out = append(out, f)
		}
	}
	return out
}

// rtpInvites: one INVITE per stream whose SDP names the stream's source
// (10.199.0.2, port 30000+2i) with PCMU and telephone-event.
func rtpInvites(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 10.199.0.2\r\ns=-\r\nc=IN IP4 10.199.0.2\r\nt=0 0\r\n"+
			"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", 30000+2*i)
		msg := fmt.Sprintf("INVITE sip:bench@10.199.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.199.0.2:5060;branch=z9hG4bKrtp%d\r\n"+
			"From: <sip:rtp@10.199.0.2>;tag=%d\r\nTo: <sip:bench@10.199.0.1>\r\nCall-ID: rtp-%d@bench\r\nCSeq: 1 INVITE\r\n"+
			"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", i, i, i, len(sdp), sdp)
		out[i] = udpFrame(0, 5060, 5060, []byte(msg))
	}
	return out
}

func (s *suite) rtpLive() {
	const sec = "rtp"
	name := "RTP statistics live on veth"
	if r := liveReason(); r != "" {
		s.skip(sec, name, r)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	sip, err := liveSIPFrames()
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	topo, err := newLiveTopo()
	if err != nil {
		s.skip(sec, name, "network namespaces: "+err.Error())
		return
	}
	defer topo.Close()
	d := s.dur(time.Second, 4*time.Second)
	rtp := rtpStreamFrames(rtpBenchStreams, 256)
	spec := &rtpSpec{streams: rtpBenchStreams, invites: rtpInvites(rtpBenchStreams)}
	var steps []*step
	agents := s.liveAgents()
	if !s.opt.Quick && len(agents) > 0 {
		// the first mode without RTP statistics: what they add to the agent
		agents = append([]agentSpec{{mode: agents[0].mode, rtp: &rtpSpec{invites: spec.invites, off: true}}}, agents...)
	}
	for _, a := range agents {
		if a.peer != nil || s.ctx.Err() != nil {
			continue // peers measure no RTP here
		}
		if a.rtp == nil {
			a.rtp = spec
		}
		st, err := s.runStep(exe, topo, a, "tcp", mixedLoads(rtp, sip), d)
		if s.ctx.Err() != nil {
			return
		}
		if err != nil {
			s.skip(sec, name+", "+a.String(), err.Error())
			continue
		}
		s.logf("  rtp %s: RTP %.0f pkts/s, %d of %d streams reported with %d of %d packets, SIP lost %d of %d, agent CPU %v",
			rtpName(a), st.loads[0].Rate(), st.media.Streams, rtpBenchStreams, st.media.Packets, st.loads[0].Sent, st.lost(), st.expected, st.agentCPU)
		steps = append(steps, st)
	}
	s.rtpTable(sec, steps, d)
}

// rtpCPUPer100k is the agent's CPU in % of a core per 100,000 RTP packets
// per second.
func (st *step) rtpCPUPer100k() float64 {
	rate := st.loads[0].Rate()
	if rate <= 0 || st.dur <= 0 {
		return 0
	}
	return 100 * st.agentCPU.Seconds() / st.dur.Seconds() * 1e5 / rate
}

func rtpName(a agentSpec) string {
	if a.rtp != nil && a.rtp.off {
		return a.String() + ", RTP statistics off"
	}
	return a.String() + " --rtp-stats"
}

func (s *suite) rtpTable(sec string, steps []*step, d time.Duration) {
	t := Table{Section: sec,
		Title: fmt.Sprintf("--rtp-stats: RTP of %d SDP-announced G.711 streams (one sender thread, as fast as it goes) + SIP at %s pkts/s (second thread), HEP over TCP; %v per mode",
			rtpBenchStreams, FormatValue(mixedSIPRate, ""), d),
		Columns: []string{"capture", "RTP pkts/s reached", "RTP sent", "RTP packets in the reports", "streams reported", "SIP sent", "SIP HEP received", "SIP lost",
			"agent CPU % of a core", "agent CPU % per 100k RTP pkts/s", "sender CPU ns per RTP frame", "peak RSS MiB"}}
	var base *step
	for _, st := range steps {
		if st.agent.rtp.off {
			base = st
		}
		pk, streams := FormatValue(float64(st.media.Packets), ""), fmt.Sprintf("%d of %d", st.media.Streams, rtpBenchStreams)
		if st.agent.rtp.off {
			pk, streams = "(statistics off)", "-"
		}
		sipLost := lostText(st)
		if st.lost() > 0 {
			sipLost += "; " + st.stages()
		}
		t.Rows = append(t.Rows, []string{rtpName(st.agent), FormatValue(st.loads[0].Rate(), ""), FormatValue(float64(st.loads[0].Sent), ""),
			pk, streams, FormatValue(float64(st.loads[1].Sent+uint64(rtpBenchStreams)), ""), FormatValue(float64(st.received), ""), sipLost,
			fmt.Sprintf("%.1f", 100*st.agentCPU.Seconds()/st.dur.Seconds()), fmt.Sprintf("%.2f", st.rtpCPUPer100k()),
			fmt.Sprintf("%.0f", st.senderNs(0)), fmt.Sprintf("%.1f", float64(st.child.MaxRSSKiB)/1024)})
	}
	t.Note = fmt.Sprintf("RTP: 214-byte frames, %d streams of 256 packets cycled (advancing sequence numbers; the jump back every 256 packets is a sequence restart, packets are counted either way); one INVITE with SDP per stream before the flood (counted in SIP sent). The agent reports every second (child tracker Interval 1 s); \"RTP packets in the reports\" sums each stream's latest TOTAL_PK. ringbuf/afxdp: counted in the kernel (generic XDP on a veth), the agent reads the table once a second; afpacket: the socket filter passes every RTP packet and the agent counts it. Load average %s.", rtpBenchStreams, loadAvg())
	s.addTable(t)
	for _, st := range steps {
		n := rtpName(st.agent)
		if st.agent.rtp.off {
			continue
		}
		if base != nil && base.agent.mode == st.agent.mode {
			s.add(Result{Section: sec, Name: "agent CPU added by --rtp-stats: " + n, Value: 100 * (st.agentCPU.Seconds()/st.dur.Seconds() - base.agentCPU.Seconds()/base.dur.Seconds()),
				Unit: "% of a core", Note: fmt.Sprintf("%.1f%% with, %.1f%% without, at %s and %s RTP pkts/s; sender (kernel receive path) %.0f vs %.0f ns per RTP frame",
					100*st.agentCPU.Seconds()/st.dur.Seconds(), 100*base.agentCPU.Seconds()/base.dur.Seconds(),
					FormatValue(st.loads[0].Rate(), ""), FormatValue(base.loads[0].Rate(), ""), st.senderNs(0), base.senderNs(0))})
		}
		s.add(Result{Section: sec, Name: "agent CPU per 100k RTP pkts/s: " + n, Value: st.rtpCPUPer100k(), Unit: "% of a core",
			Note: fmt.Sprintf("RTP %s pkts/s reached; agent CPU %.1f%% of a core; peak RSS %.1f MiB", FormatValue(st.loads[0].Rate(), ""),
				100*st.agentCPU.Seconds()/st.dur.Seconds(), float64(st.child.MaxRSSKiB)/1024)})
		s.add(Result{Section: sec, Name: "SIP lost beside the reported RTP flood: " + n, Value: float64(max(st.lost(), 0)), Unit: "messages", Target: "0",
			Note: fmt.Sprintf("%d SIP frames (%d INVITEs with SDP)", st.expected, rtpBenchStreams)})
		s.add(Result{Section: sec, Name: "RTP packets missing from the reports: " + n, Value: float64(int64(st.loads[0].Sent) - int64(st.media.Packets)), Unit: "packets", Target: "0",
			Note: fmt.Sprintf("%d of %d streams reported, %d reports (%d undecodable), waited %v after the flood", st.media.Streams, rtpBenchStreams,
				st.media.Reports, st.media.Bad, st.media.Waited.Round(100*time.Millisecond))})
	}
}
