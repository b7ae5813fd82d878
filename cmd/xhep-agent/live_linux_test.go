//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netns"

	"github.com/xhep/xhep/bench/vethns"
	"github.com/xhep/xhep/collector/ingest"
	"github.com/xhep/xhep/hep"
)

// TestMain lets the test binary act as xhep-agent when re-executed inside
// a network namespace (ip netns exec NS <test binary> <agent flags>).
func TestMain(m *testing.M) {
	if os.Getenv("XHEP_AGENT_EXEC") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func requireBPF(t *testing.T) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.XDP,
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()},
		License:      "MIT",
	})
	if err != nil {
		t.Skipf("skipping: this process may not load BPF programs (needs root or CAP_BPF+CAP_NET_ADMIN): %v", err)
	}
	prog.Close()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping: no ip command (iproute2) to run the agent in a namespace")
	}
}

// inNS runs fn on a thread switched into ns.
func inNS(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	if err := vethns.Do(ns, func() error { fn(); return nil }); err != nil {
		t.Fatal(err)
	}
}

// liveRig is an xhep-agent run (the test binary re-executed) in namespace
// A of a veth pair between two namespaces the test creates, with a HEP
// collector in namespace B: the setup the live agent tests share.
type liveRig struct {
	pair           *vethns.Pair
	B              netns.NsHandle
	cmd            *exec.Cmd
	stdout, stderr syncBuf
	done           chan error
}

// rigConfig: names from id (namespaces id+"a-PID"/id+"b-PID", interfaces
// id+"0" in A and id+"1" in B), addresses 10.<net>.0.1 (A) and .2 (B), a
// UDP collector on 10.<net>.0.2:<port> handing each datagram to onHEP
// (from the collector's goroutine), the agent's flags besides --iface and
// --collector, and the text on its stderr that says it is ready.
type rigConfig struct {
	id    string
	net   byte
	port  int
	onHEP func(p []byte)
	args  []string
	ready string
}

