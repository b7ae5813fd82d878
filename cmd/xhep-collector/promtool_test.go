package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/hep"
)

// TestMetricsPromtool runs the built binary, sends a call, a registration
// and RTCP, and checks /metrics with promtool (Debian's prometheus
// package). With XHEP_TEST_DSN the store's metrics are in the scrape too.
func TestMetricsPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: apt-get install prometheus (scripts/deps.sh does)")
	}
	bin := buildBinary(t)
	args := []string{"--listen", "udp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
		"--alias", "192.0.2.0/24=carrier-a"}
	if dsn := os.Getenv("XHEP_TEST_DSN"); dsn != "" {
		var r [4]byte
		rand.Read(r[:])
		db := "xhep_prom_t_" + hex.EncodeToString(r[:])
		args = append(args, "--mysql", dsn, "--database", db)
		t.Cleanup(func() { dropDatabase(t, dsn, db) })
	} else {
		sink, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		args = append(args, "--forward", "udp://"+sink.LocalAddr().String())
	}
	c := startCollector(t, bin, args)
	uc, err := net.Dial("udp", c.addrs["udp"])
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	at := time.Now()
	send := func(proto hep.ProtoType, src, dst string, payload []byte) {
		m := hep.Message{IPFamily: 2, IPProto: 17, SrcIP: netip.MustParseAddr(src), DstIP: netip.MustParseAddr(dst),
			SrcPort: 5060, DstPort: 5060, TsSec: uint32(at.Unix()), TsUsec: uint32(at.Nanosecond() / 1000), Proto: proto,
			NodeID: 3, NodeName: []byte("edge-1"), Payload: payload}
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := uc.Write(b); err != nil {
			t.Fatal(err)
		}
		at = at.Add(100 * time.Millisecond)
	}
	sipText := func(first, cseq, to string) []byte {
		return []byte(strings.ReplaceAll(first+"\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK"+cseq[:1]+"\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>"+to+
			"\nCall-ID: prom-1\nCSeq: "+cseq+"\nContent-Length: 0\n\n", "\n", "\r\n"))
	}
	const phone, trunk = "10.0.0.1", "192.0.2.9"
	send(hep.ProtoSIP, phone, trunk, sipText("INVITE sip:b@h SIP/2.0", "1 INVITE", ""))
	send(hep.ProtoSIP, trunk, phone, sipText("SIP/2.0 180 Ringing", "1 INVITE", ";tag=2"))
	send(hep.ProtoSIP, trunk, phone, sipText("SIP/2.0 200 OK", "1 INVITE", ";tag=2"))
	send(hep.ProtoSIP, phone, trunk, sipText("BYE sip:b@h SIP/2.0", "2 BYE", ";tag=2"))
	send(hep.ProtoSIP, trunk, phone, sipText("SIP/2.0 401 Unauthorized", "3 REGISTER", ";tag=3"))
	send(hep.ProtoRTCP, phone, trunk, receiverReport())

	var text []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + c.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		text, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(text, []byte(`xhep_rtcp_reports_total{node="edge-1"} 1`)) &&
			bytes.Contains(text, []byte(`xhep_sip_call_duration_seconds_count{node="edge-1",peer="carrier-a"} 1`)) {
			break
		}
	}
	for _, want := range []string{
		`xhep_rtcp_reports_total{node="edge-1"} 1`,
		`xhep_sip_call_duration_seconds_count{node="edge-1",peer="carrier-a"} 1`,
		`xhep_sip_invite_outcomes_total{node="edge-1",outcome="answered",peer="carrier-a"} 1`,
		`xhep_sip_invite_outcomes_total{node="edge-1",outcome="failed",peer="carrier-a"} 0`,
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("scrape lacks %s:\n%s", want, grepLines(text, "xhep_sip_invite"))
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	c.stop(t)
}

// receiverReport is an RTCP RR with one report block: 10/256 lost, jitter
// 160 timestamp units (20 ms at 8 kHz).
func receiverReport() []byte {
	b := make([]byte, 32)
	b[0], b[1] = 0x81, 201
	binary.BigEndian.PutUint16(b[2:], 7)
	binary.BigEndian.PutUint32(b[4:], 0x11111111)
	binary.BigEndian.PutUint32(b[8:], 0x22222222)
	b[12] = 10
	binary.BigEndian.PutUint32(b[16:], 1000)
	binary.BigEndian.PutUint32(b[20:], 160)
	return b
}

// dropDatabase removes a test database.
func dropDatabase(t *testing.T, dsn, name string) {
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Error(err)
		return
	}
	dc.DBName = ""
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		t.Error(err)
		return
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
		t.Error(err)
	}
}

// grepLines returns the lines of text that start with prefix.
func grepLines(text []byte, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(string(text)) {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(line)
		}
	}
	return b.String()
}
