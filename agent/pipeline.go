package agent

import (
	"context"
	"errors"
	"fmt"
	"github.com/xhep/xhep/hep/sip"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xhep/xhep/agent/correlate"
	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/send"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/dns"
	"github.com/xhep/xhep/hep/proto"
	"github.com/xhep/xhep/hep/rtcp"
)

// Sink receives encoded HEP messages; [*send.Group] is the real one. Send
// must copy msg (the pipeline reuses it) and not keep key.
type Sink interface {
	Send(msg, key []byte)
}

// Config configures a [Pipeline].
type Config struct {
	NodeID   uint32 // HEP chunk 0x0c
	NodeName string // HEP chunk 0x13 ("" = not sent)
	AuthKey  string // HEP chunk 0x0e ("" = not sent)
	// CompressOver: payloads longer than this many bytes are sent
	// zlib-compressed in chunk 0x10; 0 never compresses.
	CompressOver int

	Decoder   packet.Config
	Correlate correlate.Config
	Send      send.Config

	// Media, if set, gets the SDP and call ends of the SIP seen and, for
	// frames the decoder does not classify, their UDP payloads (RTP); its
	// reports are sent as HEP type 34 every ExpireEvery of capture time
	// and at the end of the input. MediaClock gives the kernel's
	// CLOCK_MONOTONIC for the streams kept in the kernel (nil: none).
	Media      *media.Tracker
	MediaClock func() int64

	// Sink replaces the senders built from Send (tests, benchmarks).
	Sink Sink
	// ExpireEvery is how much capture time passes between calls to the
	// decoder's and the correlation table's Expire; default 1 s.
	ExpireEvery time.Duration
}

// Drop reasons of the pipeline itself (the decoder and the senders count
// their own).
const (
	DropRTCPDecode = iota // RTCP that passed the classifier but does not decode
	DropDNSDecode         // DNS that does not decode
	DropEncode            // HEP encoding failed (none expected: large payloads are compressed or split)
	numDrops
)

var dropNames = [numDrops]string{"rtcp_decode", "dns_decode", "hep_encode"}

// Pipeline turns frames into HEP messages. Run is called from one
// goroutine at a time; Stats, Summary and the metrics collector may be used
// from any.
type Pipeline struct {
	cfg     Config
	dec     *packet.Decoder
	corr    *correlate.Table
	sink    Sink
	group   *send.Group // nil when cfg.Sink was given
	emitFn  func(*packet.Message)
	expireN int64

	// per-message scratch, pipeline goroutine only
	hm       hep.Message
	sip      sip.Head
	rtcpPkt  rtcp.Packet
	dnsMsg   dns.Msg
	json     []byte
	out      []byte
	lastExp  int64
	lastTS   int64
	sincePub int

	frames, bytes    atomic.Uint64
	hepOut           [packet.NumClasses]atomic.Uint64
	rtcpCorrelated   atomic.Uint64
	rtcpUncorrelated atomic.Uint64
	sipNoCallID      atomic.Uint64 // SIP sent without a Call-ID (start line or Call-ID undecodable)
	largeCompressed  atomic.Uint64 // payloads over HEP3's 64 KiB sent compressed in chunk 0x10
	largeSplit       atomic.Uint64 // payloads too large even compressed, sent in parts
	splitParts       atomic.Uint64 // the parts sent
	drops            [numDrops]atomic.Uint64
	mediaReports     atomic.Uint64 // HEP type 34 reports sent

	mediaMu  sync.Mutex // the report scratch: reports may come from a ticker goroutine
	mediaHM  hep.Message
	mediaOut []byte

	pubMu    sync.Mutex
	decStats packet.Stats
	fragN    int
	streamsN int
	streamB  int

	started time.Time
	runDur  atomic.Int64
}