// startRig sets the rig up; t.Cleanup takes it down (agent killed if still
// running, collector closed, namespaces removed), also on failure. It
// skips when the veth pair cannot be made.
func startRig(t *testing.T, c rigConfig) *liveRig {
	t.Helper()
	requireBPF(t)
	na := fmt.Sprintf("%sa-%d", c.id, os.Getpid())
	pair, err := vethns.New(vethns.Config{
		NameA: na, NameB: fmt.Sprintf("%sb-%d", c.id, os.Getpid()),
		IfA: c.id + "0", IfB: c.id + "1",
		AddrA: fmt.Sprintf("10.%d.0.1/24", c.net), AddrB: fmt.Sprintf("10.%d.0.2/24", c.net),
	})
	if err != nil {
		t.Skipf("skipping: cannot create the veth pair between network namespaces: %v", err)
	}
	t.Cleanup(func() { pair.Close() })
	r := &liveRig{pair: pair, B: pair.B, done: make(chan error, 1)}
	collector := fmt.Sprintf("udp://10.%d.0.2:%d", c.net, c.port)
	var srv *ingest.Server
	inNS(t, r.B, func() {
		srv, err = ingest.New(ingest.Config{
			Listen:    []string{collector},
			Readers:   1,
			NewFramer: func(r io.Reader, max int) ingest.Framer { return hep.NewFramer(r, max) },
		}, func(p []byte, _ netip.AddrPort, _ string) { c.onHEP(p) })
		if err == nil {
			err = srv.Start()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	args := append([]string{"netns", "exec", na, os.Args[0], "--iface", c.id + "0", "--collector", collector}, c.args...)
	r.cmd = exec.Command("ip", args...)
	r.cmd.Env = append(os.Environ(), "XHEP_AGENT_EXEC=1")
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	r.waitLog(t, c.ready)
	return r
}

// waitLog waits up to 15 s for text on the agent's stderr.
func (r *liveRig) waitLog(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(r.stderr.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not log %q:\n%s", text, r.stderr.String())
		}
	}
}

// stop sends SIGINT and returns the agent's exit (an error after 20 s).
func (r *liveRig) stop() error {
	r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-r.done:
		r.done <- nil // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		return fmt.Errorf("agent did not stop on SIGINT")
	}
}

// TestLiveAgent runs xhep-agent --iface on one end of a veth pair between
// two namespaces it creates: SIP sent from the other end is captured and
// delivered to a collector that listens on a SIP port (5060) across the
// same veth, and the agent does not capture its own HEP output (the
// collector's address is excluded).
func TestLiveAgent(t *testing.T) {
	var (
		mu   sync.Mutex
		msgs []string
		bad  int
	)
	rig := startRig(t, rigConfig{id: "xagt", net: 198, port: 5060, onHEP: func(p []byte) {
		if len(p) == 0 {
			return // the agent's UDP probe
		}
		var m hep.Message
		mu.Lock()
		defer mu.Unlock()
		if m.DecodeFromBytes(p) != nil || m.Proto != hep.ProtoSIP {
			bad++
			return
		}
		msgs = append(msgs, string(m.Payload))
	}, args: []string{"--mode", "ringbuf", "--xdp-mode", "generic", "--node-id", "9", "--drain-timeout", "5s"}, ready: "capturing"})
	// It logs the BPF variant it chose on this kernel.
	rig.waitLog(t, "bpf variant")
	if s := rig.stderr.String(); !strings.Contains(s, "buffer=") || !strings.Contains(s, "xdp=generic/") {
		t.Errorf("variant log line lacks the buffer or XDP attach:\n%s", s)
	}

	// SIP from b to a, captured by XDP on xagt0.
	const n = 50
	var want []string
	inNS(t, rig.B, func() {
		// Unconnected: nothing listens on 10.198.0.1:5060, and the ICMP
		// port unreachable must not fail the next write.
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 198, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		to := &net.UDPAddr{IP: net.IPv4(10, 198, 0, 1), Port: 5060}
		for i := range n {
			m := fmt.Sprintf("OPTIONS sip:in-%d@10.198.0.1 SIP/2.0\r\nCall-ID: in-%d@xhep\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n", i, i, i)
			want = append(want, m)
			if _, err := c.WriteTo([]byte(m), to); err != nil {
				t.Fatalf("send SIP: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		got := len(msgs)
		mu.Unlock()
		if got >= n {
			break
		}
	}
	if err := rig.stop(); err != nil {
		t.Errorf("agent exit: %v\nstderr:\n%s", err, rig.stderr.String())
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	got, nbad := append([]string(nil), msgs...), bad
	mu.Unlock()
	if len(got) != n || nbad != 0 {
		t.Errorf("collector got %d SIP (%d bad), want %d", len(got), nbad, n)
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("message %d: got %q, want %q", i, got[i], want[i])
			break
		}
	}
	out := rig.stdout.String()
	// The agent's own HEP to 10.198.0.2:5060 left through xagt0 but was
	// not captured: the decoder saw the SIP frames only.
	if !strings.Contains(out, fmt.Sprintf("read:        %d frames", n)) || !strings.Contains(out, fmt.Sprintf("sip %d,", n)) ||
		!strings.Contains(out, "dropped:     none") {
		t.Errorf("summary:\n%s\nstderr:\n%s", out, rig.stderr.String())
	}
}

// sipMsg is a SIP request from the rig's namespace B (host) with an SDP
// body if body is set.
func sipMsg(first, host, callID, cseq, body string) []byte {
	ct := ""
	if body != "" {
		ct = "Content-Type: application/sdp\r\n"
	}
	return []byte(first + "\r\nVia: SIP/2.0/UDP " + host + ";branch=z9hG4bK" + cseq[:1] + "\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: " +
		callID + "\r\nCSeq: " + cseq + "\r\n" + ct + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body)
}

// syncBuf is a buffer the command writes while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
