package gen

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeSender takes at most take frames per call and fails every failEvery-th
// call with errBusy after taking half of them.
type fakeSender struct {
	take, failEvery, calls int
	got                    []byte
}

var errBusy = errors.New("busy")

func (f *fakeSender) Send(frames [][]byte) (int, error) {
	f.calls++
	n := min(len(frames), f.take)
	if f.failEvery > 0 && f.calls%f.failEvery == 0 {
		n /= 2
		for _, fr := range frames[:n] {
			f.got = append(f.got, fr[0])
		}
		return n, errBusy
	}
	for _, fr := range frames[:n] {
		f.got = append(f.got, fr[0])
	}
	return n, nil
}

// TestBlast checks that frames go out in order, cycled, resuming after a
// partial send, and that Count stops it exactly.
func TestBlast(t *testing.T) {
	frames := [][]byte{{0}, {1}, {2}, {3}, {4}}
	tests := []struct {
		name    string
		sender  *fakeSender
		cfg     BlastConfig
		want    []byte
		wantErr error
		refused uint64
	}{
		{name: "count", sender: &fakeSender{take: 1000}, cfg: BlastConfig{Count: 12, Batch: 4},
			want: []byte{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1}},
		{name: "start", sender: &fakeSender{take: 1000}, cfg: BlastConfig{Count: 4, Start: 3},
			want: []byte{3, 4, 0, 1}},
		{name: "partial sends resume in order", sender: &fakeSender{take: 3}, cfg: BlastConfig{Count: 9, Batch: 4},
			want: []byte{0, 1, 2, 3, 4, 0, 1, 2, 3}},
		{name: "refused and retried", sender: &fakeSender{take: 4, failEvery: 2}, cfg: BlastConfig{Count: 10, Batch: 4,
			Refused: func(err error) bool { return errors.Is(err, errBusy) }},
			want: []byte{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}, refused: 1},
		{name: "error ends it", sender: &fakeSender{take: 4, failEvery: 2}, cfg: BlastConfig{Count: 10, Batch: 4},
			want: []byte{0, 1, 2, 3, 4, 0}, wantErr: errBusy},
		{name: "paced", sender: &fakeSender{take: 1000}, cfg: BlastConfig{Count: 7, Rate: 1e6},
			want: []byte{0, 1, 2, 3, 4, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := Blast(context.Background(), tt.sender, frames, tt.cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, tt.sender.got); diff != "" {
				t.Errorf("frames sent (-want +got):\n%s", diff)
			}
			if st.Sent != uint64(len(tt.want)) || st.Refused != tt.refused {
				t.Errorf("stats %+v, want %d sent, %d refused", st, len(tt.want), tt.refused)
			}
		})
	}
	if _, err := Blast(context.Background(), &fakeSender{}, frames, BlastConfig{}); !errors.Is(err, ErrBlastConfig) {
		t.Errorf("no duration or count: %v", err)
	}
}

// TestPacerBatches checks that the pacer hands out many frames per wakeup
// at a high rate (the rate itself is measured by the suite, not tested).
func TestPacerBatches(t *testing.T) {
	p := NewPacer(2e6, 0)
	ctx := context.Background()
	total, calls := 0, 0
	for total < 20_000 {
		n := p.Next(ctx, 1000)
		if n < 1 || n > 1000 {
			t.Fatalf("Next gave %d", n)
		}
		p.Took(n)
		total += n
		calls++
	}
	if calls > total/2 {
		t.Errorf("%d wakeups for %d frames: not batched", calls, total)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	slow := NewPacer(1, 1)
	slow.Next(ctx2, 1) // the first token is due at once... or not
	slow.Took(1)
	done := make(chan int)
	go func() { done <- slow.Next(ctx2, 1) }()
	select {
	case n := <-done:
		if n != 0 {
			t.Errorf("Next after cancel gave %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("Next does not return after cancel")
	}
}
