package agent

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xhep/xhep/agent/correlate"
	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/send"
)

// Summary is what a run did, from reading to delivery.
type Summary struct {
	Frames  uint64 // frames read from the source
	Bytes   uint64 // their captured bytes
	Elapsed time.Duration

	Decoder     packet.Stats // decode, defrag, reassembly, classification
	Fragments   int          // datagrams in defragmentation now
	Streams     int          // TCP directions followed now
	StreamBytes int          // bytes they buffer

	HEP              [packet.NumClasses]uint64 // HEP messages handed to the senders, by class
	RTCPCorrelated   uint64                    // RTCP sent with a Call-ID in chunk 0x11
	RTCPUncorrelated uint64                    // RTCP sent without (no known call)
	SIPNoCallID      uint64                    // SIP sent without a Call-ID send key
	LargeCompressed  uint64                    // payloads over HEP3's 64 KiB sent compressed (chunk 0x10)
	LargeSplit       uint64                    // payloads too large even compressed, sent in parts
	SplitParts       uint64                    // the parts
	Drops            map[string]uint64         // the pipeline's own drops by reason

	Correlation correlate.Stats
	Send        *send.Stats // nil when the pipeline was given its own Sink
}

// Undelivered is what a run leaves undelivered: messages lost by the
// senders (every drop reason) and messages kept in a spool for a later
// run, with the spool directories that hold them.
func (s *Summary) Undelivered() (lost, spooled uint64, dirs []string) {
	if s.Send == nil {
		return 0, 0, nil
	}
	lost = s.Send.Dropped()
	for _, q := range s.Send.Queues {
		if q.SpoolRecords > 0 {
			spooled += uint64(q.SpoolRecords)
			dirs = append(dirs, q.SpoolDir)
		}
	}
	return lost, spooled, dirs
}

// HEPTotal is the number of HEP messages produced.
func (s *Summary) HEPTotal() uint64 {
	var n uint64
	for _, v := range s.HEP {
		n += v
	}
	return n
}

// Summary returns the counters now. Safe from any goroutine; call it after
// Close for the final delivery numbers.
func (p *Pipeline) Summary() Summary {
	s := Summary{
		Frames:           p.frames.Load(),
		Bytes:            p.bytes.Load(),
		Elapsed:          time.Duration(p.runDur.Load()),
		RTCPCorrelated:   p.rtcpCorrelated.Load(),
		RTCPUncorrelated: p.rtcpUncorrelated.Load(),
		SIPNoCallID:      p.sipNoCallID.Load(),
		LargeCompressed:  p.largeCompressed.Load(),
		LargeSplit:       p.largeSplit.Load(),
		SplitParts:       p.splitParts.Load(),
		Drops:            make(map[string]uint64, numDrops),
		Correlation:      p.corr.Stats(),
	}
	if s.Elapsed == 0 && !p.started.IsZero() {
		s.Elapsed = time.Since(p.started)
	}
	for i := range s.HEP {
		s.HEP[i] = p.hepOut[i].Load()
	}
	for i, n := range dropNames {
		s.Drops[n] = p.drops[i].Load()
	}
	p.pubMu.Lock()
	s.Decoder = p.decStats
	s.Fragments, s.Streams, s.StreamBytes = p.fragN, p.streamsN, p.streamB
	p.pubMu.Unlock()
	if p.group != nil {
		st := p.group.Stats()
		s.Send = &st
	}
	return s
}

// WriteText writes the summary for people, one fact per line.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	d := &s.Decoder
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.HEPTotal()) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(&b, "read:        %d frames, %d bytes in %v\n", s.Frames, s.Bytes, s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "decoded:     ipv4 %d, ipv6 %d, udp %d, tcp %d, sctp %d, other %d, vlan %d (qinq %d)\n",
		d.IPv4, d.IPv6, d.UDP, d.TCP, d.SCTP, d.Other, d.VLAN, d.QinQ)
	fmt.Fprintf(&b, "classified:  sip %d, rtcp %d, dns %d; unclassified %d, keep-alives %d, junk %d\n",
		d.Messages[packet.ClassSIP], d.Messages[packet.ClassRTCP], d.Messages[packet.ClassDNS], d.Unclassified, d.KeepAlives, d.Junk)
	fmt.Fprintf(&b, "defrag:      %d fragments, %d datagrams reassembled, %d expired, %d evicted, %d overlapping\n",
		d.FragSeen, d.FragReassembled, d.FragExpired, d.FragEvicted, d.FragOverlap)
	fmt.Fprintf(&b, "tcp:         %d streams, %d segments, %d messages reassembled, %d out of order, %d retransmitted, %d gaps, %d resyncs, %d evicted\n",
		d.TCPStreams, d.TCPSegments, d.TCPMessages, d.TCPOutOfOrder, d.TCPRetransmits, d.TCPGaps, d.TCPResyncs, d.TCPEvicted)
	fmt.Fprintf(&b, "hep:         %d messages (sip %d, rtcp %d, dns %d), %.0f/s; rtcp correlated %d, uncorrelated %d\n",
		s.HEPTotal(), s.HEP[packet.ClassSIP], s.HEP[packet.ClassRTCP], s.HEP[packet.ClassDNS], rate, s.RTCPCorrelated, s.RTCPUncorrelated)
	fmt.Fprintf(&b, "correlation: %d endpoints, %d added, %d evicted, %d expired\n",
		s.Correlation.Entries, s.Correlation.Added, s.Correlation.Evicted, s.Correlation.Expired)
	if s.Send != nil {
		for _, c := range s.Send.Collectors {
			fmt.Fprintf(&b, "sent:        %s %d messages, %d bytes, %d errors", c.Collector, c.Sent, c.Bytes, c.Errors)
			if c.LastError != "" {
				fmt.Fprintf(&b, " (last: %s)", c.LastError)
			}
			b.WriteByte('\n')
		}
		for _, q := range s.Send.Queues {
			fmt.Fprintf(&b, "spooled:     %s %d (replayed %d, still on disk %d", q.Name, q.Spooled, q.Replayed, q.SpoolRecords)
			if q.SpoolRecords > 0 {
				fmt.Fprintf(&b, " in %s", q.SpoolDir)
			}
			b.WriteString(")\n")
			switch q.AckState {
			case "off":
			case "plain":
				fmt.Fprintf(&b, "delivery:    %s plain HEP (the collector does not acknowledge): %d unconfirmed, %d acknowledged, %d resent\n",
					q.Name, q.Unconfirmed, q.Acked, q.Resent)
			default:
				fmt.Fprintf(&b, "delivery:    %s acknowledged %d, waiting %d, resent %d, unconfirmed %d (stream %016x)\n",
					q.Name, q.Acked, q.Unacked, q.Resent, q.Unconfirmed, q.Stream)
			}
		}
	}
	var drops []string
	add := func(reason string, n uint64) {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", reason, n))
		}
	}
	for i, n := range d.Errors {
		add("decode_"+packet.Reason(i).String(), n)
	}
	for i, n := range d.Filtered {
		add("filter_"+packet.Filter(i).String(), n)
	}
	for _, n := range dropNames {
		add(n, s.Drops[n])
	}
	if s.Send != nil {
		for _, q := range s.Send.Queues {
			add("queue_full", q.DropQueueFull)
			add("spool_full", q.DropSpoolFull)
			add("spool_error", q.DropSpoolError)
			add("after_close", q.DropClosed)
			add("undelivered", q.Undelivered)
		}
	}
	if len(drops) == 0 {
		drops = []string{"none"}
	}
	fmt.Fprintf(&b, "dropped:     %s\n", strings.Join(drops, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}
