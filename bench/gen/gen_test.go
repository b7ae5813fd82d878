package gen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// modes are the option sets every capture-level test runs.
var modes = []struct {
	name string
	set  func(*Config)
}{
	{"plain", func(*Config) {}},
	{"rtp", func(c *Config) { c.RTP = 3 }},
	{"tcp", func(c *Config) { c.TCP = true }},
	{"ipv6", func(c *Config) { c.IPv6 = true }},
	{"vlan", func(c *Config) { c.VLAN = []uint16{42} }},
	{"qinq", func(c *Config) { c.VLAN = []uint16{100, 200} }},
	{"frag576", func(c *Config) { c.FragmentMTU = 576 }},
	{"ipv6-frag576", func(c *Config) { c.IPv6 = true; c.FragmentMTU = 576 }},
	{"ipv6-tcp-qinq-mtu576", func(c *Config) { c.IPv6, c.TCP, c.VLAN, c.FragmentMTU = true, true, []uint16{7, 8}, 576 }},
}

var cmpAddr = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

func collect(t testing.TB, cfg Config) ([][]byte, *Truth) {
	t.Helper()
	var frames [][]byte
	tr, err := Generate(cfg, func(p Packet) error {
		frames = append(frames, bytes.Clone(p.Data))
		return nil
	})
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return frames, tr
}

func hashOf(t testing.TB, cfg Config) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := WritePcap(&buf, cfg); err != nil {
		t.Fatalf("write pcap: %v", err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
}

func TestDeterministic(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Calls = 50
			m.set(&cfg)
			a, b := hashOf(t, cfg), hashOf(t, cfg)
			if a != b {
				t.Fatalf("same config, different pcaps: %s vs %s", a, b)
			}
			cfg.Seed++
			if c := hashOf(t, cfg); c == a {
				t.Fatalf("seeds %d and %d gave the same pcap", cfg.Seed-1, cfg.Seed)
			}
		})
	}
}

// TestTruthMatchesCapture decodes every frame independently and compares
// each SIP message, RTCP and DNS packet and every count with Truth.
func TestTruthMatchesCapture(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Calls = 150
			m.set(&cfg)
			frames, tr := collect(t, cfg)
			d := decodeFrames(t, cfg, frames)

			var want []seen
			for _, s := range tr.SIP {
				want = append(want, seen{s.Src, s.Dst, s.Transport, string(s.Raw)})
			}
			if diff := cmp.Diff(want, d.sip, cmpAddr); diff != "" {
				t.Fatalf("SIP messages (-want +got):\n%.3000s", diff)
			}
			want = want[:0]
			for _, r := range tr.RTCP {
				want = append(want, seen{r.Src, r.Dst, "udp", string(r.Raw)})
			}
			if diff := cmp.Diff(want, d.rtcp, cmpAddr); diff != "" {
				t.Fatalf("RTCP (-want +got):\n%.3000s", diff)
			}
			var wantDNS []dnsSeen
			for _, q := range tr.DNS {
				wantDNS = append(wantDNS, dnsSeen{q.Src, q.Dst, q.ID, q.Response, q.Query, q.QType, q.RCode})
			}
			if diff := cmp.Diff(wantDNS, d.dnsMsgs, cmpAddr); diff != "" {
				t.Fatalf("DNS (-want +got):\n%.3000s", diff)
			}

			got := Stats{Calls: tr.Stats.Calls, Registrations: tr.Stats.Registrations, Options: tr.Stats.Options,
				TCPConnections: tr.Stats.TCPConnections, DNSQueries: tr.Stats.DNSQueries,
				SIPMessages: len(d.sip), RTCP: len(d.rtcp), DNS: len(d.dns), RTP: d.rtp,
				Frames: d.frames, Fragments: d.fragments, TCPSegments: d.tcpSegments}
			for _, s := range d.sip {
				if strings.HasPrefix(s.Raw, "SIP/2.0 ") {
					got.SIPResponses++
					continue
				}
				got.SIPRequests++
				switch s.Raw[:strings.IndexByte(s.Raw, ' ')] {
				case "INVITE":
					got.Invites++
				case "REGISTER":
					got.Registers++
				}
			}
			if diff := cmp.Diff(tr.Stats, got); diff != "" {
				t.Errorf("stats (-truth +decoded):\n%s", diff)
			}
			wantCalls := Stats{Calls: 150, Registrations: 50, Options: 20}
			if tr.Stats.Calls != wantCalls.Calls || tr.Stats.Registrations != wantCalls.Registrations || tr.Stats.Options != wantCalls.Options {
				t.Errorf("scenarios %d/%d/%d, want 150/50/20", tr.Stats.Calls, tr.Stats.Registrations, tr.Stats.Options)
			}
			if tr.Stats.Invites < cfg.Calls || tr.Stats.RTCP == 0 || tr.Stats.DNS == 0 {
				t.Errorf("stats %+v: want ≥ %d INVITEs, RTCP and DNS", tr.Stats, cfg.Calls)
			}
			if (cfg.FragmentMTU > 0 && !cfg.TCP) != (tr.Stats.Fragments > 0) {
				t.Errorf("%d fragments with MTU %d, TCP %v", tr.Stats.Fragments, cfg.FragmentMTU, cfg.TCP)
			}
			for i := 1; i < len(tr.SIP); i++ {
				if tr.SIP[i].TS.Before(tr.SIP[i-1].TS) {
					t.Fatalf("SIP message %d is older than the one before", i)
				}
			}
		})
	}
}

