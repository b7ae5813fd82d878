package api

import (
	"net/http"
	"strconv"
	"time"
)

// MediaEntry is one HEP type 34 quality report (the rtpagent JSON the
// agent's --rtp-stats sends, stored in hep_proto_34_default) in a flow:
// the figures a per-stream media table and charts over time need.
type MediaEntry struct {
	Time          time.Time `json:"time"`
	TimeUS        int64     `json:"time_us"`
	CorrelationID string    `json:"correlation_id"`
	Type          string    `json:"type"` // PERIODIC, HANGUP, TIMEOUT, END
	SrcIP         string    `json:"src_ip"`
	SrcPort       int       `json:"src_port"`
	DstIP         string    `json:"dst_ip"`
	DstPort       int       `json:"dst_port"`
	SSRC          int64     `json:"ssrc"`
	Dir           int       `json:"dir"` // 0: towards the SDP's endpoint, 1: from it
	Codec         string    `json:"codec"`
	PT            int       `json:"pt"`
	Packets       int64     `json:"packets"`
	Expected      int64     `json:"expected"`
	Lost          int64     `json:"lost"`
	LostPct       float64   `json:"lost_pct"`
	JitterMS      float64   `json:"jitter_ms"`
	MaxJitterMS   float64   `json:"max_jitter_ms"`
	MeanJitterMS  float64   `json:"mean_jitter_ms"`
	MaxDeltaMS    float64   `json:"max_delta_ms"`
	MOS           float64   `json:"mos"`
	MinMOS        float64   `json:"min_mos"`
	MeanMOS       float64   `json:"mean_mos"`
	RFactor       float64   `json:"rfactor"`
}

// LowMOSCall is one answer row of GET /api/v1/media/lowmos.
type LowMOSCall struct {
	CallID  string    `json:"callid"`
	MinMOS  float64   `json:"min_mos"`
	Reports int64     `json:"reports"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

var knownLowMOS = map[string]bool{"from": true, "to": true, "tz": true, "mos": true, "limit": true}

// lowMOSCalls serves GET /api/v1/media/lowmos?mos=3.5[&from&to&limit]: the
// calls whose media had a report with MOS below mos (default 3.6, the
// E-model's "many users dissatisfied" line, R 70).
func (a *API) lowMOSCalls(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, knownLowMOS); err != nil {
		return err
	}
	tr, err := parseRange(q, a.cfg.Now(), a.cfg.DefaultRange, a.cfg.MaxRange)
	if err != nil {
		return err
	}
	max := 3.6
	if s := q.Get("mos"); s != "" {
		if max, err = strconv.ParseFloat(s, 64); err != nil || max < 1 || max > 5 {
			return errBad("mos: %q is not a MOS between 1 and 5", s)
		}
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 10000 {
			return errBad("limit: %q is not a number between 1 and 10000", s)
		}
	}
	calls, err := a.q.lowMOS(r.Context(), max, tr.From, tr.To, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"mos_below": max, "from": tr.From, "to": tr.To, "calls": calls})
	return nil
}
