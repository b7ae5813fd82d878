package bench

import (
	"encoding/json"
	"sync"
	"time"
)

// mediaListener tallies the HEP type 34 reports a listener gets: the
// latest TOTAL_PK of each stream (ports and SSRC).
type mediaListener struct {
	mu      sync.Mutex
	reports uint64
	bad     uint64
	last    map[mediaKey]uint64
}

type mediaKey struct {
	src, dst uint16
	ssrc     uint32
}

// mediaTally is what the reports said, at the end of a step.
type mediaTally struct {
	Reports uint64 // reports received
	Bad     uint64 // reports whose JSON did not decode
	Streams int    // streams with a report
	Packets uint64 // sum over streams of their latest TOTAL_PK
	Waited  time.Duration
}

func (m *mediaListener) add(payload []byte) {
	var r struct {
		TotalPk uint64 `json:"TOTAL_PK"`
		SrcPort uint16 `json:"SRC_PORT"`
		DstPort uint16 `json:"DST_PORT"`
		SSRC    uint32 `json:"SSRC"`
	}
	err := json.Unmarshal(payload, &r)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports++
	if err != nil {
		m.bad++
		return
	}
	if m.last == nil {
		m.last = map[mediaKey]uint64{}
	}
	k := mediaKey{r.SrcPort, r.DstPort, r.SSRC}
	m.last[k] = max(m.last[k], r.TotalPk)
}

func (m *mediaListener) tally() mediaTally {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := mediaTally{Reports: m.reports, Bad: m.bad, Streams: len(m.last)}
	for _, n := range m.last {
		t.Packets += n
	}
	return t
}

// settle waits until streams streams have reports whose packets add up
// to pkts, or the tally stood still for 3 s (reports come every second),
// at most max.
func (m *mediaListener) settle(streams int, pkts uint64, max time.Duration) mediaTally {
	t0 := time.Now()
	last, since := m.tally(), time.Now()
	for time.Since(t0) < max {
		t := m.tally()
		if t.Streams >= streams && t.Packets >= pkts {
			last = t
			break
		}
		if t != last {
			last, since = t, time.Now()
		} else if time.Since(since) > 3*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	last.Waited = time.Since(t0)
	return last
}
