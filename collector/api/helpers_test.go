package api

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	chstd "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/go-sql-driver/mysql"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/collector/store/clickhouse"
	"github.com/xhep/xhep/collector/store/clickhouse/chtest"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtcp"
)

// testDSN returns the DSN of the test server or skips.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		tb.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	return dsn
}

// testDatabase returns a fresh database name, dropped at cleanup.
func testDatabase(tb testing.TB, dsn string) string {
	tb.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "xhep_api_t_" + hex.EncodeToString(r[:])
	tb.Cleanup(func() {
		dc, err := mysql.ParseDSN(dsn)
		if err != nil {
			tb.Errorf("parse DSN: %v", err)
			return
		}
		dc.DBName = ""
		c, err := mysql.NewConnector(dc)
		if err != nil {
			tb.Errorf("connector: %v", err)
			return
		}
		db := sql.OpenDB(c)
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	return name
}

// fixtureRTCPJSON, set by a test (none runs in parallel), stores the
// fixture's RTCP as JSON instead of binary.
var fixtureRTCPJSON bool

// genStart is the capture time of the generated traffic.
var genStart = time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)

// fixture is a stored capture and what went into it.
type fixture struct {
	backend string // "mysql" or "clickhouse"
	st      *store.Store
	truth   *gen.Truth
	// sip is every SIP message stored, the generated ones and the extra
	// chain legs, in capture order.
	sip []gen.SIPMessage
	// corr maps a SIP message's index in sip to the HEP correlation id it
	// was sent with ("" for none).
	corr map[int]string
	logs []logLine
	// aLeg, bLeg, cLeg, dLeg: a B2BUA call's legs (X-CID from b to a),
	// a third leg c with X-CID b, a fourth d linked to c only by the HEP
	// correlation id.
	aLeg, bLeg, cLeg, dLeg string
}

type logLine struct {
	ts     time.Time
	corrID string
	text   string
}

// newFixture generates traffic, dissects it and stores it in a fresh
// database.
func newFixture(t testing.TB) *fixture { return newFixtureWith(t, nil, nil) }

// newFixtureWith is newFixture with the generator's config changed by mod
// and extra SIP messages stored too.
func newFixtureWith(t testing.TB, mod func(*gen.Config), extra []gen.SIPMessage) *fixture {
	t.Helper()
	return newFixtureOn(t, testBackend(), mod, extra)
}

// testBackend is the backend the API tests run on: XHEP_TEST_BACKEND
// ("mysql", the default, or "clickhouse").
func testBackend() string {
	if b := os.Getenv("XHEP_TEST_BACKEND"); b != "" {
		return b
	}
	return "mysql"
}

// fixtureSearchHeaders are the --search-header names of every test store,
// dissector and API.
var fixtureSearchHeaders = []string{"X-Account", "X-CID"}

// openTestStore opens a store on a fresh database of backend.
func openTestStore(t testing.TB, backend string) *store.Store {
	t.Helper()
	st, _ := openTestStoreOn(t, backend, "", fixtureSearchHeaders)
	return st
}

// openTestStoreOn opens a store of backend on database name (empty: a
// fresh one, dropped at cleanup) with the search headers hdrs; it
// returns the store and the database name.
func openTestStoreOn(t testing.TB, backend, name string, hdrs []string) (*store.Store, string) {
	t.Helper()
	cfg := store.Config{Now: func() time.Time { return genStart }, SearchHeaders: hdrs}
	fresh := name == ""
	switch backend {
	case "mysql":
		dsn := testDSN(t)
		cfg.DSN, cfg.Database = dsn, name
		if fresh {
			cfg.Database = testDatabase(t, dsn)
		}
		name = cfg.Database
	case "clickhouse", "clickhouse-cluster":
		addr := os.Getenv("XHEP_TEST_CLICKHOUSE")
		if addr == "" {
			t.Skip("XHEP_TEST_CLICKHOUSE is not set: start a server with scripts/clickhouse.sh start and export XHEP_TEST_CLICKHOUSE=<the address it prints>")
		}
		cluster := ""
		if backend == "clickhouse-cluster" {
			// Two shards of their own on loopback.
			shards := chtest.Cluster(t, "xhep_api", 25940, 25950)
			addr, cluster = shards[0].Addr, "xhep_api"
		}
		if fresh {
			var r [4]byte
			_, _ = rand.Read(r[:])
			name = "xhep_api_t_" + hex.EncodeToString(r[:])
		}
		be, err := clickhouse.New(clickhouse.Config{Addrs: []string{addr}, Database: name, Username: "xhep", Password: "xhep", Cluster: cluster,
			SearchHeaders: hdrs})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Backend = be
		t.Cleanup(func() {
			if !fresh {
				return
			}
			db := sql.OpenDB(chstd.Connector(&chstd.Options{Addr: []string{addr}, Auth: chstd.Auth{Username: "xhep", Password: "xhep"}}))
			defer db.Close()
			if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
				t.Errorf("drop test database %s: %v", name, err)
			}
		})
	default:
		t.Fatalf("XHEP_TEST_BACKEND=%q: want mysql or clickhouse", backend)
	}
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, name
}

