package collector

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"
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
