package hep

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kamailioCfg makes Kamailio's siptrace module mirror every request it
// receives as HEP to a collector, and answer it 200.
const kamailioCfg = `#!KAMAILIO
debug=1
children=1
auto_aliases=no
listen=udp:127.0.0.1:%d
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "siptrace.so"
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:%d")
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

// TestKamailioSiptrace decodes what a real Kamailio (siptrace module)
// sends in HEP v2 and v3. It skips when kamailio is not installed.
func TestKamailioSiptrace(t *testing.T) {
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		t.Skip("kamailio not installed (apt-get install kamailio)")
	}
	for _, ver := range []int{2, 3} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			collector, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { collector.Close() })
			sip, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sip.Close() })
			// A free port for Kamailio: take one, release it.
			probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			kamPort := probe.LocalAddr().(*net.UDPAddr).Port
			probe.Close()

			dir := t.TempDir()
			cfg := filepath.Join(dir, "kamailio.cfg")
			hepPort := collector.LocalAddr().(*net.UDPAddr).Port
			if err := os.WriteFile(cfg, fmt.Appendf(nil, kamailioCfg, kamPort, hepPort, ver), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			cmd := exec.Command(bin, "-f", cfg, "-DD", "-E", "-m", "16", "-M", "4",
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

			sipPort := sip.LocalAddr().(*net.UDPAddr).Port
			callID := fmt.Sprintf("xhep-kamailio-%d-%d@127.0.0.1", ver, time.Now().UnixNano())
			options := fmt.Sprintf("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\n"+
				"Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d\r\n"+
				"Max-Forwards: 70\r\nFrom: <sip:xhep@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"+
				"Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", kamPort, sipPort, ver, callID)
			kam := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: kamPort}

			// Kamailio takes a moment to start: resend until the HEP copy arrives.
			buf := make([]byte, 65535)
			deadline := time.Now().Add(15 * time.Second)
			var m Message
			for {
				if time.Now().After(deadline) {
					t.Fatal("no HEP message from kamailio")
				}
				select {
				case err := <-exited:
					exited <- err
					t.Fatalf("kamailio exited: %v", err)
				default:
				}
				if _, err := sip.WriteToUDP([]byte(options), kam); err != nil {
					t.Fatal(err)
				}
				collector.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, _, err := collector.ReadFromUDP(buf)
				if err != nil {
					continue
				}
				if err := m.DecodeFromBytes(buf[:n]); err != nil {
					t.Fatalf("decode kamailio's HEP: %v\n% x", err, buf[:n])
				}
				break
			}
			if m.Version != uint8(ver) {
				t.Errorf("Version = %d, want %d", m.Version, ver)
			}
			if m.IPFamily != 2 || m.IPProto != 17 || m.SrcIP.String() != "127.0.0.1" || m.DstIP.String() != "127.0.0.1" {
				t.Errorf("family %d proto %d %s -> %s, want 2 17 127.0.0.1 -> 127.0.0.1", m.IPFamily, m.IPProto, m.SrcIP, m.DstIP)
			}
			if int(m.SrcPort) != sipPort || int(m.DstPort) != kamPort {
				t.Errorf("ports %d -> %d, want %d -> %d", m.SrcPort, m.DstPort, sipPort, kamPort)
			}
			if m.NodeID != 2001 || m.Proto != ProtoSIP {
				t.Errorf("node id %d proto type %v, want 2001 sip", m.NodeID, m.Proto)
			}
			// The time proves the byte order of v2's time header.
			if d := time.Since(m.Time()); d < -time.Hour || d > time.Hour {
				t.Errorf("capture time %v is not now", m.Time())
			}
			if !strings.Contains(string(m.Payload), "Call-ID: "+callID) {
				t.Errorf("payload is not our OPTIONS:\n%s", m.Payload)
			}
			if ver == 3 && string(m.AuthKey) != "myHep" {
				t.Errorf("auth key %q, want myHep", m.AuthKey)
			}
		})
	}
}
