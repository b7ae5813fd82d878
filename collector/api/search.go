package api

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// sipTables are searched by /messages; /calls reads only the call table.
var sipTables = []string{"hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default"}

const callTable = "hep_proto_1_call"

// Message is one SIP message in search results and call flows.
type Message struct {
	ID            uint64    `json:"id"`
	Table         string    `json:"table"`
	Time          time.Time `json:"time"`
	TimeUS        int64     `json:"time_us"` // capture time, microseconds since the epoch
	Node          uint32    `json:"node"`
	CallID        string    `json:"callid"`
	CallIDALeg    string    `json:"callid_aleg,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	Method        string    `json:"method"` // request method, or the status code for responses
	Status        int       `json:"status"` // 0 for requests
	CSeqMethod    string    `json:"cseq_method,omitempty"`
	FromUser      string    `json:"from_user"`
	ToUser        string    `json:"to_user"`
	RURIUser      string    `json:"ruri_user"`
	UserAgent     string    `json:"user_agent,omitempty"`
	Transport     string    `json:"transport"` // "udp", "tcp", "sctp" or the IP protocol number
	SrcIP         string    `json:"src_ip"`
	SrcPort       int       `json:"src_port"`
	DstIP         string    `json:"dst_ip"`
	DstPort       int       `json:"dst_port"`
	FirstLine     string    `json:"first_line,omitempty"` // flows only
	Raw           string    `json:"raw,omitempty"`        // flows only
}

// msgCols are the columns scanned by scanMessage, in order.
const msgCols = "id, create_date, gid, COALESCE(callid,''), COALESCE(callid_aleg,''), COALESCE(correlation_id,''), " +
	"COALESCE(method,''), COALESCE(status,0), COALESCE(JSON_UNQUOTE(JSON_EXTRACT(protocol_header,'$.cseq_method')),''), " +
	"COALESCE(from_user,''), COALESCE(to_user,''), COALESCE(ruri_user,''), COALESCE(user_agent,''), " +
	"COALESCE(JSON_EXTRACT(hep_header,'$.protocol'),0), COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0)"

func scanMessage(rows *sql.Rows, table string, extra ...any) (Message, error) {
	var m Message
	var proto int
	dest := []any{&m.ID, &m.Time, &m.Node, &m.CallID, &m.CallIDALeg, &m.CorrelationID,
		&m.Method, &m.Status, &m.CSeqMethod, &m.FromUser, &m.ToUser, &m.RURIUser, &m.UserAgent,
		&proto, &m.SrcIP, &m.SrcPort, &m.DstIP, &m.DstPort}
	if table == "" {
		dest = append([]any{&m.Table}, dest...)
	}
	if err := rows.Scan(append(dest, extra...)...); err != nil {
		return m, err
	}
	if table != "" {
		m.Table = table
	}
	m.Time = m.Time.UTC()
	m.TimeUS = m.Time.UnixMicro()
	m.Transport = transportName(proto)
	return m, nil
}

func transportName(p int) string {
	switch p {
	case 17:
		return "udp"
	case 6:
		return "tcp"
	case 132:
		return "sctp"
	}
	return fmt.Sprint(p)
}

// searchSQL returns the page query and the count query of s over tables.
func searchSQL(s *search, tables []string) (page string, pageArgs []any, count string, countArgs []any) {
	where, args := s.where()
	var pb, cb strings.Builder
	cb.WriteString("SELECT ")
	for i, t := range tables {
		if i > 0 {
			pb.WriteString(" UNION ALL ")
			cb.WriteString(" + ")
		}
		fmt.Fprintf(&pb, "(SELECT '%s' AS tbl, %s FROM `%s` WHERE %s ORDER BY create_date DESC, id DESC LIMIT %d)",
			t, msgCols, t, where, s.offset+s.limit)
		fmt.Fprintf(&cb, "(SELECT COUNT(*) FROM `%s` WHERE %s)", t, where)
		pageArgs = append(pageArgs, args...)
		countArgs = append(countArgs, args...)
	}
	fmt.Fprintf(&pb, " ORDER BY create_date DESC, id DESC LIMIT %d OFFSET %d", s.limit, s.offset)
	return pb.String(), pageArgs, cb.String(), countArgs
}

// MessagesResult is the body of GET /api/v1/messages.
type MessagesResult struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Total    int64     `json:"total"`
	Limit    int       `json:"limit"`
	Offset   int       `json:"offset"`
	Messages []Message `json:"messages"`
}

func (a *API) messages(w http.ResponseWriter, r *http.Request) error {
	s, err := a.parseSearch(r.URL.Query())
	if err != nil {
		return err
	}
	res, err := a.searchMessages(r.Context(), s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (a *API) searchMessages(ctx context.Context, s *search) (*MessagesResult, error) {
	page, pargs, count, cargs := searchSQL(s, sipTables)
	res := &MessagesResult{From: s.From, To: s.To, Limit: s.limit, Offset: s.offset, Messages: []Message{}}
	err := parallel(
		func() error {
			if err := a.queryRow(ctx, count, cargs...).Scan(&res.Total); err != nil {
				return fmt.Errorf("count messages: %w", err)
			}
			return nil
		},
		func() error {
			rows, err := a.query(ctx, page, pargs...)
			if err != nil {
				return fmt.Errorf("query messages: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				m, err := scanMessage(rows, "")
				if err != nil {
					return fmt.Errorf("scan message: %w", err)
				}
				res.Messages = append(res.Messages, m)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("read messages: %w", err)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Call is one call in GET /api/v1/calls.
type Call struct {
	CallID      string    `json:"callid"`
	CallIDALeg  string    `json:"callid_aleg,omitempty"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	DurationMS  int64     `json:"duration_ms"`       // last - first
	TalkMS      int64     `json:"talk_ms,omitempty"` // first 2xx to INVITE until the first BYE
	Messages    int       `json:"messages"`          // SIP messages of this Call-ID
	FinalStatus int       `json:"final_status"`      // final response to the INVITE (2xx wins), else the last response
	Method      string    `json:"method"`            // the first request's method
	FromUser    string    `json:"from_user"`
	ToUser      string    `json:"to_user"`
	RURIUser    string    `json:"ruri_user"`
	SrcIP       string    `json:"src_ip"`               // sender of the first message
	DstIP       string    `json:"dst_ip"`               // receiver of the first message
	UserAgent   string    `json:"user_agent,omitempty"` // of the first request
}