// New builds the decoder, the correlation table and (unless cfg.Sink is
// set) the senders, which start connecting to the collectors.
func New(cfg Config) (*Pipeline, error) {
	if cfg.ExpireEvery <= 0 {
		cfg.ExpireEvery = time.Second
	}
	if cfg.CompressOver < 0 {
		return nil, fmt.Errorf("new pipeline: negative compress threshold %d", cfg.CompressOver)
	}
	if cfg.Media != nil && cfg.Decoder.Unclassified == nil {
		cfg.Decoder.Unclassified = cfg.Media.Packet
	}
	dec, err := packet.NewDecoder(cfg.Decoder)
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	corr, err := correlate.New(cfg.Correlate)
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	p := &Pipeline{cfg: cfg, dec: dec, corr: corr, sink: cfg.Sink, expireN: int64(cfg.ExpireEvery)}
	if p.sink == nil {
		g, err := send.New(cfg.Send)
		if err != nil {
			return nil, fmt.Errorf("new pipeline: %w", err)
		}
		p.group, p.sink = g, g
	}
	p.emitFn = p.emit
	p.hm.NodeID = cfg.NodeID
	p.hm.NodeName = []byte(cfg.NodeName)
	p.hm.AuthKey = []byte(cfg.AuthKey)
	p.mediaHM = p.hm
	p.json = make([]byte, 0, 4096)
	p.out = make([]byte, 0, 16<<10)
	return p, nil
}

// Group returns the senders the pipeline built, or nil with Config.Sink.
func (p *Pipeline) Group() *send.Group { return p.group }

// Correlation returns the correlation table (for its Stats).
func (p *Pipeline) Correlation() *correlate.Table { return p.corr }

// Run reads src until it ends (io.EOF: the reassembly state is then
// flushed), is closed, or ctx is cancelled (src is closed to unblock it;
// Run returns ctx's error), and returns the summary at that point. Run does
// not close the senders: call [Pipeline.Close] to drain them, then
// [Pipeline.Summary] for the final delivery counts.
func (p *Pipeline) Run(ctx context.Context, src source.Source) (Summary, error) {
	err := p.run(ctx, src)
	return p.Summary(), err
}

func (p *Pipeline) run(ctx context.Context, src source.Source) error {
	p.started = time.Now()
	stop := context.AfterFunc(ctx, func() { src.Close() })
	defer stop()
	defer func() { p.runDur.Store(int64(time.Since(p.started))) }()
	var f source.Frame
	for {
		err := src.Read(&f)
		if err != nil {
			if errors.Is(err, io.EOF) {
				p.flush()
				return nil
			}
			p.publish()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, source.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read frame: %w", err)
		}
		p.Process(&f)
	}
}

// Process runs one frame through the pipeline. It is what Run does per
// frame, exported for callers with their own read loop and benchmarks.
func (p *Pipeline) Process(f *source.Frame) {
	p.frames.Add(1)
	p.bytes.Add(uint64(len(f.Data)))
	if f.TS > p.lastTS {
		p.lastTS = f.TS
	}
	if f.TS-p.lastExp >= p.expireN {
		if p.lastExp != 0 {
			p.dec.Expire(f.TS, p.emitFn)
			p.corr.Expire(f.TS)
			p.MediaTick(f.TS, false)
		}
		p.lastExp = f.TS
		p.publish()
	}
	p.dec.Decode(f, p.emitFn)
	if p.sincePub++; p.sincePub >= 4096 {
		p.publish()
	}
}

// flush ends the input: everything the decoder still holds (TCP streams,
// incomplete datagrams) is flushed as if their timeouts had passed.
func (p *Pipeline) flush() {
	far := p.lastTS + int64(24*time.Hour)
	p.dec.Expire(far, p.emitFn)
	p.MediaTick(p.lastTS, true)
	p.publish()
}

// publish copies the decoder's counters for the metrics goroutine.
func (p *Pipeline) publish() {
	p.sincePub = 0
	st := p.dec.Stats()
	fr, sn, sb := p.dec.Sizes()
	p.pubMu.Lock()
	p.decStats = st
	p.fragN, p.streamsN, p.streamB = fr, sn, sb
	p.pubMu.Unlock()
}

