package main

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/xhep/xhep/hep"
)

// buildBinary compiles xhep-collector into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xhep-collector")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGTERMDrain runs the built binary against the test MariaDB, sends
// messages over UDP and TCP, sends SIGTERM right after the last one and
// checks that the process exits 0 with every message stored.
func TestSIGTERMDrain(t *testing.T) {
	dsn := os.Getenv("XHEP_TEST_DSN")
	if dsn == "" {
		t.Skip("XHEP_TEST_DSN is not set: start a server with scripts/mariadb.sh start and export XHEP_TEST_DSN=<the DSN it prints>")
	}
	var r [4]byte
	rand.Read(r[:])
	dbName := "xhep_cmd_t_" + hex.EncodeToString(r[:])
	dc, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dc.DBName = ""
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() {
		db.Exec("DROP DATABASE IF EXISTS " + dbName)
		db.Close()
	})

	bin := buildBinary(t)
	spill := t.TempDir()
	args := []string{"--listen", "udp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0",
		"--mysql", dsn, "--database", dbName, "--spill-dir", spill, "--http", "127.0.0.1:0"}
	c := startCollector(t, bin, args)
	addrs := c.addrs

	const perTransport = 5000
	at := time.Now()
	msg := func(i int, tr string) []byte {
		m := hep.Message{IPFamily: 2, IPProto: 17, SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
			SrcPort: 5060, DstPort: 5060, TsSec: uint32(at.Unix()), TsUsec: uint32(i), Proto: hep.ProtoSIP, NodeID: 1,
			Payload: []byte(strings.ReplaceAll(fmt.Sprintf("BYE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK%d\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: %s-%d\nCSeq: 2 BYE\nContent-Length: 0\n\n", i, tr, i), "\n", "\r\n"))}
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tc, err := net.Dial("tcp", addrs["tcp"])
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(tc)
	for i := range perTransport {
		w.Write(msg(i, "tcp"))
	}
	w.Flush()
	uc, err := net.Dial("udp", addrs["udp"])
	if err != nil {
		t.Fatal(err)
	}
	for i := range perTransport {
		uc.Write(msg(i, "udp"))
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // loopback, but do not outrun a loaded machine
		}
	}
	uc.Close()
	// The HTTP server carries /metrics and the API.
	for _, path := range []string{"/metrics", "/api/v1/stats"} {
		resp, err := http.Get("http://" + c.http + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	// SIGTERM at once: what was sent sits in socket buffers and queues and
	// must all be drained into the database (or, if the database is too
	// slow for the drain timeout, into the spill, written on the next start).
	c.stop(t)
	tc.Close()
	count := func() (tcpRows, udpRows int) {
		q := "SELECT COALESCE(SUM(callid LIKE 'tcp-%'),0), COALESCE(SUM(callid LIKE 'udp-%'),0) FROM " + dbName + ".hep_proto_1_call"
		if err := db.QueryRow(q).Scan(&tcpRows, &udpRows); err != nil {
			t.Fatal(err)
		}
		return
	}
	tcpRows, udpRows := count()
	if tcpRows+udpRows < 2*perTransport {
		// Spilled: a restart writes the spill first.
		t.Logf("after SIGTERM %d TCP and %d UDP rows are in the database; restarting to write the spill", tcpRows, udpRows)
		c := startCollector(t, bin, args)
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if tcpRows, udpRows = count(); tcpRows+udpRows >= 2*perTransport {
				break
			}
		}
		c.stop(t)
		tcpRows, udpRows = count()
	}
	if tcpRows != perTransport || udpRows != perTransport {
		t.Errorf("stored %d TCP and %d UDP rows, want %d each", tcpRows, udpRows, perTransport)
	}
}

// collectorProcess is a running xhep-collector.
type collectorProcess struct {
	cmd     *exec.Cmd
	addrs   map[string]string // transport → listening address
	http    string            // HTTP address, when --http was given
	logDone chan string
	startup []string
}

// startCollector runs the binary and waits for its two "listening" lines.
func startCollector(t *testing.T, bin string, args []string, mods ...func(*exec.Cmd)) *collectorProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, m := range mods {
		m(cmd)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The log says where it listens: msg=listening transport=udp addr=127.0.0.1:PORT
	p := &collectorProcess{cmd: cmd, addrs: map[string]string{}, logDone: make(chan string, 1)}
	re := regexp.MustCompile(`msg=listening transport=(\w+) addr=(\S+)`)
	reHTTP := regexp.MustCompile(`msg="serving HTTP" addr=(\S+)`)
	sc := bufio.NewScanner(stderr)
	for len(p.addrs) < 2 && sc.Scan() {
		p.startup = append(p.startup, sc.Text())
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			p.addrs[m[1]] = m[2]
		}
		if m := reHTTP.FindStringSubmatch(sc.Text()); m != nil {
			p.http = m[1]
		}
	}
	if len(p.addrs) < 2 {
		t.Fatalf("no listening lines in the log:\n%s", strings.Join(p.startup, "\n"))
	}
	go func() {
		b, _ := io.ReadAll(stderr)
		p.logDone <- string(b)
	}()
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *collectorProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		log := <-p.logDone
		if err != nil {
			t.Fatalf("exit: %v\nstartup:\n%s\nthen:\n%s", err, strings.Join(p.startup, "\n"), log)
		}
		t.Logf("collector log:\n%s\n%s", strings.Join(p.startup, "\n"), log)
	case <-time.After(3 * time.Minute):
		t.Fatal("collector did not exit within 3 minutes of SIGTERM")
	}
}

// TestStartupErrorsExit2: a start-up error found only when binding (a
// port out of range, an HTTP address in use, a UDP address another
// collector holds) prints the error and exits 2, without a panic.
func TestStartupErrorsExit2(t *testing.T) {
	bin := buildBinary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	held, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fwd := []string{"--forward", "udp://127.0.0.1:9"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"udp port out of range", []string{"--listen", "udp://127.0.0.1:99999"}, "99999"},
		{"http in use", []string{"--listen", "udp://127.0.0.1:0", "--http", busy.Addr().String()}, "listen http"},
		{"udp address held", []string{"--listen", "udp://" + held.LocalAddr().String()}, "udp-share-port"},
		{"bad retention", []string{"--listen", "udp://127.0.0.1:0", "--mysql", "u:p@tcp(127.0.0.1:1)/", "--retention", "call=14x"}, "retention"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append(tc.args, fwd...)...)
			out, err := cmd.CombinedOutput()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err == nil {
				code = 0
			}
			if code != 2 || !strings.Contains(string(out), tc.want) || strings.Contains(string(out), "panic") {
				t.Errorf("exit %d, want 2 and the error (%q) without a panic; output:\n%s", code, tc.want, out)
			}
		})
	}
}
