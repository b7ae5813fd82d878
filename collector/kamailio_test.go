package collector

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// kamailioCfg makes Kamailio's siptrace module mirror every request it
// receives as HEP to the collector, and answer it 200.
const kamailioCfg = `#!KAMAILIO
debug=1
children=1
auto_aliases=no
listen=udp:127.0.0.1:%d
listen=tcp:127.0.0.1:%d
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:%d%s")
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", %d)
modparam("siptrace", "hep_capture_id", 2001)
modparam("siptrace", "auth_key", "myHep")
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_to_database", 0)
request_route {
	sip_trace();
	sl_send_reply("200", "OK");
	exit;
}
`

// TestKamailioInterop runs a real Kamailio whose siptrace module sends HEP
// (v2, and v3 with an auth key, over UDP and over TCP) to the collector's
// listener, and checks
// the rows the collector makes of it. It skips when kamailio is not
// installed.
func TestKamailioInterop(t *testing.T) {
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		t.Skip("kamailio not installed (apt-get install kamailio)")
	}
	for _, tc := range []struct {
		ver       int
		transport string
	}{{2, "udp"}, {3, "udp"}, {3, "tcp"}} {
		ver := tc.ver
		t.Run(fmt.Sprintf("v%d-%s", ver, tc.transport), func(t *testing.T) {
			cfg := Config{Listen: []string{tc.transport + "://127.0.0.1:0"}}
			if ver == 3 {
				cfg.AuthKey = "myHep" // v2 has no auth key field
			}
			s, rows := startService(t, cfg)
			hepPort := s.Listeners()[0].Addr.Port()
			uriParam := ""
			if tc.transport == "tcp" {
				uriParam = ";transport=tcp"
			}

			sip, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sip.Close() })
			kamPort := freeUDPTCPPort(t)

			dir := t.TempDir()
			cfgFile := filepath.Join(dir, "kamailio.cfg")
			if err := os.WriteFile(cfgFile, fmt.Appendf(nil, kamailioCfg, kamPort, kamPort, hepPort, uriParam, ver), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			cmd := exec.Command(bin, "-f", cfgFile, "-DD", "-E", "-m", "16", "-M", "4",
				"-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-w", dir)
			cmd.Stdout, cmd.Stderr = &log, &log
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatalf("start kamailio: %v", err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Kamailio and its children
				<-exited
				if t.Failed() {
					t.Logf("kamailio output:\n%s", log.String())
				}
			})

			callID := fmt.Sprintf("xhep-kam-collector-%d-%d@127.0.0.1", ver, time.Now().UnixNano())
			options := fmt.Sprintf("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\n"+
				"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-c%d\r\n"+
				"Max-Forwards: 70\r\nFrom: <sip:xhep@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"+
				"Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nX-CID: aleg-%d\r\nContent-Length: 0\r\n\r\n", kamPort, sip.LocalAddr().(*net.UDPAddr).Port, ver, callID, ver)
			kam := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: kamPort}
			// Kamailio takes a moment to start: resend until a row arrives.
			var got printedRow
			for deadline := time.Now().Add(15 * time.Second); ; {
				if time.Now().After(deadline) {
					t.Fatal("no row from kamailio's HEP")
				}
				select {
				case err := <-exited:
					exited <- err
					t.Fatalf("kamailio exited: %v", err)
				default:
				}
				sip.WriteToUDP([]byte(options), kam)
				time.Sleep(300 * time.Millisecond)
				rows.mu.Lock()
				found := false
				for _, r := range rows.got {
					if r.ProtocolHeader["callid"] == callID {
						got, found = r, true
					}
				}
				rows.mu.Unlock()
				if found {
					break
				}
			}
			want := map[string]any{"table": "hep_proto_1_default", "gid": uint32(2001), "hepVersion": float64(ver),
				"method": "OPTIONS", "callid_aleg": fmt.Sprintf("aleg-%d", ver), "srcIp": "127.0.0.1", "dstPort": float64(kamPort)}
			have := map[string]any{"table": got.Table, "gid": got.GID, "hepVersion": got.HepHeader["hepVersion"],
				"method": got.ProtocolHeader["method"], "callid_aleg": got.ProtocolHeader["callid_aleg"],
				"srcIp": got.HepHeader["srcIp"], "dstPort": got.HepHeader["dstPort"]}
			for k, v := range want {
				if have[k] != v {
					t.Errorf("%s = %v, want %v", k, have[k], v)
				}
			}
			m := metricsText(t, s)
			if metricValue(m, "xhep_collector_auth_rejects_total") != 0 {
				t.Error("kamailio's messages were rejected for the auth key")
			}
			if v := metricValue(m, `xhep_collector_received_messages_total{transport="`+tc.transport+`"}`); v < 1 {
				t.Errorf("received over %s: %v", tc.transport, v)
			}
		})
	}
}

// freeUDPTCPPort returns a loopback port that is free for both UDP and TCP
// at the time of the call: Kamailio listens on both, and a port free for
// UDP alone may be taken for TCP (a flaky "Address already in use").
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		tl, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		tl.Close()
		if err == nil {
			ul.Close()
			return port
		}
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return 0
}
