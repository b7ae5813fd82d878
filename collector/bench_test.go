package collector

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// BenchmarkHandle measures the whole per-message path the listeners call
// — HEP decode, auth key check, dissection, SIP KPIs and the row handed to
// the writer (here the JSON-lines printer writing to io.Discard) — for a
// 600-byte-class SIP message.
func BenchmarkHandle(b *testing.B) {
	s, err := New(Config{Read: "unused.pcap", Print: true, Output: io.Discard, AuthKey: "k"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sip := sipMsg("BYE sip:bob@b.example SIP/2.0", "bench-call-id-0123456789@host.example.com", "2 BYE")
	for len(sip) < 600 {
		sip = append(sip[:len(sip)-2], "X-Pad: 0123456789012345678901234567890123456789\r\n\r\n"...)
	}
	msg := hepMsg(b, hep.ProtoSIP, sip, time.Now(), func(m *hep.Message) { m.AuthKey = []byte("k") })
	from := netip.MustParseAddrPort("127.0.0.1:5060")
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		s.handle(msg, from, ingest.UDP)
	}
}

// TestServiceUDPLoad sends 100,000 HEP SIP messages per second over UDP
// loopback for three seconds through the whole message path (decode,
// dissect, KPIs; rows discarded) and reports the loss counted by the
// listener. It reports, it does not assert on speed: the machine is shared.
func TestServiceUDPLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	var stored atomic.Uint64
	s, _ := startService(t, Config{Listen: []string{"udp://127.0.0.1:0"}}, countingWriter{&stored})
	dst := net.UDPAddrFromAddrPort(s.Listeners()[0].Addr)
	msg := hepMsg(t, hep.ProtoSIP, sipMsg("OPTIONS sip:b.example SIP/2.0", "load-test-call-id@host.example.com", "1 OPTIONS"), time.Now(), nil)
	const rate, seconds, senders = 100_000, 3, 4
	var conns []*net.UDPConn
	for range senders {
		c, err := net.DialUDP("udp", nil, dst)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	var sent uint64
	begin := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for now := range tick.C {
		el := now.Sub(begin)
		if el >= seconds*time.Second {
			break
		}
		for due := uint64(el.Seconds() * rate); sent < due; sent++ {
			if _, err := conns[sent%senders].Write(msg); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
	}
	elapsed := time.Since(begin)
	for prev := uint64(0); ; prev = stored.Load() {
		time.Sleep(200 * time.Millisecond)
		if n := stored.Load(); n >= sent || n == prev {
			break
		}
	}
	st := s.IngestStats()
	recv := st.Messages[ingest.UDP]
	if recv > sent {
		t.Fatalf("listener counted %d messages, more than the %d sent", recv, sent)
	}
	t.Logf("sent %d in %v (%.0f msg/s); listener received %d, loss %d (%.4f%%); rows %d; kernel socket drops %d",
		sent, elapsed.Round(time.Millisecond), float64(sent)/elapsed.Seconds(), recv, sent-recv,
		100*float64(sent-recv)/float64(sent), stored.Load(), st.UDPDrops)
}

// countingWriter counts the rows it is given.
type countingWriter struct{ n *atomic.Uint64 }

func (c countingWriter) Write(*store.Row) error { c.n.Add(1); return nil }

// BenchmarkStoreSIP measures sustained storage: SIP messages through the
// whole message path into a real MariaDB (XHEP_TEST_DSN), including the
// final drain. rows/s counts rows in the database at the end divided by
// the time from the first message to the end of the drain; cpu-us/row is
// this process's CPU (user+system) per row, the collector's share.
func BenchmarkStoreSIP(b *testing.B) {
	dsn := testDSN(b)
	name, db := testDatabase(b, dsn)
	s, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, MySQL: dsn, Database: name, SpillDir: b.TempDir(), DrainTimeout: 10 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	methods := []string{"INVITE", "ACK", "BYE", "REGISTER", "OPTIONS"}
	var msgs [][]byte
	now := time.Now()
	for i := range 1000 {
		m := methods[i%len(methods)]
		msgs = append(msgs, hepMsg(b, hep.ProtoSIP, sipMsg(m+" sip:bob@b.example SIP/2.0", fmt.Sprintf("bench-%d@host.example.com", i), "1 "+m), now, nil))
	}
	from := netip.MustParseAddrPort("127.0.0.1:5060")
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	begin := time.Now()
	n := 0
	for b.Loop() {
		s.handle(msgs[n%len(msgs)], from, ingest.UDP)
		n++
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	el := time.Since(begin)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	var rows int
	for _, t := range []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default"} {
		var c int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + name + "." + t).Scan(&c); err != nil {
			b.Fatal(err)
		}
		rows += c
	}
	if rows != n {
		var sb strings.Builder
		mfs, _ := s.Registry().Gather()
		for _, mf := range mfs {
			if strings.Contains(mf.GetName(), "store") || strings.Contains(mf.GetName(), "write") || strings.Contains(mf.GetName(), "spill") || strings.Contains(mf.GetName(), "drop") {
				for _, m := range mf.GetMetric() {
					fmt.Fprintf(&sb, "%s %v %v %v\n", mf.GetName(), m.GetLabel(), m.GetCounter().GetValue(), m.GetGauge().GetValue())
				}
			}
		}
		b.Errorf("%d rows stored of %d messages; metrics:\n%s", rows, n, sb.String())
	}
	b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(rows, 1)), "cpu-us/row")
}