var (
	reqLine    = regexp.MustCompile(`^([A-Z]+) (sip:[^ ]+) SIP/2\.0$`)
	statusLine = regexp.MustCompile(`^SIP/2\.0 ([1-6][0-9][0-9]) [A-Za-z ]+$`)
	hdrLine    = regexp.MustCompile(`^([A-Za-z-]+): (.+)$`)
	compact    = map[string]string{"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
		"l": "content-length", "c": "content-type", "k": "supported"}
)

type parsedSIP struct {
	method string
	status int
	hdrs   map[string][]string // lower-case long names
	long   map[string]bool     // header names written in compact form
	body   string
}

// parseSIP is the tests' small SIP check: the start line, header lines,
// the blank line and a body of exactly Content-Length bytes.
func parseSIP(raw string) (parsedSIP, error) {
	p := parsedSIP{hdrs: map[string][]string{}, long: map[string]bool{}}
	head, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		return p, errors.New("no blank line")
	}
	p.body = body
	lines := strings.Split(head, "\r\n")
	if m := reqLine.FindStringSubmatch(lines[0]); m != nil {
		p.method = m[1]
	} else if m := statusLine.FindStringSubmatch(lines[0]); m != nil {
		p.status, _ = strconv.Atoi(m[1])
	} else {
		return p, fmt.Errorf("bad start line %q", lines[0])
	}
	for _, l := range lines[1:] {
		m := hdrLine.FindStringSubmatch(l)
		if m == nil {
			return p, fmt.Errorf("bad header line %q", l)
		}
		name := strings.ToLower(m[1])
		if long, ok := compact[name]; ok {
			p.long[long] = true
			name = long
		}
		p.hdrs[name] = append(p.hdrs[name], m[2])
	}
	for _, h := range []string{"via", "from", "to", "call-id", "cseq", "content-length"} {
		if len(p.hdrs[h]) == 0 {
			return p, fmt.Errorf("no %s header", h)
		}
	}
	if p.method != "" && len(p.hdrs["max-forwards"]) == 0 {
		return p, errors.New("request without Max-Forwards")
	}
	if cl, _ := strconv.Atoi(p.hdrs["content-length"][0]); cl != len(body) {
		return p, fmt.Errorf("Content-Length %d, body %d bytes", cl, len(body))
	}
	if len(body) > 0 && p.hdrs["content-type"][0] != "application/sdp" {
		return p, fmt.Errorf("body of type %v", p.hdrs["content-type"])
	}
	for _, v := range p.hdrs["via"] {
		if !regexp.MustCompile(`^SIP/2\.0/(UDP|TCP) [^ ;]+;.*branch=z9hG4bK[0-9a-z]+`).MatchString(v) {
			return p, fmt.Errorf("bad Via %q", v)
		}
	}
	return p, nil
}