// newFixtureOn is newFixtureWith on the given backend.
func newFixtureOn(t testing.TB, backend string, mod func(*gen.Config), extra []gen.SIPMessage) *fixture {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t, backend)

	cfg := gen.DefaultConfig()
	cfg.Seed = 6
	cfg.Start = genStart
	cfg.Calls, cfg.Registrations, cfg.Options = 40, 6, 4
	if mod != nil {
		mod(&cfg)
	}
	tr, dnsPayloads, err := generate(cfg)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	f := &fixture{backend: backend, st: st, truth: tr, corr: map[int]string{}}
	f.sip = append(f.sip, tr.SIP...)

	// The B2BUA call (leg b has X-CID: a) with the most DNS lookups by its
	// hosts for its domains, so that the flow's DNS list is not empty.
	best := -1
	for _, m := range tr.SIP {
		v := header(m.Raw, "X-CID")
		if v == "" || m.Method != "INVITE" {
			continue
		}
		if n := len(dnsOfCall(tr.SIP, tr.DNS, map[string]bool{v: true, m.CallID: true})); n > best {
			best, f.aLeg, f.bLeg = n, v, m.CallID
		}
	}
	if f.aLeg == "" {
		t.Fatal("generated traffic has no B2BUA call")
	}
	// Legs c (X-CID: b) and d (correlated to c by HEP), inside b's time.
	var bFirst time.Time
	for _, m := range tr.SIP {
		if m.CallID == f.bLeg {
			bFirst = m.TS
			break
		}
	}
	f.cLeg, f.dLeg = "leg-c-"+f.bLeg, "leg-d-"+f.bLeg
	at := bFirst.Add(3*time.Millisecond + 500*time.Microsecond)
	c := netip.MustParseAddrPort("10.0.0.20:5060")
	x := netip.MustParseAddrPort("10.0.0.40:5080")
	y := netip.MustParseAddrPort("10.0.0.41:5060")
	for i, m := range []struct {
		src, dst netip.AddrPort
		first    string
		callID   string
		cseq     string
		extra    string
	}{
		{c, x, "INVITE sip:9000@media.example.net SIP/2.0", f.cLeg, "1 INVITE", "X-CID: " + f.bLeg + "\r\n"},
		{x, c, "SIP/2.0 100 Trying", f.cLeg, "1 INVITE", ""},
		{x, y, "INVITE sip:9000@ivr.example.net SIP/2.0", f.dLeg, "1 INVITE", ""},
		{y, x, "SIP/2.0 200 OK", f.dLeg, "1 INVITE", ""},
		{x, c, "SIP/2.0 200 OK", f.cLeg, "1 INVITE", ""},
		{c, x, "ACK sip:9000@10.0.0.40:5080 SIP/2.0", f.cLeg, "1 ACK", ""},
	} {
		ts := at.Add(time.Duration(i) * 100 * time.Microsecond)
		method, status := "", 0
		if strings.HasPrefix(m.first, "SIP/2.0 ") {
			fmt.Sscanf(m.first, "SIP/2.0 %d", &status)
		} else {
			method, _, _ = strings.Cut(m.first, " ")
		}
		raw := m.first + "\r\nVia: SIP/2.0/UDP " + m.src.String() + ";branch=z9hG4bKchain" + fmt.Sprint(i) +
			"\r\nFrom: <sip:pbx@pbx.example.com>;tag=c1\r\nTo: <sip:9000@media.example.net>\r\nCall-ID: " + m.callID +
			"\r\nCSeq: " + m.cseq + "\r\n" + m.extra + "Content-Length: 0\r\n\r\n"
		f.sip = append(f.sip, gen.SIPMessage{Src: m.src, Dst: m.dst, Transport: "udp", TS: ts, CallID: m.callID,
			Method: method, Status: status, CSeqMethod: strings.Fields(m.cseq)[1], Raw: []byte(raw)})
	}
	f.sip = append(f.sip, extra...)
	sortSIP(f.sip)
	for i, m := range f.sip {
		if m.CallID == f.dLeg {
			f.corr[i] = f.cLeg
		}
	}
	// The first one-leg call's INVITE carries a correlation id that names
	// no call (as some agents send): it must not add a leg.
	for i, m := range f.sip {
		if m.Method == "INVITE" && m.CallID != f.aLeg && m.CallID != f.bLeg && header(m.Raw, "X-CID") == "" {
			f.corr[i] = "agent-token-1"
			break
		}
	}
	// A log line for leg a and one for leg c.
	f.logs = []logLine{
		{bFirst.Add(time.Millisecond), f.aLeg, "routing " + f.aLeg + " to queue"},
		{bFirst.Add(4 * time.Millisecond), f.cLeg, "ivr leg " + f.cLeg + " started"},
	}

	d, err := dissect.New(dissect.Config{SearchHeaders: fixtureSearchHeaders})
	if err != nil {
		t.Fatal(err)
	}
	var row store.Row
	write := func(m *hep.Message) {
		t.Helper()
		if err := d.Dissect(m, &row); err != nil {
			t.Fatalf("dissect %v at %v: %v", m.Proto, m.Time(), err)
		}
		if err := st.Write(&row); err != nil {
			t.Fatalf("write row: %v", err)
		}
	}
	for i, s := range f.sip {
		m := hepMessage(hep.ProtoSIP, s.Src, s.Dst, s.Transport, s.TS, s.Raw)
		m.CorrelationID = []byte(f.corr[i])
		write(m)
	}
	for _, r := range tr.RTCP {
		raw := r.Raw
		if fixtureRTCPJSON {
			// As heplify and xhep-agent send it: the report as JSON.
			var p rtcp.Packet
			if err := p.DecodeFromBytes(raw); err != nil {
				t.Fatalf("generated RTCP: %v", err)
			}
			raw = p.AppendJSON(nil)
		}
		m := hepMessage(hep.ProtoRTCP, r.Src, r.Dst, "udp", r.TS, raw)
		m.CorrelationID = []byte(r.CallID)
		write(m)
	}
	for _, p := range tr.DNS {
		raw, ok := dnsPayloads[dnsKey(p.Src, p.Dst, p.TS)]
		if !ok {
			t.Fatalf("no DNS frame for %+v", p)
		}
		m := hepMessage(hep.ProtoDNS, p.Src, p.Dst, "udp", p.TS, raw)
		write(m)
	}
	for _, l := range f.logs {
		m := hepMessage(hep.ProtoLog, netip.MustParseAddrPort("10.0.0.20:0"), netip.MustParseAddrPort("10.0.0.99:0"), "udp", l.ts, []byte(l.text))
		m.CorrelationID = []byte(l.corrID)
		write(m)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := st.Flush(fctx); err != nil {
		t.Fatalf("flush store: %v", err)
	}
	return f
}