// emit encodes one decoded message as HEP and hands it to the sink.
//
// HEP3 chunks written (see hep.Message.AppendTo): 0x01 family (2 IPv4,
// 10 IPv6), 0x02 IP protocol, 0x03/0x04 or 0x05/0x06 addresses, 0x07/0x08
// ports, 0x09/0x0a capture time (seconds, microseconds), 0x0b protocol
// type (1 SIP, 5 RTCP JSON, 53 DNS JSON), 0x0c node id, 0x0e auth key,
// 0x0f payload or 0x10 compressed, 0x11 correlation id (RTCP: Call-ID),
// 0x12 VLAN, 0x13 node name.
func (p *Pipeline) emit(m *packet.Message) {
	desc := proto.ByClass(m.Class)
	if desc == nil {
		return
	}
	hm := &p.hm
	setAddrs(hm, m.IPProto, m.Src, m.Dst, m.TS)
	hm.VLAN = m.VLAN
	hm.CorrelationID = nil
	hm.Proto = desc.Type
	key, ok := encoders[m.Class](p, m, hm)
	if !ok {
		return
	}
	hm.Compress = p.cfg.CompressOver > 0 && len(hm.Payload) > p.cfg.CompressOver
	out, err := hm.AppendTo(p.out[:0])
	if errors.Is(err, hep.ErrPayloadTooLarge) && !hm.Compress {
		// Over HEP3's 16-bit length (a 65.8 KB INVITE over TCP): compress
		// into chunk 0x10.
		hm.Compress = true
		if out, err = hm.AppendTo(p.out[:0]); err == nil {
			p.largeCompressed.Add(1)
		}
	}
	if errors.Is(err, hep.ErrPayloadTooLarge) {
		p.sendSplit(m.Class, key)
		return
	}
	if err != nil {
		p.drops[DropEncode].Add(1)
		return
	}
	p.out = out
	p.hepOut[m.Class].Add(1)
	p.sink.Send(out, key)
}

// encoders writes the HEP payload of each agent class and returns the
// send key (false: dropped, counted): the agent half of hep/proto's
// descriptors, which give the HEP type (hm.Proto is set already).
var encoders = [packet.NumClasses]func(p *Pipeline, m *packet.Message, hm *hep.Message) (key []byte, ok bool){
	packet.ClassSIP:  (*Pipeline).sipPayload,
	packet.ClassRTCP: (*Pipeline).rtcpPayload,
	packet.ClassDNS:  (*Pipeline).dnsPayload,
}

// sipPayload sends SIP as captured, keyed by its Call-ID, and feeds its
// SDP and call ends to the correlation table (and the media tracker).
func (p *Pipeline) sipPayload(m *packet.Message, hm *hep.Message) ([]byte, bool) {
	hm.Payload = m.Payload
	h := &p.sip
	if !h.Scan(m.Payload) || len(h.CallID) == 0 {
		p.sipNoCallID.Add(1)
		return nil, true
	}
	if h.HasSDP() {
		p.corr.ObserveSDP(h.CallID, h.Body, m.TS)
		if p.cfg.Media != nil {
			p.cfg.Media.ObserveSDP(h.CallID, h.Body, m.TS)
		}
	}
	if h.EndsCall() {
		p.corr.End(h.CallID, m.TS)
		if p.cfg.Media != nil {
			p.cfg.Media.End(h.CallID, m.TS)
		}
	}
	return h.CallID, true
}

// rtcpPayload sends RTCP as JSON with the Call-ID of its media endpoint
// in chunk 0x11 when the correlation table knows it.
func (p *Pipeline) rtcpPayload(m *packet.Message, hm *hep.Message) ([]byte, bool) {
	if err := p.rtcpPkt.DecodeFromBytes(m.Payload); err != nil {
		p.drops[DropRTCPDecode].Add(1)
		return nil, false
	}
	p.json = p.rtcpPkt.AppendJSON(p.json[:0])
	hm.Payload = p.json
	if id, ok := p.corr.Lookup(m.Src, m.Dst, m.TS); ok {
		hm.CorrelationID = id
		p.rtcpCorrelated.Add(1)
		return id, true
	}
	p.rtcpUncorrelated.Add(1)
	return nil, true
}

// dnsPayload sends DNS as JSON.
func (p *Pipeline) dnsPayload(m *packet.Message, hm *hep.Message) ([]byte, bool) {
	if err := p.dnsMsg.DecodeFromBytes(m.Payload); err != nil {
		p.drops[DropDNSDecode].Add(1)
		return nil, false
	}
	p.json = p.dnsMsg.AppendJSON(p.json[:0])
	hm.Payload = p.json
	return nil, true
}