var sdpLine = regexp.MustCompile(`^[vosctmab]=.+$`)

// sdpRTCP returns where the SDP body says RTCP for its audio goes.
func sdpRTCP(body string) (netip.AddrPort, error) {
	var addr netip.Addr
	var port, rtcp int
	mux := false
	seen := ""
	for _, l := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
		if !sdpLine.MatchString(l) {
			return netip.AddrPort{}, fmt.Errorf("bad SDP line %q", l)
		}
		seen += l[:1]
		f := strings.Fields(l[2:])
		switch {
		case l[0] == 'c':
			addr, _ = netip.ParseAddr(f[2])
		case l[0] == 'm':
			port, _ = strconv.Atoi(f[1])
		case strings.HasPrefix(l, "a=rtcp:"):
			rtcp, _ = strconv.Atoi(l[7:])
		case l == "a=rtcp-mux":
			mux = true
		}
	}
	if !strings.HasPrefix(seen, "vosctm") || !addr.IsValid() || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("SDP lines %q, c=%v m=%d", seen, addr, port)
	}
	switch {
	case rtcp != 0:
	case mux:
		rtcp = port
	default:
		rtcp = port + 1
	}
	return netip.AddrPortFrom(addr, uint16(rtcp)), nil
}

// TestRealism parses every SIP message and checks the variety the issue
// asks for is there, that dialogs do not share Call-IDs, that X-CID points
// at a real first leg and that RTCP flows between SDP endpoints.
func TestRealism(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(fmt.Sprint("tcp=", tcp), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Calls, cfg.TCP = 300, tcp
			tr, err := Generate(cfg, func(Packet) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			features := map[string]int{}
			fromTag := map[string]string{}
			callIDs := map[string]bool{}
			var xcids []string
			rtcpEnds := map[string]map[netip.AddrPort]bool{}
			endCall := map[netip.AddrPort]string{} // no endpoint reused in 300 calls
			for i, m := range tr.SIP {
				p, err := parseSIP(string(m.Raw))
				if err != nil {
					t.Fatalf("message %d: %v\n%s", i, err, m.Raw)
				}
				if p.method != m.Method || p.status != m.Status || p.hdrs["call-id"][0] != m.CallID {
					t.Fatalf("message %d: parsed %s/%d/%s, truth %s/%d/%s", i, p.method, p.status, p.hdrs["call-id"][0], m.Method, m.Status, m.CallID)
				}
				if cseq := fmt.Sprint(m.CSeq, " ", m.CSeqMethod); p.hdrs["cseq"][0] != cseq {
					t.Fatalf("message %d: CSeq %q, truth %q", i, p.hdrs["cseq"][0], cseq)
				}
				_, ftag, _ := strings.Cut(p.hdrs["from"][0], ";tag=")
				_, ttag, _ := strings.Cut(p.hdrs["to"][0], ";tag=")
				// The caller's tag is the From tag, or the To tag of what
				// the callee sends; a second dialog would bring another.
				if old, ok := fromTag[m.CallID]; !ok {
					fromTag[m.CallID] = ftag
				} else if old != ftag && old != ttag {
					t.Fatalf("message %d: Call-ID %s used by two dialogs", i, m.CallID)
				}
				callIDs[m.CallID] = true
				if wantTr := strings.ToUpper(m.Transport); !strings.HasPrefix(p.hdrs["via"][0], "SIP/2.0/"+wantTr) {
					t.Fatalf("message %d over %s with Via %s", i, m.Transport, p.hdrs["via"][0])
				}
				if m.Method != "" {
					features[m.Method]++
					if m.Method == "INVITE" && ttag != "" {
						features["re-INVITE"]++
					}
				} else {
					features[strconv.Itoa(m.Status)]++
				}
				for _, h := range []string{"record-route", "route", "p-asserted-identity", "authorization",
					"proxy-authorization", "www-authenticate", "user-agent", "server", "expires", "contact"} {
					if len(p.hdrs[h]) > 0 {
						features[h]++
					}
				}
				if len(p.hdrs["via"]) > 1 {
					features["multiple Via"]++
				}
				if len(p.long) >= 5 {
					features["compact"]++
				}
				if x := p.hdrs["x-cid"]; len(x) > 0 {
					xcids = append(xcids, x[0])
				}
				if p.body != "" {
					ep, err := sdpRTCP(p.body)
					if err != nil {
						t.Fatalf("message %d: %v\n%s", i, err, m.Raw)
					}
					if rtcpEnds[m.CallID] == nil {
						rtcpEnds[m.CallID] = map[netip.AddrPort]bool{}
					}
					rtcpEnds[m.CallID][ep] = true
					if other, ok := endCall[ep]; ok && other != m.CallID {
						t.Fatalf("message %d: media endpoint %v in calls %s and %s", i, ep, other, m.CallID)
					}
					endCall[ep] = m.CallID
					for _, a := range []string{"a=rtcp-mux", "a=rtcp:", "a=sendonly"} {
						if strings.Contains(p.body, a) {
							features[a]++
						}
					}
				}
			}
			for _, f := range []string{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "re-INVITE",
				"100", "180", "200", "401", "407", "486", "487", "503",
				"record-route", "route", "p-asserted-identity", "authorization", "proxy-authorization",
				"www-authenticate", "user-agent", "server", "expires", "contact", "multiple Via", "compact",
				"a=rtcp-mux", "a=rtcp:", "a=sendonly"} {
				if features[f] == 0 {
					t.Errorf("no %s in 300 calls", f)
				}
			}
			if len(xcids) == 0 {
				t.Error("no X-CID")
			}
			for _, x := range xcids {
				if !callIDs[x] {
					t.Errorf("X-CID %s names no Call-ID in the capture", x)
				}
			}
			rtcpTypes := map[byte]int{}
			for i, r := range tr.RTCP {
				if err := checkRTCP(r.Raw); err != nil {
					t.Fatalf("RTCP %d: %v", i, err)
				}
				rtcpTypes[r.Raw[1]]++
				// LSR and DLSR of the report block: 16 bytes into it.
				rb := 28
				if r.Raw[1] == 201 {
					rb = 8
				}
				if binary.BigEndian.Uint32(r.Raw[rb+16:]) != 0 && binary.BigEndian.Uint32(r.Raw[rb+20:]) != 0 {
					rtcpTypes[0]++
				}
				if !rtcpEnds[r.CallID][r.Src] || !rtcpEnds[r.CallID][r.Dst] {
					t.Fatalf("RTCP %d %v→%v is not between the SDP endpoints of %s: %v", i, r.Src, r.Dst, r.CallID, rtcpEnds[r.CallID])
				}
			}
			if rtcpTypes[200] == 0 || rtcpTypes[201] == 0 || rtcpTypes[0] == 0 {
				t.Errorf("RTCP packet types %v: want SR (200), RR (201) and report blocks with LSR/DLSR (0)", rtcpTypes)
			}
			qtypes := map[uint16]bool{}
			for _, q := range tr.DNS {
				qtypes[q.QType] = true
			}
			for _, q := range []uint16{dnsA, dnsAAAA, dnsSRV, dnsNAPTR} {
				if !qtypes[q] {
					t.Errorf("no DNS query of type %d", q)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Config)
	}{
		{"negative calls", func(c *Config) { c.Calls = -1 }},
		{"negative rate", func(c *Config) { c.Rate = -5 }},
		{"three tags", func(c *Config) { c.VLAN = []uint16{1, 2, 3} }},
		{"tag 0", func(c *Config) { c.VLAN = []uint16{0} }},
		{"tag 4095", func(c *Config) { c.VLAN = []uint16{4095} }},
		{"tiny MTU", func(c *Config) { c.FragmentMTU = 100 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.set(&cfg)
			if _, err := Generate(cfg, func(Packet) error { return nil }); !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want ErrConfig", err)
			}
		})
	}
}

func TestEmitError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := Generate(DefaultConfig(), func(Packet) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("error %v after %d frames, want stop after 10", err, n)
	}
}