// dnsKey identifies a DNS packet of the capture.
func dnsKey(src, dst netip.AddrPort, ts time.Time) string {
	return src.String() + ">" + dst.String() + "@" + ts.Format(time.RFC3339Nano)
}

// sortSIP orders messages by capture time (stable).
func sortSIP(s []gen.SIPMessage) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].TS.Before(s[j-1].TS); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// header returns the first value of header name in a raw SIP message.
func header(raw []byte, name string) string {
	for _, line := range strings.Split(string(raw), "\r\n") {
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// hepMessage builds the HEP message a capture agent sends for a payload.
func hepMessage(p hep.ProtoType, src, dst netip.AddrPort, transport string, ts time.Time, payload []byte) *hep.Message {
	m := &hep.Message{Version: 3, Proto: p, SrcIP: src.Addr(), DstIP: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		TsSec: uint32(ts.Unix()), TsUsec: uint32(ts.Nanosecond() / 1000), NodeID: 2001, NodeName: []byte("probe-1"),
		Payload: payload, IPFamily: 2, IPProto: 17}
	if src.Addr().Is6() {
		m.IPFamily = 10
	}
	if transport == "tcp" {
		m.IPProto = 6
	}
	for _, c := range []uint16{hep.ChunkIPFamily, hep.ChunkIPProto, hep.ChunkSrcPort, hep.ChunkDstPort, hep.ChunkTsSec, hep.ChunkTsUsec,
		hep.ChunkProtoType, hep.ChunkNodeID, hep.ChunkNodeName} {
		m.Set(c)
	}
	return m
}

// server runs the API on a loopback listener.
func server(t testing.TB, f *fixture, mod func(*Config)) (*httptest.Server, *API) {
	t.Helper()
	cfg := Config{DB: f.st.DB(), Backend: f.backend, Now: func() time.Time { return genStart.Add(2 * time.Hour) },
		SearchHeaders: fixtureSearchHeaders}
	if f.backend == "clickhouse-cluster" {
		cfg.Backend, cfg.Cluster = "clickhouse", true
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, a
}

// get fetches url and returns the status and body.
func get(t testing.TB, url string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, b
}

// getJSON fetches url, wants 200 and decodes the body into v.
func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	code, b := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: decode: %v\n%s", url, err, b)
	}
}

// dnsOfCall lists the DNS packets the flow of the call made of legs must
// show: sent or received by one of its hosts, for one of its domains (or a
// subdomain), from 30s before its first message to its last.
func dnsOfCall(sip []gen.SIPMessage, dns []gen.DNSPacket, legs map[string]bool) []string {
	hosts, domains := map[string]bool{}, map[string]bool{}
	var first, last time.Time
	for _, m := range sip {
		if legs[m.CallID] {
			hosts[m.Src.Addr().String()], hosts[m.Dst.Addr().String()] = true, true
			for _, d := range sipDomains(m.Raw) {
				domains[d] = true
			}
			if first.IsZero() {
				first = m.TS
			}
			last = m.TS
		}
	}
	var out []string
	for _, d := range dns {
		in := !d.TS.Before(first.Add(-30*time.Second)) && !d.TS.After(last)
		if in && (hosts[d.Src.Addr().String()] || hosts[d.Dst.Addr().String()]) && forDomain(d.Query, domains) {
			out = append(out, fmt.Sprintf("%d %s %s>%s", d.TS.UnixMicro(), d.Query, d.Src, d.Dst))
		}
	}
	return out
}

// generate runs the generator and returns its truth with the UDP payloads
// of the DNS packets (gen.Truth keeps no DNS bytes), keyed by dnsKey.
func generate(cfg gen.Config) (*gen.Truth, map[string][]byte, error) {
	dnsPayloads := map[string][]byte{}
	tr, err := gen.Generate(cfg, func(p gen.Packet) error {
		if p.Kind != gen.KindDNS {
			return nil
		}
		pk := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default)
		nl, tl := pk.NetworkLayer(), pk.TransportLayer()
		if nl == nil || tl == nil {
			return fmt.Errorf("DNS frame at %v does not decode", p.TS)
		}
		src, _ := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		udp := tl.(*layers.UDP)
		key := dnsKey(netip.AddrPortFrom(src, uint16(udp.SrcPort)), netip.AddrPortFrom(dst, uint16(udp.DstPort)), p.TS)
		dnsPayloads[key] = append([]byte(nil), udp.Payload...)
		return nil
	})
	return tr, dnsPayloads, err
}
