package agent

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/xhep/xhep/agent/correlate"
	"github.com/xhep/xhep/agent/packet"
	"github.com/xhep/xhep/agent/send"
	"github.com/xhep/xhep/agent/source"
	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtcp"
)

// hepOut is one received HEP message in comparable form.
type hepOut struct {
	Proto   hep.ProtoType
	Family  uint8
	IPProto uint8
	Src     string // netip.AddrPort.String()
	Dst     string
	TSus    int64 // capture time in microseconds
	VLAN    uint16
	CorrID  string
	// Compressed: the payload came in chunk 0x10.
	Compressed bool
	NodeID     uint32
	Node       string
	Auth       string
	Payload    string
}

// testCollector is the real collector listener (collector/ingest) on
// loopback, with one UDP reader so that arrival order is kept, recording
// every HEP message it receives.
type testCollector struct {
	srv *ingest.Server
	url string

	mu   sync.Mutex
	msgs []hepOut
	bad  int
}

func newCollector(t testing.TB, scheme string) *testCollector {
	t.Helper()
	c := &testCollector{}
	srv, err := ingest.New(ingest.Config{
		Listen:    []string{scheme + "://127.0.0.1:0"},
		Readers:   1,
		NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
	}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c.srv = srv
	c.url = scheme + "://" + srv.Status()[0].Addr.String()
	return c
}

func (c *testCollector) handle(b []byte, _ netip.AddrPort, _ string) {
	if len(b) == 0 {
		return // the agent's UDP probe
	}
	var m hep.Message
	err := m.DecodeFromBytes(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad++
		return
	}
	c.msgs = append(c.msgs, hepOut{
		Proto: m.Proto, Family: m.IPFamily, IPProto: m.IPProto,
		Src: netip.AddrPortFrom(m.SrcIP, m.SrcPort).String(), Dst: netip.AddrPortFrom(m.DstIP, m.DstPort).String(),
		TSus: int64(m.TsSec)*1e6 + int64(m.TsUsec), VLAN: m.VLAN, CorrID: string(m.CorrelationID),
		NodeID: m.NodeID, Node: string(m.NodeName), Auth: string(m.AuthKey), Payload: string(m.Payload),
		Compressed: m.Compress,
	})
}

func (c *testCollector) wait(t testing.TB, n int) []hepOut {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := slices.Clone(c.msgs)
		c.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeCapture generates traffic into a pcap file.
func writeCapture(t testing.TB, cfg gen.Config) (string, *gen.Truth) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gen.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	truth, err := gen.WritePcap(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, truth
}

func family(a netip.AddrPort) uint8 {
	if a.Addr().Is4() {
		return 2
	}
	return 10
}

// want builds the HEP messages the pipeline must send for truth.
func want(t testing.TB, truth *gen.Truth, vlan uint16) (sipW, rtcpW []hepOut) {
	t.Helper()
	base := hepOut{NodeID: 2001, Node: "probe-1", Auth: "secret", VLAN: vlan}
	for _, m := range truth.SIP {
		o := base
		o.Proto, o.Family, o.IPProto = hep.ProtoSIP, family(m.Src), 17
		if m.Transport == "tcp" {
			o.IPProto = 6
		}
		o.Src, o.Dst, o.TSus, o.Payload = m.Src.String(), m.Dst.String(), m.TS.UnixMicro(), string(m.Raw)
		sipW = append(sipW, o)
	}
	var rp rtcp.Packet
	for _, m := range truth.RTCP {
		if err := rp.DecodeFromBytes(m.Raw); err != nil {
			t.Fatalf("generated RTCP does not decode: %v", err)
		}
		o := base
		o.Proto, o.Family, o.IPProto = hep.ProtoRTCP, family(m.Src), 17
		o.Src, o.Dst, o.TSus, o.CorrID = m.Src.String(), m.Dst.String(), m.TS.UnixMicro(), m.CallID
		o.Payload = string(rp.AppendJSON(nil))
		rtcpW = append(rtcpW, o)
	}
	return sipW, rtcpW
}

func byProto(msgs []hepOut, p hep.ProtoType) []hepOut {
	var out []hepOut
	for _, m := range msgs {
		if m.Proto == p {
			out = append(out, m)
		}
	}
	return out
}

func testConfig(collector string) Config {
	sc := send.DefaultConfig()
	sc.Collectors = []string{collector}
	sc.Block = true
	return Config{
		NodeID:    2001,
		NodeName:  "probe-1",
		AuthKey:   "secret",
		Decoder:   packet.DefaultConfig(),
		Correlate: correlate.DefaultConfig(),
		Send:      sc,
	}
}

// runFile reads path through a pipeline built from cfg, drains it and
// returns it with its final summary.
func runFile(t testing.TB, cfg Config, path string) (*Pipeline, Summary) {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.OpenFile(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := p.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return p, p.Summary()
}

// TestPipelineDelivers runs generated captures through the whole agent to a
// real collector listener and checks that every SIP, RTCP and DNS message
// arrives exactly once, in order, with its addresses, ports, capture time,
// VLAN, and for RTCP the Call-ID of its call in chunk 0x11 (RTCP both ways
// and with rtcp-mux: the generator mixes both).
func TestPipelineDelivers(t *testing.T) {
	small := gen.DefaultConfig()
	small.Calls, small.Registrations, small.Options = 30, 10, 5
	tests := []struct {
		name      string
		transport string
		mod       func(*gen.Config)
		vlan      uint16
	}{
		{"udp ipv4", "udp", func(*gen.Config) {}, 0},
		{"ipv6", "udp", func(c *gen.Config) { c.IPv6 = true }, 0},
		{"vlan", "udp", func(c *gen.Config) { c.VLAN = []uint16{100} }, 100},
		{"qinq", "tcp", func(c *gen.Config) { c.VLAN = []uint16{100, 200} }, 200},
		{"sip over tcp", "udp", func(c *gen.Config) { c.TCP = true }, 0},
		{"fragments", "udp", func(c *gen.Config) { c.FragmentMTU = 576 }, 0},
		{"ipv6 fragments over tcp collector", "tcp", func(c *gen.Config) { c.IPv6, c.FragmentMTU = true, 600 }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gc := small
			tt.mod(&gc)
			path, truth := writeCapture(t, gc)
			col := newCollector(t, tt.transport)
			_, sum := runFile(t, testConfig(col.url), path)

			total := len(truth.SIP) + len(truth.RTCP) + len(truth.DNS)
			got := col.wait(t, total)
			sipW, rtcpW := want(t, truth, tt.vlan)
			if diff := cmp.Diff(sipW, byProto(got, hep.ProtoSIP)); diff != "" {
				t.Errorf("SIP (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(rtcpW, byProto(got, hep.ProtoRTCP)); diff != "" {
				t.Errorf("RTCP (-want +got):\n%s", diff)
			}
			gotDNS := byProto(got, hep.ProtoDNS)
			if len(gotDNS) != len(truth.DNS) {
				t.Errorf("DNS: got %d messages, want %d", len(gotDNS), len(truth.DNS))
			}
			for i, m := range gotDNS {
				if i >= len(truth.DNS) {
					break
				}
				w := truth.DNS[i]
				if m.Src != w.Src.String() || m.Dst != w.Dst.String() || m.TSus != w.TS.UnixMicro() || !strings.Contains(m.Payload, w.Query) {
					t.Errorf("DNS %d: got %+v, want %+v", i, m, w)
				}
			}
			col.mu.Lock()
			nbad := col.bad
			col.mu.Unlock()
			if len(got) != total || nbad != 0 {
				t.Errorf("collector got %d messages (%d bad), want %d", len(got), nbad, total)
			}

			// The summary counts what happened.
			if sum.Frames != uint64(truth.Stats.Frames) {
				t.Errorf("summary frames %d, want %d", sum.Frames, truth.Stats.Frames)
			}
			wantHEP := [packet.NumClasses]uint64{packet.ClassSIP: uint64(len(truth.SIP)), packet.ClassRTCP: uint64(len(truth.RTCP)), packet.ClassDNS: uint64(len(truth.DNS))}
			if sum.HEP != wantHEP {
				t.Errorf("summary HEP %v, want %v", sum.HEP, wantHEP)
			}
			if sum.RTCPCorrelated != uint64(len(truth.RTCP)) || sum.RTCPUncorrelated != 0 {
				t.Errorf("summary RTCP correlated %d uncorrelated %d, want %d, 0", sum.RTCPCorrelated, sum.RTCPUncorrelated, len(truth.RTCP))
			}
			if sum.Send == nil || sum.Send.Sent() != uint64(total) || sum.Send.Dropped() != 0 {
				t.Errorf("summary send: %+v", sum.Send)
			}
			if gc.FragmentMTU > 0 && sum.Decoder.FragReassembled == 0 {
				t.Errorf("no datagram reassembled")
			}
			var text bytes.Buffer
			if err := sum.WriteText(&text); err != nil || !strings.Contains(text.String(), "dropped:     none") {
				t.Errorf("summary text (%v):\n%s", err, text.String())
			}
		})
	}
}

// TestRTCPWithoutCall: RTCP whose SDP was never seen is still sent, without
// a correlation id, and counted.
func TestRTCPWithoutCall(t *testing.T) {
	gc := gen.DefaultConfig()
	gc.Calls, gc.Registrations, gc.Options, gc.DNS = 5, 0, 0, false
	path, truth := writeCapture(t, gc)
	col := newCollector(t, "udp")
	cfg := testConfig(col.url)
	// Filtering out every INVITE/200/ACK... by method would also drop
	// the SIP; instead make the table unable to hold any Call-ID.
	cfg.Correlate.MaxCallIDLen = 1
	_, sum := runFile(t, cfg, path)
	got := byProto(col.wait(t, len(truth.SIP)+len(truth.RTCP)), hep.ProtoRTCP)
	if len(got) != len(truth.RTCP) || len(got) == 0 {
		t.Fatalf("got %d RTCP, want %d", len(got), len(truth.RTCP))
	}
	for _, m := range got {
		if m.CorrID != "" {
			t.Errorf("RTCP with correlation id %q", m.CorrID)
		}
	}
	if sum.RTCPUncorrelated != uint64(len(truth.RTCP)) || sum.RTCPCorrelated != 0 || sum.Correlation.TooLong == 0 {
		t.Errorf("summary: correlated %d, uncorrelated %d, too long %d", sum.RTCPCorrelated, sum.RTCPUncorrelated, sum.Correlation.TooLong)
	}
}

func TestCompressAndFilters(t *testing.T) {
	gc := gen.DefaultConfig()
	gc.Calls, gc.Registrations, gc.Options, gc.DNS, gc.RTCP = 10, 5, 5, false, false
	path, truth := writeCapture(t, gc)
	col := newCollector(t, "udp")
	cfg := testConfig(col.url)
	cfg.CompressOver = 100
	cfg.Decoder.DropMethods = [][]byte{[]byte("OPTIONS")}
	_, sum := runFile(t, cfg, path)
	var want []string
	for _, m := range truth.SIP {
		if m.CSeqMethod != "OPTIONS" {
			want = append(want, string(m.Raw))
		}
	}
	got := col.wait(t, len(want))
	var payloads []string
	for _, m := range got {
		payloads = append(payloads, m.Payload) // hep decodes chunk 0x10 transparently
	}
	if diff := cmp.Diff(want, payloads); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}
	if f := sum.Decoder.Filtered[packet.FilterMethod]; f != uint64(len(truth.SIP)-len(want)) || f == 0 {
		t.Errorf("filtered %d, want %d", f, len(truth.SIP)-len(want))
	}
}

func TestMetrics(t *testing.T) {
	gc := gen.DefaultConfig()
	gc.Calls, gc.Registrations, gc.Options = 5, 2, 2
	path, truth := writeCapture(t, gc)
	col := newCollector(t, "udp")
	p, _ := runFile(t, testConfig(col.url), path)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(p.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	frames := -1.0
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetName() == "xhep_agent_frames_read_total" {
			frames = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	for _, n := range []string{
		"xhep_agent_frames_read_total", "xhep_agent_decoder_total", "xhep_agent_decoder_messages_total",
		"xhep_agent_decoder_link_frames_total", "xhep_agent_decoder_tunnels_total", "xhep_agent_decoder_errors_total",
		"xhep_agent_decoder_filtered_total",
		"xhep_agent_hep_messages_total", "xhep_agent_sent_total", "xhep_agent_spooled_total", "xhep_agent_dropped_total",
		"xhep_agent_queue_depth", "xhep_agent_tcp_streams", "xhep_agent_correlation_entries",
	} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
	// One decoder family: every counter is described, and nothing else is in it.
	counters := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "xhep_agent_decoder_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			counters[m.GetLabel()[0].GetValue()] = true
		}
	}
	for c := range counters {
		if DecoderCounters[c] == "" {
			t.Errorf("decoder counter %q has no description in DecoderCounters", c)
		}
	}
	for c := range DecoderCounters {
		if !counters[c] {
			t.Errorf("DecoderCounters describes %q, which is not exported", c)
		}
	}
	if frames != float64(truth.Stats.Frames) {
		t.Errorf("frames_read_total = %v, want %d", frames, truth.Stats.Frames)
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"Frames": "frames", "IPv4": "ipv4", "TCPOutOfOrder": "tcp_out_of_order", "FragSeen": "frag_seen",
		"SCTPChunks": "sctp_chunks", "WebSocketUpgrades": "web_socket_upgrades", "VLAN": "vlan", "QinQ": "qinq",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunCancel(t *testing.T) {
	col := newCollector(t, "udp")
	p, err := New(testConfig(col.url))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	gc := gen.DefaultConfig()
	path, _ := writeCapture(t, gc)
	src, err := source.OpenFile(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Capture-time pacing makes the run last ~seconds; cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Run(ctx, Paced(src, 1))
	if err != context.DeadlineExceeded {
		t.Errorf("Run = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after cancel", d)
	}
}

// discard is a Sink that drops everything (benchmarks).
type discard struct{ n int }

func (d *discard) Send(msg, key []byte) { d.n++ }

// BenchmarkPipeline: decode → classify → SIP decode/correlate → HEP encode
// of generated SIP-only traffic, on one core, without sending.
func BenchmarkPipeline(b *testing.B) {
	for _, tc := range []struct {
		name string
		mod  func(*gen.Config)
	}{
		{"sip-udp", func(*gen.Config) {}},
		{"sip-udp-rtcp-dns", func(c *gen.Config) { c.RTCP, c.DNS = true, true }},
		{"sip-tcp", func(c *gen.Config) { c.TCP = true }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			gc := gen.DefaultConfig()
			gc.Calls, gc.Registrations, gc.Options, gc.RTCP, gc.DNS = 200, 50, 50, false, false
			tc.mod(&gc)
			var frames []source.Frame
			if _, err := gen.Generate(gc, func(p gen.Packet) error {
				frames = append(frames, source.Frame{Data: bytes.Clone(p.Data), TS: p.TS.UnixNano(), LinkType: source.LinkEthernet, OrigLen: len(p.Data)})
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			sink := &discard{}
			cfg := testConfig("udp://127.0.0.1:9")
			cfg.Sink = sink
			p, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			// Loop over the capture with time moving on, as --loop does.
			span := frames[len(frames)-1].TS - frames[0].TS + 1000
			var offset int64
			i := 0
			var f source.Frame
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				f = frames[i]
				f.TS += offset
				p.Process(&f)
				if i++; i == len(frames) {
					i, offset = 0, offset+span
				}
			}
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
			// On a shared machine wall time says little: CPU time per
			// packet is what one core would do alone.
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "pkts/cpu-s")
			b.ReportMetric(float64(sink.n)/float64(b.N), "hep/pkt")
		})
	}
}
