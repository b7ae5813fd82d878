package send

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAckResendAfterCrash: the collector receives messages but crashes
// before they are durable (no ack, and it forgets them). The agent keeps
// them, sends them again on the next connection, and the restarted
// collector gets every message exactly once, in order.
func TestAckResendAfterCrash(t *testing.T) {
	for _, spool := range []bool{false, true} {
		name := "memory"
		if spool {
			name = "spool"
		}
		t.Run(name, func(t *testing.T) {
			c := newCollector(t, "tcp", nil)
			cfg := fastCfg(c.url())
			cfg.Block = true
			if spool {
				cfg.SpoolDir = t.TempDir()
			}
			g := newGroup(t, cfg)
			sendSeq(t, g, 0, 10, nil)
			waitFor(t, "the first acks", 5*time.Second, func() bool { return g.Stats().Queues[0].Acked == 10 })

			c.hold.Store(true)
			sendSeq(t, g, 10, 500, nil)
			c.waitCount(500, 5*time.Second)
			if q := g.Stats().Queues[0]; q.Acked != 10 || q.Unacked != 490 {
				t.Fatalf("before the crash: acked %d, unacked %d; want 10, 490", q.Acked, q.Unacked)
			}
			c.stop()
			c.forget()
			waitFor(t, "the sender to see the collector gone", 5*time.Second, func() bool { return !g.Stats().Collectors[0].Up })
			c.hold.Store(false)
			c.restart()
			sendSeq(t, g, 500, 600, nil)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(seqRange(10, 600), c.received()); diff != "" {
				t.Errorf("received after the crash (-want +got):\n%s", diff)
			}
			q := g.Stats().Queues[0]
			if q.Acked != 600 || q.Unacked != 0 || q.Resent < 490 || q.Undelivered != 0 || q.SpoolRecords != 0 || q.AckState != "acknowledged" {
				t.Errorf("stats: %+v", q)
			}
		})
	}
}

// TestAckDedupAfterLostAck: the collector stored the messages but its
// acks were lost with the connection; the resends are dropped by the
// stream's high-water mark, so nothing is stored twice.
func TestAckDedupAfterLostAck(t *testing.T) {
	c := newCollector(t, "tcp", nil)
	cfg := fastCfg(c.url())
	cfg.Block = true
	g := newGroup(t, cfg)
	sendSeq(t, g, 0, 1, nil)
	waitFor(t, "the first ack", 5*time.Second, func() bool { return g.Stats().Queues[0].Acked == 1 })
	c.hold.Store(true)
	sendSeq(t, g, 1, 300, nil)
	c.waitCount(300, 5*time.Second)
	c.stop()
	c.hold.Store(false)
	waitFor(t, "the sender to see the collector gone", 5*time.Second, func() bool { return !g.Stats().Collectors[0].Up })
	c.restart()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seqRange(0, 300), c.received()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	// The first resend is answered with the high-water mark (299), which
	// releases the rest: at least one resend is dropped, at most 299.
	d := c.dupCount()
	if d < 1 || d > 299 {
		t.Errorf("collector dropped %d resends, want 1..299", d)
	}
	if q := g.Stats().Queues[0]; q.Acked != 300 || q.Resent != 299 {
		t.Errorf("acked %d resent %d, want 300 299", q.Acked, q.Resent)
	}
}

// TestAckFallbackPlain: a collector that never acknowledges (heplify-server,
// Kamailio) gets plain HEP after AckTimeout; everything arrives once, and
// the agent says the delivery is unconfirmed.
func TestAckFallbackPlain(t *testing.T) {
	c := newPlainCollector(t, "tcp", nil)
	cfg := fastCfg(c.url())
	cfg.Block = true
	cfg.AckTimeout = 200 * time.Millisecond
	g := newGroup(t, cfg)
	sendSeq(t, g, 0, 2000, nil)
	start := time.Now()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with a plain peer", d)
	}
	if diff := cmp.Diff(seqRange(0, 2000), c.waitCount(2000, 5*time.Second)); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	q := g.Stats().Queues[0]
	if q.AckState != "plain" || q.Fallbacks != 1 || q.Unconfirmed != 2000 || q.Acked != 0 || q.Unacked != 0 || g.Stats().Dropped() != 0 {
		t.Errorf("stats: %+v", q)
	}
}

// TestAckCloseUndelivered: the collector takes the bytes but never makes
// them durable. Close waits DrainTimeout for the acks, then counts them
// undelivered (no spool) or keeps them in the spool for the next run.
func TestAckCloseUndelivered(t *testing.T) {
	for _, spool := range []bool{false, true} {
		c := newCollector(t, "tcp", nil)
		cfg := fastCfg(c.url())
		cfg.Block = true
		cfg.DrainTimeout = 300 * time.Millisecond
		if spool {
			cfg.SpoolDir = t.TempDir()
		}
		g := newGroup(t, cfg)
		sendSeq(t, g, 0, 1, nil)
		waitFor(t, "the first ack", 5*time.Second, func() bool { return g.Stats().Queues[0].Acked == 1 })
		c.hold.Store(true)
		sendSeq(t, g, 1, 100, nil)
		c.waitCount(100, 5*time.Second)
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		q := g.Stats().Queues[0]
		if spool && (q.SpoolRecords != 99 || q.Undelivered != 0) {
			t.Errorf("spool: %+v", q)
		}
		if !spool && (q.Undelivered != 99 || g.Stats().Dropped() != 99) {
			t.Errorf("no spool: %+v", q)
		}
	}
}

// TestCloseWaitsForCollector: at Close the collector is down; the lane
// keeps trying for DrainTimeout and delivers when it comes back.
func TestCloseWaitsForCollector(t *testing.T) {
	c := newCollector(t, "tcp", nil)
	cfg := fastCfg(c.url())
	cfg.Block = true
	g := newGroup(t, cfg)
	sendSeq(t, g, 0, 1, nil)
	waitFor(t, "the first ack", 5*time.Second, func() bool { return g.Stats().Queues[0].Acked == 1 })
	c.stop()
	waitFor(t, "the sender to see the collector gone", 5*time.Second, func() bool { return !g.Stats().Collectors[0].Up })
	sendSeq(t, g, 1, 100, nil)
	go func() {
		time.Sleep(300 * time.Millisecond)
		c.restart()
	}()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seqRange(0, 100), c.received()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	if q := g.Stats().Queues[0]; q.Acked != 100 || q.Undelivered != 0 {
		t.Errorf("stats %+v", q)
	}
}
