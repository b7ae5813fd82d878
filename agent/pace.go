package agent

import (
	"sync"
	"time"

	"github.com/xhep/xhep/agent/source"
)

// Paced returns a source that hands out src's frames no faster than their
// capture timestamps: a frame captured d after the first is returned d/speed
// after the first was (speed 1 is capture time, 10 is ten times faster).
// Timestamps that go backwards are not waited for. Closing the paced
// source closes src and ends a wait.
func Paced(src source.Source, speed float64) source.Source {
	return &paced{src: src, speed: speed, closed: make(chan struct{})}
}

type paced struct {
	src     source.Source
	speed   float64
	first   int64
	start   time.Time
	timer   *time.Timer
	closed  chan struct{}
	closeMu sync.Once
}

func (p *paced) Read(f *source.Frame) error {
	if err := p.src.Read(f); err != nil {
		return err
	}
	if p.start.IsZero() {
		p.first, p.start = f.TS, time.Now()
		return nil
	}
	due := p.start.Add(time.Duration(float64(f.TS-p.first) / p.speed))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(wait)
	} else {
		p.timer.Reset(wait)
	}
	select {
	case <-p.timer.C:
		return nil
	case <-p.closed:
		p.timer.Stop()
		return source.ErrClosed
	}
}

func (p *paced) Close() error {
	p.closeMu.Do(func() { close(p.closed) })
	return p.src.Close()
}
