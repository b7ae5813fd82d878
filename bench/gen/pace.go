package gen

import (
	"context"
	"errors"
	"time"
)

// Pacer paces frames by rate as a token bucket over batches: tokens accrue
// at Rate per second from the first call, at most Burst wait unspent, and
// Next hands out all that are due at once, so a sender makes one system
// call per batch and sleeps only when less than a batch is due, never per
// frame. A sender that falls behind by more than Burst loses the deficit
// (the bucket is full): the rate it reached shows the shortfall instead of
// a catch-up burst.
//
// A Pacer is not safe for concurrent use.
type Pacer struct {
	rate  float64
	burst float64
	min   float64 // tokens worth waking up for
	start time.Time
	spent float64 // tokens taken, plus those lost to a full bucket
}

// NewPacer paces rate frames per second (> 0) with a bucket of burst
// frames (≤ 0: 1/100 s worth, at least 64). It sleeps until at least
// 1/20,000 s worth of frames is due (one frame at low rates), so that at a
// million frames per second it wakes for batches of 50, not single frames.
func NewPacer(rate float64, burst int) *Pacer {
	b := float64(burst)
	if b <= 0 {
		b = max(64, rate/100)
	}
	return &Pacer{rate: rate, burst: b, min: min(b, max(1, rate/20_000))}
}

// Next waits until frames are due and returns how many (1..max) may be
// sent now; the caller then sends them and reports back with Took. It
// returns 0 when ctx ends.
func (p *Pacer) Next(ctx context.Context, most int) int {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	for {
		due := p.rate*time.Since(p.start).Seconds() - p.spent
		if due > p.burst {
			p.spent += due - p.burst
			due = p.burst
		}
		if due >= p.min || due >= float64(most) {
			return int(min(due, float64(most)))
		}
		if ctx.Err() != nil {
			return 0
		}
		wait := time.Duration((p.min - due) / p.rate * float64(time.Second))
		time.Sleep(max(wait, 10*time.Microsecond))
	}
}

// Took records n frames sent (n may be less than Next returned).
func (p *Pacer) Took(n int) { p.spent += float64(n) }

// Sender is what Blast sends through: a [RawSender] or a [TxRing].
type Sender interface {
	Send(frames [][]byte) (int, error)
}

// BlastConfig says what Blast sends: the frames in order, over and over,
// at Rate frames per second (0: as fast as the sender goes) for Duration
// or until Count frames went out (whichever comes first; one of them set).
type BlastConfig struct {
	Rate     float64
	Duration time.Duration
	Count    int
	Batch    int // frames per Send at most (default 512)
	// Start is the index in the frames of the first one sent, so that
	// several senders on one set start at different places.
	Start int
	// Refused reports whether a Send error means "device busy, try again"
	// (ENOBUFS). nil: every error ends the run.
	Refused func(error) bool
}

// BlastStats is what Blast did.
type BlastStats struct {
	Sent    uint64
	Refused uint64 // sends refused by the device and tried again
	Calls   uint64 // Send calls
	Elapsed time.Duration
}

// Rate is the frames per second reached.
func (s BlastStats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// ErrBlastConfig is returned for a BlastConfig with neither Duration nor
// Count, or no frames.
var ErrBlastConfig = errors.New("blast: want frames and a duration or a count")

// Blast sends frames through s as cfg says and returns what it sent; ctx
// ends it early. It allocates nothing per frame: each batch is a slice of
// references into frames.
func Blast(ctx context.Context, s Sender, frames [][]byte, cfg BlastConfig) (st BlastStats, err error) {
	if len(frames) == 0 || (cfg.Duration <= 0 && cfg.Count <= 0) {
		return st, ErrBlastConfig
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 512
	}
	var pace *Pacer
	if cfg.Rate > 0 {
		pace = NewPacer(cfg.Rate, 0)
	}
	batch := make([][]byte, 0, cfg.Batch)
	next := cfg.Start % len(frames)
	begin := time.Now()
	defer func() { st.Elapsed = time.Since(begin) }()
	for ctx.Err() == nil {
		if cfg.Duration > 0 && time.Since(begin) >= cfg.Duration {
			break
		}
		want := cfg.Batch
		if cfg.Count > 0 {
			if left := cfg.Count - int(st.Sent); left <= 0 {
				break
			} else {
				want = min(want, left)
			}
		}
		if pace != nil {
			if want = pace.Next(ctx, want); want == 0 {
				break
			}
		}
		batch = batch[:0]
		for range want {
			batch = append(batch, frames[next])
			if next++; next == len(frames) {
				next = 0
			}
		}
		var n int
		n, err = s.Send(batch)
		st.Calls++
		st.Sent += uint64(n)
		if pace != nil {
			pace.Took(n)
		}
		// Resume after the last frame that went out.
		if next -= len(batch) - n; next < 0 {
			next += len(frames)
		}
		if err != nil {
			if cfg.Refused != nil && cfg.Refused(err) {
				st.Refused++
				err = nil
				continue
			}
			return st, err
		}
	}
	return st, nil
}
