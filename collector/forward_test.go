package collector

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestForwarderAccounting sends a burst through a forwarder with a tiny
// queue: every message is either sent, byte for byte, or counted as a
// drop; send never blocks.
func TestForwarderAccounting(t *testing.T) {
	dst, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	dst.SetReadBuffer(4 << 20)
	m := newMetrics(prometheus.NewRegistry())
	f, err := newForwarder("udp://"+dst.LocalAddr().String(), 2, m)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	begin := time.Now()
	for i := range n {
		f.send([]byte(fmt.Sprintf("HEP3 message %04d", i)))
	}
	sendTime := time.Since(begin)
	f.close()
	sent, drops := counter(t, f.sent), counter(t, f.drops)
	if sent+drops != n || sent == 0 {
		t.Fatalf("sent %v + dropped %v, want %d in all and some sent", sent, drops, n)
	}
	t.Logf("burst of %d with a queue of 2: %v sent, %v dropped, send took %v in all", n, sent, drops, sendTime)
	buf := make([]byte, 100)
	last := -1
	for range int(sent) {
		dst.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := dst.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", last+1, err)
		}
		var i int
		if _, err := fmt.Sscanf(string(buf[:k]), "HEP3 message %04d", &i); err != nil || !bytes.HasPrefix(buf[:k], []byte("HEP3 message ")) || i <= last {
			t.Fatalf("forwarded %q after message %d", buf[:k], last)
		}
		last = i
	}
	if _, err := newForwarder("tcp://127.0.0.1:9", 2, m); err == nil {
		t.Error("tcp:// forward accepted")
	}
}