func TestEmpty(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Calls, cfg.Registrations, cfg.Options = 0, 0, 0
	frames, tr := collect(t, cfg)
	if len(frames) != 0 || tr.Stats != (Stats{}) {
		t.Fatalf("nothing asked, got %d frames, %+v", len(frames), tr.Stats)
	}
}

func TestStream(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Calls = 20
	frames, want := collect(t, cfg)
	ch := make(chan Packet, 16)
	var got [][]byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range ch {
			got = append(got, p.Data)
		}
	}()
	tr, err := Stream(context.Background(), cfg, ch)
	close(ch)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(frames, got); diff != "" {
		t.Fatalf("streamed frames differ from generated (-want +got):\n%.2000s", diff)
	}
	if tr.Stats != want.Stats {
		t.Fatalf("stats %+v, want %+v", tr.Stats, want.Stats)
	}

	ctx, cancel := context.WithCancel(context.Background())
	full := make(chan Packet, 1)
	cancel()
	if _, err := Stream(ctx, cfg, full); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled stream: error %v", err)
	}
}

func TestCollectAndFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Calls = 10
	frames, want := collect(t, cfg)
	pkts, tr, err := Collect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for _, p := range pkts {
		got = append(got, p.Data)
	}
	if diff := cmp.Diff(frames, got); diff != "" || tr.Stats != want.Stats {
		t.Fatalf("Collect differs from Generate (-want +got):\n%.2000s", diff)
	}
	file := filepath.Join(t.TempDir(), "x.pcap")
	if _, err := WritePcapFile(file, cfg); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%x", sha256.Sum256(b)) != hashOf(t, cfg) {
		t.Fatal("WritePcapFile differs from WritePcap")
	}
	if _, err := WritePcapFile(filepath.Join(t.TempDir(), "no", "such", "dir.pcap"), cfg); err == nil {
		t.Fatal("WritePcapFile into a missing directory succeeded")
	}
}

