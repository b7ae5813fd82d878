package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxRegisterRows bounds the REGISTER messages one registrations request
// reads.
const maxRegisterRows = 50000

// Registration is one address of record (To user@domain of REGISTER) in
// GET /api/v1/registrations.
type Registration struct {
	User   string `json:"user"`
	Domain string `json:"domain"`
	// Registered: the last accepted REGISTER (2xx) had a non-zero expiry
	// that has not run out at the end of the range (or now, if earlier).
	Registered bool `json:"registered"`
	// Of the last accepted REGISTER: who sent it (the UA's address), to
	// whom (the registrar), its Contact user, expiry and User-Agent.
	Contact     string     `json:"contact,omitempty"`
	ContactUser string     `json:"contact_user,omitempty"`
	Registrar   string     `json:"registrar,omitempty"`
	Expires     int64      `json:"expires"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	LastOK      *time.Time `json:"last_ok,omitempty"`
	UserAgent   string     `json:"user_agent,omitempty"`
	// Counts over the range: REGISTER requests, accepted (2xx),
	// challenged (401/407, the normal first answer), failed (any other
	// final >= 300), and the last failure.
	Attempts        int        `json:"attempts"`
	Accepted        int        `json:"accepted"`
	Challenges      int        `json:"challenges"`
	Failures        int        `json:"failures"`
	LastFailure     int        `json:"last_failure,omitempty"`
	LastFailureTime *time.Time `json:"last_failure_time,omitempty"`
}

// RegistrationsResult is the body of GET /api/v1/registrations.
type RegistrationsResult struct {
	From          time.Time      `json:"from"`
	To            time.Time      `json:"to"`
	At            time.Time      `json:"at"` // when "registered" is judged
	Total         int            `json:"total"`
	Registrations []Registration `json:"registrations"`
}

func (a *API) registrations(w http.ResponseWriter, r *http.Request) error {
	s, err := a.parseSearch(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	if s.sort != "" {
		return errBad("sort= orders the message search (/api/v1/messages), not registrations")
	}
	rows, err := a.q.registerRows(r.Context(), s, maxRegisterRows)
	if err != nil {
		return err
	}
	at := s.To
	if now := a.cfg.Now().UTC(); now.Before(at) {
		at = now
	}
	res := summarizeRegistrations(rows, at)
	res.From, res.To, res.At = s.From, s.To, at
	res.Total = len(res.Registrations)
	lo := min(s.offset, len(res.Registrations))
	res.Registrations = res.Registrations[lo:min(lo+s.limit, len(res.Registrations))]
	writeJSON(w, http.StatusOK, res)
	return nil
}

// defaultExpires is a registration's lifetime when neither the REGISTER
// nor its 2xx carries an Expires header (RFC 3261 10.2.1.1 suggests one
// hour; a Contact's expires parameter is not read).
const defaultExpires = 3600

// summarizeRegistrations pairs REGISTERs with their final responses and
// sums them up per address of record, judging "registered" at at. A
// transaction (Call-ID, CSeq) seen at several hops (a proxy forwarding
// it) counts once: its first REGISTER is the UA's, and each final status
// counts once.
func summarizeRegistrations(rows []regRow, at time.Time) RegistrationsResult {
	type tx struct {
		callid string
		cseq   int64
	}
	type final struct {
		tx
		status int
	}
	origin := map[tx]regRow{}
	counted := map[final]bool{}
	by := map[string]*Registration{}
	get := func(user, domain string) *Registration {
		k := user + "@" + domain
		if by[k] == nil {
			by[k] = &Registration{User: user, Domain: domain}
		}
		return by[k]
	}
	for _, row := range rows {
		key := tx{row.callid, row.cseq}
		if row.status == 0 {
			if row.method != "REGISTER" {
				continue
			}
			if _, ok := origin[key]; !ok {
				origin[key] = row
				get(row.toUser, row.toDomain).Attempts++
			}
			continue
		}
		if row.status < 200 || counted[final{key, row.status}] {
			continue
		}
		counted[final{key, row.status}] = true
		g := get(row.toUser, row.toDomain)
		t := row.time
		switch {
		case row.status < 300:
			g.Accepted++
			req, ok := origin[key]
			exp := row.expires
			if exp < 0 && ok {
				exp = req.expires
			}
			if exp < 0 {
				exp = defaultExpires
			}
			g.LastOK, g.Expires = &t, exp
			if ok {
				g.Contact = hostPortOf(req.srcIP, req.srcPort)
				g.Registrar = hostPortOf(req.dstIP, req.dstPort)
				g.ContactUser, g.UserAgent = req.contactUser, req.userAgent
			} else {
				g.Contact, g.Registrar = hostPortOf(row.dstIP, row.dstPort), hostPortOf(row.srcIP, row.srcPort)
				g.ContactUser, g.UserAgent = "", ""
			}
			g.ExpiresAt = nil
			if exp > 0 {
				e := t.Add(time.Duration(exp) * time.Second)
				g.ExpiresAt = &e
			}
		case row.status == 401 || row.status == 407:
			g.Challenges++
		default:
			g.Failures++
			g.LastFailure, g.LastFailureTime = row.status, &t
		}
	}
	out := RegistrationsResult{Registrations: []Registration{}}
	for _, g := range by {
		g.Registered = g.ExpiresAt != nil && g.ExpiresAt.After(at)
		out.Registrations = append(out.Registrations, *g)
	}
	slices.SortFunc(out.Registrations, func(a, b Registration) int {
		return strings.Compare(a.User+"@"+a.Domain, b.User+"@"+b.Domain)
	})
	return out
}

func hostPortOf(ip string, port int) string {
	if ip == "" {
		return ""
	}
	for _, c := range ip {
		if c == ':' {
			return fmt.Sprintf("[%s]:%d", ip, port)
		}
	}
	return fmt.Sprintf("%s:%d", ip, port)
}
