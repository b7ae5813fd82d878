package collector

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/hep"
)

// TestRandomUDPFloodStoresNothing sends 50,000 random datagrams (seeded,
// 20 to 1,500 bytes, a quarter starting with a HEP v1/v2 version byte) to
// a running collector: every one is counted as a decode error (or as a
// kernel drop), none is stored.
func TestRandomUDPFloodStoresNothing(t *testing.T) {
	s, r := startService(t, Config{Listen: []string{"udp://127.0.0.1:0"}})
	c, err := net.Dial("udp", addrOf(t, s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(2090, 17000))
	buf := make([]byte, 1504)
	const n = 50_000
	for range n {
		b := buf[:20+rng.IntN(1480)]
		for i := 0; i < len(b); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		if rng.IntN(4) == 0 {
			b[0] = byte(1 + rng.IntN(2))
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	waitMetric(t, s, func(m string) bool {
		return metricSum(m, "xhep_collector_decode_errors_total")+metricSum(m, "xhep_collector_udp_socket_drops_total")+
			metricSum(m, "xhep_collector_messages_total") >= n
	})
	if got := metricSum(metricsText(t, s), "xhep_collector_messages_total"); got != 0 {
		t.Errorf("%v random datagrams decoded as HEP", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 0 {
		t.Errorf("%d random datagrams stored as rows, want 0; first: %+v", len(r.got), r.got[0])
	}
}

// TestLargeCompressedSIP: a 65.8 KB INVITE in chunk 0x10 (as the agent
// sends what does not fit HEP3's 16-bit length) over TCP is stored whole,
// dissected, not marked as an error.
func TestLargeCompressedSIP(t *testing.T) {
	s, r := startService(t, Config{Listen: []string{"tcp://127.0.0.1:0"}})
	body := strings.Repeat("<tuple><status><basic>open</basic></status></tuple>\r\n", 1240)
	invite := []byte(strings.ReplaceAll("INVITE sip:bob@b.example SIP/2.0\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-big\nFrom: <sip:alice@a.example>;tag=1\nTo: <sip:bob@b.example>\nCall-ID: big-1\nCSeq: 1 INVITE\nContent-Type: application/pidf+xml\nContent-Length: ", "\n", "\r\n") +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if len(invite) < 65_700 {
		t.Fatalf("INVITE is %d bytes", len(invite))
	}
	c, err := net.Dial("tcp", addrOf(t, s, "tcp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(hepMsg(t, hep.ProtoSIP, invite, time.Now(), func(m *hep.Message) { m.Compress = true })); err != nil {
		t.Fatal(err)
	}
	got := r.wait(t, 1)[0]
	if got.Raw == nil || *got.Raw != string(invite) || strings.Contains(fmt.Sprint(got.Payload), "error") || got.ProtocolHeader["callid"] != "big-1" {
		t.Errorf("row: table %s protocol_header %v error %v raw %d bytes", got.Table, got.ProtocolHeader, got.Payload != nil, len(deref(got.Raw)))
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