func TestCountsOnly(t *testing.T) {
	cfg := DefaultConfig()
	_, full := collect(t, cfg)
	cfg.CountsOnly = true
	_, counts := collect(t, cfg)
	if counts.Stats != full.Stats || len(counts.SIP)+len(counts.RTCP)+len(counts.DNS) != 0 {
		t.Fatalf("counts only: %+v with %d messages, want %+v and none", counts.Stats, len(counts.SIP), full.Stats)
	}
	if a, b := hashOf(t, cfg), hashOf(t, DefaultConfig()); a != b {
		t.Fatal("CountsOnly changed the frames")
	}
}

// TestTshark: every frame dissects in tshark without a malformed or error
// expert item, with checksum checks, IP reassembly and TCP desegmentation
// on, and tshark finds as many INVITE frames as Truth counts.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (scripts/deps.sh installs it)")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	opts := []string{"-n", "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "ip.defragment:TRUE",
		"-o", "ipv6.defragment:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-o", "tcp.check_checksum:TRUE"}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Calls = 200
			m.set(&cfg)
			file := filepath.Join(t.TempDir(), m.name+".pcap")
			f, err := os.Create(file)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := WritePcap(f, cfg)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-r", file}, opts...)
			args = append(args, "-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "_ws.malformed",
				"-e", "_ws.expert.severity", "-e", "sip.Method", "-e", "frame.protocols")
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark %v: %v", args, err)
			}
			var bad []string
			invites, rtcp, dns := 0, 0, 0
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Split(line, "|")
				if len(f) != 5 {
					t.Fatalf("tshark line %q", line)
				}
				severe := false
				for _, sev := range strings.Split(f[2], ",") {
					if n, _ := strconv.Atoi(sev); n >= 0x00800000 { // PI_ERROR
						severe = true
					}
				}
				if f[1] != "" || severe {
					bad = append(bad, f[0])
				}
				if strings.Contains(","+f[3]+",", ",INVITE,") {
					invites++
				}
				protos := ":" + f[4] + ":"
				if strings.Contains(protos, ":rtcp:") {
					rtcp++
				}
				if strings.Contains(protos, ":dns:") {
					dns++
				}
			}
			if len(bad) > 0 {
				t.Errorf("tshark flags %d frames as malformed or in error, first %v", len(bad), bad[:min(len(bad), 10)])
			}
			if invites != tr.Stats.Invites {
				t.Errorf("tshark sees %d INVITE frames, Truth %d", invites, tr.Stats.Invites)
			}
			if rtcp != tr.Stats.RTCP {
				t.Errorf("tshark sees %d RTCP frames (set up from SDP), Truth %d", rtcp, tr.Stats.RTCP)
			}
			if dns != tr.Stats.DNS {
				t.Errorf("tshark sees %d DNS frames, Truth %d", dns, tr.Stats.DNS)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, m := range []struct {
		name string
		set  func(*Config)
	}{
		{"udp", func(*Config) {}},
		{"tcp", func(c *Config) { c.TCP = true }},
		{"ipv6-frag576", func(c *Config) { c.IPv6, c.FragmentMTU = true, 576 }},
	} {
		b.Run(m.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Calls, cfg.CountsOnly = 200, true
			m.set(&cfg)
			frames := 0
			b.ReportAllocs()
			for b.Loop() {
				tr, err := Generate(cfg, func(Packet) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				frames += tr.Stats.Frames
			}
			b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "pkts/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/pkt")
		})
	}
}

