package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// Reading a capture (--read) goes through the agent's own capture-file
// reader (agent/source) and decoder (agent/packet) in its HEP mode, so the
// collector and the agent never disagree about link layers, tunnels, VLANs,
// IP fragments, TCP holes, retransmissions and reordering: one L2-L4 stack
// for both. The collector imports agent/packet and agent/source (a sideways
// edge, no cycle: nothing under agent/ imports collector/ outside tests).

// ReadStats summarises an offline read.
type ReadStats struct {
	Packets      int    // frames in the file
	HEP          int    // HEP messages decoded (stored or printed, or dropped for the auth key)
	NotHEP       int    // UDP datagrams that were not HEP
	DecodeErrors int    // HEP-looking messages that did not decode
	TCPStreams   int    // TCP stream directions followed (each cut into HEP messages)
	TCPSkipped   uint64 // TCP bytes in no message: junk before a "HEP3", holes, messages cut off
	Undecodable  int    // frames the decoder rejected as malformed (Decoder.Errors, all reasons)
	Fragments    int    // IP fragments seen (the datagrams they make count as usual)
	// Decoder is everything the agent's decoder counted (by link, tunnel,
	// reason, TCP reassembly...).
	Decoder packet.Stats
}

// offlineDecoder configures the agent's decoder for a capture of HEP
// traffic: every UDP payload and TCP stream, on any port, is HEP.
func offlineDecoder() packet.Config {
	c := packet.DefaultConfig()
	c.HEP = true
	return c
}

// expireEvery is the capture time between the decoder's Expire calls (TCP
// holes skipped after its GapTimeout, idle streams flushed).
const expireEvery = int64(time.Second)

// readFile decodes the HEP messages carried in a pcap or pcapng capture
// (gzip ok; UDP, TCP or SCTP, any port) through the same path as live
// traffic: auth key, dissection, then the store or the printer. Frames go
// through the agent's decoder: fragments reassembled, TCP streams
// reassembled in sequence order and cut into HEP messages as they complete
// (a hole skipped after the decoder's GapTimeout of capture time, the
// stream resyncing at the next "HEP3"), what is left flushed at the end.
func (s *Service) readFile(ctx context.Context, path string) (ReadStats, error) {
	var st ReadStats
	src, err := source.OpenFile(path, 1)
	if err != nil {
		return st, fmt.Errorf("read capture: %w", err)
	}
	defer src.Close()
	d, err := packet.NewDecoder(offlineDecoder())
	if err != nil {
		return st, fmt.Errorf("read capture: %w", err)
	}
	w := s.pool.Get().(*worker)
	defer s.pool.Put(w)
	emit := func(m *packet.Message) {
		if m.IPProto == 6 {
			s.offlineMessage(w, m.Payload, ingest.TCP, &st, false)
		} else {
			s.offlineMessage(w, m.Payload, ingest.UDP, &st, true)
		}
	}
	var f source.Frame
	var next int64 // capture time of the next Expire
	for {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		err := src.Read(&f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read capture %s: %w", path, err)
		}
		d.Decode(&f, emit)
		if f.TS >= next {
			d.Expire(f.TS, emit)
			next = f.TS + expireEvery
		}
	}
	d.Expire(math.MaxInt64, emit)
	ds := d.Stats()
	st.Decoder = ds
	st.Packets = int(ds.Frames)
	st.TCPStreams = int(ds.TCPStreams)
	st.TCPSkipped = ds.TCPDroppedBytes
	st.Fragments = int(ds.FragSeen)
	for _, n := range ds.Errors {
		st.Undecodable += int(n)
	}
	return st, nil
}

// offlineMessage runs one message of a capture through the message path.
// A UDP datagram that is not HEP at all is counted as such, not as an error.
func (s *Service) offlineMessage(w *worker, b []byte, transport string, st *ReadStats, datagram bool) {
	err := s.process(w, b, transport)
	switch {
	case err == nil || errors.Is(err, errAuth):
		st.HEP++
	case datagram && errors.Is(err, hep.ErrNotHEP):
		st.NotHEP++
	default:
		st.DecodeErrors++
	}
}