// maxSplitPart is the payload of each part of a message that does not fit
// HEP3 even compressed: with the other chunks the part stays below the
// largest UDP datagram (65,507 bytes over IPv4).
const maxSplitPart = 60_000

// sendSplit is the last resort for a payload that does not fit one HEP3
// message even compressed (incompressible and over 64 KiB): it is sent as
// consecutive parts of at most maxSplitPart bytes, each a HEP message with
// the same addresses, time and send key, in order. A receiver stores the
// parts as separate messages; joined they are the payload.
func (p *Pipeline) sendSplit(class packet.Class, key []byte) {
	hm := &p.hm
	whole := hm.Payload
	hm.Compress = false
	defer func() { hm.Payload = whole }()
	for off := 0; off < len(whole); off += maxSplitPart {
		hm.Payload = whole[off:min(off+maxSplitPart, len(whole))]
		out, err := hm.AppendTo(p.out[:0])
		if err != nil {
			p.drops[DropEncode].Add(1)
			return
		}
		p.out = out
		p.splitParts.Add(1)
		p.sink.Send(out, key)
	}
	p.largeSplit.Add(1)
	p.hepOut[class].Add(1)
}

// Close drains and closes the senders the pipeline built (see
// send.Group.Close). Call it after Run returned.
func (p *Pipeline) Close() error {
	if p.group != nil {
		return p.group.Close()
	}
	return nil
}

// Excluded returns the collectors' resolved addresses: a live source must
// not capture them (LiveConfig.Exclude).
func Excluded(cfg send.Config) ([]netip.AddrPort, error) {
	return send.ResolveTargets(cfg.Collectors)
}

// MediaTick sends the media reports due at capture time now (all of them,
// final, when final is set). The pipeline calls it every ExpireEvery of
// capture time and at the end of the input; a live agent whose RTP is
// counted in the kernel also calls it on a wall-clock ticker. Safe for
// concurrent use.
func (p *Pipeline) MediaTick(now int64, final bool) {
	if p.cfg.Media == nil {
		return
	}
	var kt int64
	if p.cfg.MediaClock != nil {
		kt = p.cfg.MediaClock()
	}
	p.mediaMu.Lock()
	defer p.mediaMu.Unlock()
	p.cfg.Media.Tick(now, kt, final, p.sendReport)
}

// MediaTicks calls MediaTick on a wall-clock ticker every d until ctx
// ends: what a live agent whose RTP the kernel counts runs beside Run
// (the kernel's streams see no frame that would drive the capture-time
// ticks).
func (p *Pipeline) MediaTicks(ctx context.Context, d time.Duration) {
	if p.cfg.Media == nil {
		return
	}
	tk := time.NewTicker(d)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			p.MediaTick(now.UnixNano(), false)
		}
	}
}

// sendReport encodes one media report as HEP type 34 (chunk 0x0b = 34,
// the rtpagent JSON in 0x0f, the Call-ID in 0x11, the stream's addresses
// and ports) and sends it keyed by the Call-ID.
func (p *Pipeline) sendReport(r *media.Report) {
	hm := &p.mediaHM
	setAddrs(hm, 17, r.Src, r.Dst, r.TimeNs)
	hm.VLAN = 0
	hm.Proto = hep.ProtoMOSFull
	hm.Payload = r.JSON
	hm.CorrelationID = r.CallID
	hm.Compress = false
	out, err := hm.AppendTo(p.mediaOut[:0])
	if err != nil {
		p.drops[DropEncode].Add(1)
		return
	}
	p.mediaOut = out
	p.sink.Send(out, r.CallID)
	p.mediaReports.Add(1)
}

// setAddrs fills the address, port and time chunks of hm.
func setAddrs(hm *hep.Message, ipProto uint8, srcAP, dstAP netip.AddrPort, ts int64) {
	src, dst := srcAP.Addr().Unmap(), dstAP.Addr().Unmap()
	hm.IPFamily = 2
	if src.Is6() {
		hm.IPFamily = 10
	}
	hm.IPProto = ipProto
	hm.SrcIP, hm.DstIP = src, dst
	hm.SrcPort, hm.DstPort = srcAP.Port(), dstAP.Port()
	hm.TsSec = uint32(ts / 1e9)
	hm.TsUsec = uint32(ts % 1e9 / 1e3)
}
