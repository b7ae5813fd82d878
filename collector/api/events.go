package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// Event is one stored message of a HEP type other than SIP, as
// GET /api/v1/events returns it: the columns every table has and the
// dissector's two JSON documents.
type Event struct {
	Time          time.Time       `json:"time"`
	TimeUS        int64           `json:"time_us"` // capture time, microseconds since the epoch
	Node          uint32          `json:"node"`
	SrcIP         string          `json:"src_ip"`
	SrcPort       int             `json:"src_port"`
	DstIP         string          `json:"dst_ip"`
	DstPort       int             `json:"dst_port"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Header        json.RawMessage `json:"protocol_header"`
	Payload       json.RawMessage `json:"payload"`
}

// EventsResult is the answer of GET /api/v1/events.
type EventsResult struct {
	Type   int       `json:"type"`
	Name   string    `json:"name"` // the HEP type's name ("rtcp", "log", ...)
	Table  string    `json:"table"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Events []Event   `json:"events"`
	More   bool      `json:"more"` // more events in the range than limit
}

// Bounds of the events page.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// eventTypes are the HEP types GET /api/v1/events reads: every standard
// type of hep/proto's registry that is not split by class (SIP has its
// own endpoints). Their tables exist from the store's start.
func eventTypes() []*proto.Desc {
	var out []*proto.Desc
	for _, d := range proto.All() {
		if d.Standard && !d.Split {
			out = append(out, d)
		}
	}
	return out
}

// events answers GET /api/v1/events?type=N: the messages of HEP type N
// within the range, in capture order, optionally only those with a
// correlation id, at most limit (default 100, at most 1000).
func (a *API) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var types []string
	for _, d := range eventTypes() {
		types = append(types, strconv.Itoa(int(d.Type)))
	}
	n, err := strconv.Atoi(q.Get("type"))
	if err != nil || n < 0 || n > 255 {
		return errBad("type: want a HEP payload type number (one of %s), got %q", strings.Join(types, ", "), q.Get("type"))
	}
	desc := proto.Of(hep.ProtoType(n))
	if !desc.Standard || desc.Split {
		return errBad("type: HEP type %d (%s) has no events table; types: %s", n, desc.Type, strings.Join(types, ", "))
	}
	tr, err := parseRange(q, a.cfg.Now(), a.cfg.DefaultRange, a.cfg.MaxRange)
	if err != nil {
		return err
	}
	limit := defaultEventLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxEventLimit {
			return errBad("limit: want 1 to %d, got %q", maxEventLimit, s)
		}
	}
	table := desc.Table(proto.Default)
	evs, err := a.q.eventsOf(r.Context(), table, tr, q.Get("correlation_id"), limit+1)
	if err != nil {
		return err
	}
	res := EventsResult{Type: n, Name: desc.Type.String(), Table: table, From: tr.From, To: tr.To, Events: evs}
	if len(evs) > limit {
		res.Events, res.More = evs[:limit], true
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// eventsOf (MySQL/MariaDB): the correlation_id index when one is given,
// else the partitions of the range.
func (my *mysqlQ) eventsOf(ctx context.Context, table string, tr timeRange, corrID string, max int) ([]Event, error) {
	q := "SELECT create_date, gid, COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0)," +
		" COALESCE(correlation_id,''), protocol_header, payload FROM `" + table + "` WHERE create_date BETWEEN ? AND ?"
	args := []any{tr.From, tr.To}
	if corrID != "" {
		q += " AND correlation_id = ?"
		args = append(args, corrID)
	}
	q += " ORDER BY create_date, id LIMIT " + strconv.Itoa(max)
	rows, err := my.a.query(ctx, q, args...)
	if noTable(err) {
		return []Event{}, nil // a database made before the type was standard
	}
	if err != nil {
		return nil, fmt.Errorf("query events of %s: %w", table, err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var h, p []byte
		if err := rows.Scan(&e.Time, &e.Node, &e.SrcIP, &e.SrcPort, &e.DstIP, &e.DstPort, &e.CorrelationID, &h, &p); err != nil {
			return nil, fmt.Errorf("scan event of %s: %w", table, err)
		}
		e.Time = e.Time.UTC()
		e.TimeUS = e.Time.UnixMicro()
		e.Header, e.Payload = json.RawMessage(h), json.RawMessage(p)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of %s: %w", table, err)
	}
	return out, nil
}

// eventsOf (ClickHouse): the table's ORDER BY (correlation_id, ts) when a
// correlation id is given, else the daily partitions of the range.
func (c *clickhouseQ) eventsOf(ctx context.Context, table string, tr timeRange, corrID string, max int) ([]Event, error) {
	tc, args := chTime(tr.From, tr.To)
	q := "SELECT ts, gid, src_ip, toInt64(src_port), dst_ip, toInt64(dst_port), correlation_id, protocol_header, payload FROM `" +
		table + "` WHERE " + tc
	if corrID != "" {
		q += " AND correlation_id = ?"
		args = append(args, corrID)
	}
	q += " ORDER BY ts, id LIMIT " + strconv.Itoa(max)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query events of %s: %w", table, err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var ts int64
		var h, p string
		if err := rows.Scan(&ts, &e.Node, &e.SrcIP, &e.SrcPort, &e.DstIP, &e.DstPort, &e.CorrelationID, &h, &p); err != nil {
			return nil, fmt.Errorf("scan event of %s: %w", table, err)
		}
		e.Time, e.TimeUS = time.UnixMicro(ts).UTC(), ts
		e.Header, e.Payload = json.RawMessage(h), json.RawMessage(p)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of %s: %w", table, err)
	}
	return out, nil
}