// TestSameTrafficInEveryMode: the options change how the traffic is
// carried, not what it is: the same seed gives the same dialogs, RTCP and
// DNS whatever the transport, IP version, tags or MTU.
func TestSameTrafficInEveryMode(t *testing.T) {
	summary := func(tr *Truth) []string {
		var s []string
		for _, m := range tr.SIP {
			// Call-IDs may carry the caller's address; SRV names the transport.
			id, _, _ := strings.Cut(m.CallID, "@")
			s = append(s, fmt.Sprint(id, " ", m.Method, m.Status, " ", m.CSeq, m.CSeqMethod))
		}
		for _, r := range tr.RTCP {
			id, _, _ := strings.Cut(r.CallID, "@")
			s = append(s, "rtcp "+id)
		}
		for _, q := range tr.DNS {
			s = append(s, fmt.Sprint("dns ", q.ID, strings.Replace(q.Query, "_sip._tcp.", "_sip._udp.", 1), q.Response)) // IPv6 asks AAAA first
		}
		slices.Sort(s)
		return s
	}
	cfg := DefaultConfig()
	_, base := collect(t, cfg)
	for _, m := range modes[1:] {
		c := cfg
		m.set(&c)
		_, tr := collect(t, c)
		a, b := summary(base), summary(tr)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: traffic differs from plain (-plain +%s):\n%.2000s", m.name, m.name, diff)
		}
	}
}

// TestFramerDoesNotAllocate: building and emitting a frame reuses every
// buffer, fragmented or segmented.
func TestFramerDoesNotAllocate(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := DefaultConfig()
			m.set(&cfg)
			if err := cfg.normalize(); err != nil {
				t.Fatal(err)
			}
			g := newGenerator(cfg, func(Packet) error { return nil })
			a, b := g.topo.phones[0], g.topo.proxy
			c := g.fr.conn(a, b)
			payload := bytes.Repeat([]byte("x"), 1200)
			cuts := []int{100, 700}
			send := func() {
				if _, err := g.fr.sendUDP(KindSIP, a, b, a.port, b.port, payload); err != nil {
					t.Fatal(err)
				}
				if _, err := g.fr.sendTCP(KindSIP, c, a, payload, cuts); err != nil {
					t.Fatal(err)
				}
			}
			send()
			if n := testing.AllocsPerRun(200, send); n != 0 {
				t.Fatalf("%v allocations per UDP datagram and TCP message", n)
			}
		})
	}
}
