package ingest

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// fakeAcker holds durable marks set by the test.
type fakeAcker struct {
	mu  sync.Mutex
	d   map[uint64]uint64
	ch  chan struct{}
	got []uint64 // sequences the handler saw
}

func (a *fakeAcker) Durable(s uint64) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.d[s]
}

func (a *fakeAcker) Changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ch
}

func (a *fakeAcker) set(s, q uint64) {
	a.mu.Lock()
	a.d[s] = q
	close(a.ch)
	a.ch = make(chan struct{})
	a.mu.Unlock()
}

// TestAcks: a stream's first message gets an ack at once (with what is
// durable, 0 here), later acks follow Durable; Close sends the last ones
// before the connection closes.
func TestAcks(t *testing.T) {
	a := &fakeAcker{d: map[uint64]uint64{}, ch: make(chan struct{})}
	s, err := New(Config{
		Listen:    []string{"tcp://127.0.0.1:0"},
		NewFramer: func(r io.Reader, max int) Framer { return hep.NewFramer(r, max) },
		Acker:     a,
	}, func(b []byte, _ netip.AddrPort, _ string) {
		_, q, _ := hep.SeqOf(b)
		a.mu.Lock()
		a.got = append(a.got, q)
		a.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Status()[0].Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := hep.Message{IPFamily: 2, IPProto: 17, Payload: []byte("x")}
	plain, _ := m.AppendTo(nil)
	send := func(seq uint64) {
		b, _ := hep.AppendSeq(nil, plain, 77, seq)
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	f := hep.NewFramer(c, 0)
	next := func() []hep.Ack {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := f.Next()
		if err != nil {
			t.Fatalf("read ack: %v", err)
		}
		return hep.ParseAcks(nil, b)
	}
	send(1)
	if diff := cmp.Diff([]hep.Ack{{Stream: 77, Seq: 0}}, next()); diff != "" {
		t.Errorf("first ack (-want +got):\n%s", diff)
	}
	send(2)
	send(3)
	a.set(77, 2)
	if diff := cmp.Diff([]hep.Ack{{Stream: 77, Seq: 2}}, next()); diff != "" {
		t.Errorf("ack after Durable moved (-want +got):\n%s", diff)
	}
	// Wait until the handler saw 3, make it durable, then stop: the last
	// ack arrives before the connection ends.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		a.mu.Lock()
		n := len(a.got)
		a.mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
	}
	s.Stop()
	a.mu.Lock()
	a.d[77] = 3 // no Changed: only FinalAcks writes it
	a.mu.Unlock()
	s.FinalAcks()
	if diff := cmp.Diff([]hep.Ack{{Stream: 77, Seq: 3}}, next()); diff != "" {
		t.Errorf("final ack (-want +got):\n%s", diff)
	}
	s.Release()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := f.Next(); err == nil {
		t.Error("connection still open after Release")
	}
	if st := s.Stats(); st.AckMsgs != 3 || st.AckedConns != 1 {
		t.Errorf("stats: %d ack messages, %d acked connections; want 3, 1", st.AckMsgs, st.AckedConns)
	}
}
