package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/ip6defrag"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// ReadStats summarises an offline read.
type ReadStats struct {
	Packets      int // frames in the file
	HEP          int // HEP messages decoded (stored or printed, or dropped for the auth key)
	NotHEP       int // UDP datagrams that were not HEP
	DecodeErrors int // HEP-looking messages that did not decode
	TCPFlows     int // TCP flows whose payload went through the HEP framer
	TCPSkipped   uint64
	Undecodable  int // frames without an IP/UDP/TCP layer gopacket could decode
	Fragments    int // IP fragments held for reassembly (the datagrams they make count as usual)
}

// maxFlowBytes bounds the stream kept for one TCP flow of a capture.
const maxFlowBytes = 256 << 20

// tcpFlow is one direction of a TCP connection in a capture: its in-order
// payload bytes, to be cut into HEP messages when the flow ends.
type tcpFlow struct {
	next    uint32 // next expected sequence number
	started bool
	buf     []byte
}

type flowKey struct{ src, dst netip.AddrPort }

// ReadFile decodes the HEP messages carried in a pcap or pcapng capture
// (UDP or TCP, any port) through the same path as live traffic: auth key,
// dissection, then the store or the printer. TCP flows are reassembled in
// sequence order (retransmissions dropped, a gap restarts the stream) and
// cut with the HEP framer when they end (FIN, RST or the end of the file).
// IPv4 and IPv6 fragments are reassembled first.
func (s *Service) readFile(ctx context.Context, path string) (ReadStats, error) {
	var st ReadStats
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("read capture: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return st, fmt.Errorf("read capture %s: %w", path, err)
	}
	type packetReader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r packetReader
	var link layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return st, fmt.Errorf("read pcapng %s: %w", path, err)
		}
		r, link = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("read pcap %s: %w", path, err)
		}
		r, link = pr, pr.LinkType()
	}

	w := s.pool.Get().(*worker)
	defer s.pool.Put(w)
	flows := make(map[flowKey]*tcpFlow)
	d4 := ip4defrag.NewIPv4Defragmenter()
	d6 := ip6defrag.NewIPv6Defragmenter()
	for {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read capture %s: %w", path, err)
		}
		st.Packets++
		pkt := gopacket.NewPacket(data, link, gopacket.NoCopy)
		var src, dst netip.Addr
		l4 := pkt.TransportLayer()
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				// A large HEP datagram split by IP: reassemble, then decode
				// its transport layer.
				st.Fragments++
				whole, err := d4.DefragIPv4WithTimestamp(ip, ci.Timestamp)
				if err != nil || whole == nil {
					continue
				}
				l4 = gopacket.NewPacket(whole.Payload, whole.Protocol.LayerType(), gopacket.NoCopy).TransportLayer()
			}
		case *layers.IPv6:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
			if fg, ok := pkt.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
				st.Fragments++
				whole := d6.DefragIPv6(ip, fg)
				if whole == nil {
					continue
				}
				l4 = gopacket.NewPacket(whole.Payload, whole.NextHeader.LayerType(), gopacket.NoCopy).TransportLayer()
			}
		default:
			st.Undecodable++
			continue
		}
		switch l4 := l4.(type) {
		case *layers.UDP:
			if len(l4.Payload) > 0 {
				s.offlineMessage(w, l4.Payload, ingest.UDP, &st, true)
			}
		case *layers.TCP:
			key := flowKey{netip.AddrPortFrom(src, uint16(l4.SrcPort)), netip.AddrPortFrom(dst, uint16(l4.DstPort))}
			fl := flows[key]
			if fl == nil {
				fl = &tcpFlow{}
				flows[key] = fl
			}
			fl.add(l4)
			if l4.FIN || l4.RST {
				s.endFlow(w, fl, &st)
				delete(flows, key)
			}
		default:
			st.Undecodable++
		}
	}
	for _, fl := range flows {
		s.endFlow(w, fl, &st)
	}
	return st, nil
}

// add appends a segment's payload when it is the next in sequence; a
// retransmission is trimmed to its new bytes, a gap restarts the stream
// (the framer resynchronises on the next "HEP3").
func (fl *tcpFlow) add(t *layers.TCP) {
	seq := t.Seq
	if t.SYN {
		fl.next, fl.started = seq+1, true
		return
	}
	p := t.Payload
	if len(p) == 0 {
		return
	}
	if !fl.started {
		fl.next, fl.started = seq, true
	}
	switch d := int32(seq - fl.next); {
	case d < 0: // overlaps what we have
		if int(-d) >= len(p) {
			return
		}
		p = p[-d:]
	case d > 0: // bytes missing: what follows starts a new stream
		fl.buf = append(fl.buf, 0) // a non-HEP byte forces a resync
	}
	if len(fl.buf)+len(p) > maxFlowBytes {
		return
	}
	fl.buf = append(fl.buf, p...)
	fl.next = seq + uint32(len(t.Payload))
}

// endFlow cuts a flow's stream into HEP messages and handles each.
func (s *Service) endFlow(w *worker, fl *tcpFlow, st *ReadStats) {
	if len(fl.buf) == 0 {
		return
	}
	st.TCPFlows++
	fr := hep.NewFramer(bytes.NewReader(fl.buf), hep.MaxMessageLen)
	for {
		b, err := fr.Next()
		if err != nil {
			break
		}
		s.offlineMessage(w, b, ingest.TCP, st, false)
	}
	st.TCPSkipped += fr.Skipped()
	fl.buf = nil
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
