package api

import (
	"fmt"
	"net/http"
	"time"
)

// Stats is the body of GET /api/v1/stats.
type Stats struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	StepS   float64   `json:"step_s"`
	Total   int64     `json:"total"`
	Buckets []Bucket  `json:"buckets"`
}

// Bucket counts the SIP messages captured in [Time, Time+step).
type Bucket struct {
	Time      time.Time        `json:"time"`
	TimeUS    int64            `json:"time_us"`
	Total     int64            `json:"total"`
	Methods   map[string]int64 `json:"methods"`   // requests by method
	Responses map[string]int64 `json:"responses"` // responses by status code
}

// maxBuckets bounds the buckets of one stats answer.
const maxBuckets = 2000

var knownStats = map[string]bool{"from": true, "to": true, "step": true, "tz": true}

func (a *API) stats(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, knownStats); err != nil {
		return err
	}
	tr, err := parseRange(q, a.cfg.Now(), a.cfg.DefaultRange, a.cfg.MaxRange)
	if err != nil {
		return err
	}
	span := tr.To.Sub(tr.From)
	step := (span / 60).Round(time.Second)
	if s := q.Get("step"); s != "" {
		if step, err = time.ParseDuration(s); err != nil {
			return errBad("step: %q is not a duration (\"1m\", \"30s\")", s)
		}
	}
	if step < time.Second || step%time.Second != 0 {
		if q.Get("step") != "" {
			return errBad("step %v: must be a whole number of seconds, at least 1s", step)
		}
		step = time.Second
	}
	n := int(span/step) + 1
	if n > maxBuckets {
		return errBad("%v in steps of %v makes %d buckets, more than %d: use a larger step", span, step, n, maxBuckets)
	}
	st := &Stats{From: tr.From, To: tr.To, StepS: step.Seconds(), Buckets: make([]Bucket, n)}
	for i := range st.Buckets {
		t := tr.From.Add(time.Duration(i) * step)
		st.Buckets[i] = Bucket{Time: t, TimeUS: t.UnixMicro(), Methods: map[string]int64{}, Responses: map[string]int64{}}
	}
	counts, err := a.q.statsCounts(r.Context(), tr.From, tr.To, int64(step/time.Second))
	if err != nil {
		return err
	}
	for _, c := range counts {
		if c.bucket < 0 || c.bucket >= int64(n) {
			continue
		}
		bk := &st.Buckets[c.bucket]
		if c.status > 0 {
			bk.Responses[fmt.Sprint(c.status)] += c.count
		} else {
			bk.Methods[c.method] += c.count
		}
		bk.Total += c.count
		st.Total += c.count
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
