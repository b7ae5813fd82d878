package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

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
	// Headers are the values of the configured search headers
	// (--search-header) the message has, by search parameter
	// (hdr_x_account).
	Headers   map[string]string `json:"headers,omitempty"`
	FirstLine string            `json:"first_line,omitempty"` // flows only
	Raw       string            `json:"raw,omitempty"`        // flows only
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

// MessagesResult is the body of GET /api/v1/messages.
type MessagesResult struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Total    int64     `json:"total"`
	Limit    int       `json:"limit"`
	Offset   int       `json:"offset"`
	Messages []Message `json:"messages"`
	// Aliases names the messages' addresses an alias covers: IP → name,
	// and "IP:PORT" → name where a port alias names it (see aliasesOf).
	Aliases map[string]string `json:"aliases,omitempty"`
}

func (a *API) messages(w http.ResponseWriter, r *http.Request) error {
	s, err := a.parseSearch(r.Context(), r.URL.Query())
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
	res := &MessagesResult{From: s.From, To: s.To, Limit: s.limit, Offset: s.offset}
	var err error
	res.Messages, res.Total, err = a.q.searchMessages(ctx, s, sipTables)
	if err != nil {
		return nil, err
	}
	if res.Messages == nil {
		res.Messages = []Message{}
	}
	res.Aliases, err = a.aliasesOf(ctx, func(add func(string, int)) {
		for _, m := range res.Messages {
			add(m.SrcIP, m.SrcPort)
			add(m.DstIP, m.DstPort)
		}
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
	SrcPort     int       `json:"src_port,omitempty"`   // its port
	DstIP       string    `json:"dst_ip"`               // receiver of the first message
	DstPort     int       `json:"dst_port,omitempty"`   // its port
	UserAgent   string    `json:"user_agent,omitempty"` // of the first request
	// Headers are the configured search headers' values, by search
	// parameter: of each, the first value among the call's messages.
	Headers map[string]string `json:"headers,omitempty"`
}

// CallsResult is the body of GET /api/v1/calls.
type CallsResult struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Total  int64     `json:"total"` // calls matching
	Limit  int       `json:"limit"`
	Offset int       `json:"offset"`
	Calls  []Call    `json:"calls"`
	// Aliases names the calls' addresses an alias covers: IP → name,
	// and "IP:PORT" → name where a port alias names it (see aliasesOf).
	Aliases map[string]string `json:"aliases,omitempty"`
}

func (a *API) calls(w http.ResponseWriter, r *http.Request) error {
	s, err := a.parseSearch(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	if s.sort != "" {
		return errBad("sort= orders the message search (/api/v1/messages); calls come latest first")
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
	res := &CallsResult{From: s.From, To: s.To, Limit: s.limit, Offset: s.offset, Calls: []Call{}}
	ids, total, err := a.q.pageCalls(ctx, s)
	if err != nil {
		return nil, err
	}
	res.Total = total
	if len(ids) == 0 {
		return res, nil
	}
	msgs, err := a.q.messagesOf(ctx, []string{callTable}, ids, s.From.Add(-callSpan), s.To.Add(callSpan), false, 0)
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
	res.Aliases, err = a.aliasesOf(ctx, func(add func(string, int)) {
		for _, c := range res.Calls {
			add(c.SrcIP, c.SrcPort)
			add(c.DstIP, c.DstPort)
		}
	})
	if err != nil {
		return nil, err
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
	c.SrcPort, c.DstPort = f.SrcPort, f.DstPort
	var answered, bye time.Time
	lastResp, inviteFinal := 0, 0
	for _, m := range msgs {
		if c.CallIDALeg == "" {
			c.CallIDALeg = m.CallIDALeg
		}
		for k, v := range m.Headers {
			if _, ok := c.Headers[k]; !ok {
				if c.Headers == nil {
					c.Headers = map[string]string{}
				}
				c.Headers[k] = v
			}
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