// CallsResult is the body of GET /api/v1/calls.
type CallsResult struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Total  int64     `json:"total"` // calls matching
	Limit  int       `json:"limit"`
	Offset int       `json:"offset"`
	Calls  []Call    `json:"calls"`
}

func (a *API) calls(w http.ResponseWriter, r *http.Request) error {
	s, err := a.parseSearch(r.URL.Query())
	if err != nil {
		return err
	}
	res, err := a.searchCalls(r.Context(), s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// callSpan is how far outside the search range a listed call's other
// messages are looked for: its summary covers calls of up to a day (a
// flow is never cut).
const callSpan = 24 * time.Hour

func (a *API) searchCalls(ctx context.Context, s *search) (*CallsResult, error) {
	where, args := s.where()
	res := &CallsResult{From: s.From, To: s.To, Limit: s.limit, Offset: s.offset, Calls: []Call{}}
	// One pass over the matching rows gives the page and, through
	// FOUND_ROWS() on the same connection, the number of calls.
	page := fmt.Sprintf("SELECT SQL_CALC_FOUND_ROWS callid, MAX(create_date) AS last FROM `%s` WHERE %s AND callid IS NOT NULL GROUP BY callid ORDER BY last DESC, callid LIMIT %d OFFSET %d",
		callTable, where, s.limit, s.offset)
	ids, total, err := a.pageCalls(ctx, page, args)
	if err != nil {
		return nil, err
	}
	res.Total = total
	if len(ids) == 0 {
		return res, nil
	}
	msgs, err := a.messagesOf(ctx, []string{callTable}, ids, s.From.Add(-callSpan), s.To.Add(callSpan), false, 0)
	if err != nil {
		return nil, err
	}
	by := make(map[string][]Message, len(ids))
	for _, m := range msgs {
		by[m.CallID] = append(by[m.CallID], m)
	}
	for _, id := range ids {
		res.Calls = append(res.Calls, summarize(id, by[id]))
	}
	return res, nil
}

// summarize builds a Call from its messages in time order.
func summarize(id string, msgs []Message) Call {
	c := Call{CallID: id, Messages: len(msgs)}
	if len(msgs) == 0 {
		return c
	}
	f := msgs[0]
	c.First, c.Last = f.Time, msgs[len(msgs)-1].Time
	c.DurationMS = c.Last.Sub(c.First).Milliseconds()
	c.FromUser, c.ToUser, c.RURIUser, c.SrcIP, c.DstIP = f.FromUser, f.ToUser, f.RURIUser, f.SrcIP, f.DstIP
	var answered, bye time.Time
	lastResp, inviteFinal := 0, 0
	for _, m := range msgs {
		if c.CallIDALeg == "" {
			c.CallIDALeg = m.CallIDALeg
		}
		if m.Status == 0 {
			if c.Method == "" {
				c.Method, c.UserAgent = m.Method, m.UserAgent
				if m.RURIUser != "" {
					c.RURIUser = m.RURIUser
				}
			}
			if m.Method == "BYE" && bye.IsZero() {
				bye = m.Time
			}
			continue
		}
		lastResp = m.Status
		if m.CSeqMethod == "INVITE" && m.Status >= 200 {
			if m.Status < 300 {
				if answered.IsZero() {
					answered = m.Time
				}
				inviteFinal = m.Status
			} else if inviteFinal < 200 || inviteFinal >= 300 {
				inviteFinal = m.Status
			}
		}
	}
	c.FinalStatus = inviteFinal
	if c.FinalStatus == 0 {
		c.FinalStatus = lastResp
	}
	if !answered.IsZero() && bye.After(answered) {
		c.TalkMS = bye.Sub(answered).Milliseconds()
	}
	return c
}

// messagesOf returns the SIP messages of Call-IDs ids in tables within
// [from, to], in capture order (ties by table order, then id). With raw,
// the raw text and first line are filled. At most max messages (0: no
// bound) are returned; more is an error.
func (a *API) messagesOf(ctx context.Context, tables, ids []string, from, to time.Time, raw bool, max int) ([]Message, error) {
	var b strings.Builder
	var args []any
	in := placeholders(len(ids))
	extra := ""
	if raw {
		extra = ", raw"
	}
	for i, t := range tables {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "(SELECT '%s' AS tbl, %d AS ord, %s%s FROM `%s` WHERE create_date BETWEEN ? AND ? AND callid IN (%s))",
			t, i, msgCols, extra, t, in)
		args = append(args, from, to)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	b.WriteString(" ORDER BY create_date, ord, id")
	if max > 0 {
		fmt.Fprintf(&b, " LIMIT %d", max+1)
	}
	rows, err := a.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query call messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var ord int
		var rawB []byte
		ex := []any{}
		if raw {
			ex = append(ex, &rawB)
		}
		var m Message
		var tbl string
		var proto int
		dest := []any{&tbl, &ord, &m.ID, &m.Time, &m.Node, &m.CallID, &m.CallIDALeg, &m.CorrelationID,
			&m.Method, &m.Status, &m.CSeqMethod, &m.FromUser, &m.ToUser, &m.RURIUser, &m.UserAgent,
			&proto, &m.SrcIP, &m.SrcPort, &m.DstIP, &m.DstPort}
		if err := rows.Scan(append(dest, ex...)...); err != nil {
			return nil, fmt.Errorf("scan call message: %w", err)
		}
		m.Table = tbl
		m.Time = m.Time.UTC()
		m.TimeUS = m.Time.UnixMicro()
		m.Transport = transportName(proto)
		if raw {
			m.Raw = string(rawB)
			line, _, _ := strings.Cut(m.Raw, "\n")
			m.FirstLine = strings.TrimRight(line, "\r")
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read call messages: %w", err)
	}
	if max > 0 && len(out) > max {
		return nil, &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("call has more than %d SIP messages", max)}
	}
	return out, nil
}

// placeholders returns "?,?,...,?" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// pageCalls runs the SQL_CALC_FOUND_ROWS query page and returns its
// Call-IDs and FOUND_ROWS().
func (a *API) pageCalls(ctx context.Context, page string, args []any) ([]string, int64, error) {
	conn, err := a.cfg.DB.Conn(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("query calls: %w", err)
	}
	defer conn.Close()
	if a.trace != nil {
		a.trace(page, args)
	}
	rows, err := conn.QueryContext(ctx, page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("query calls: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		var last time.Time
		if err := rows.Scan(&id, &last); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("scan call: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read calls: %w", err)
	}
	var total int64
	if err := conn.QueryRowContext(ctx, "SELECT FOUND_ROWS()").Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count calls: %w", err)
	}
	return ids, total, nil
}
