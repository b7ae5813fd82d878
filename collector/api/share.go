package api

// Share links: a signed, expiring, read-only view of one call flow (or
// one merged flow of several calls) that needs no login.
//
// Token (URL-safe base64, no padding, two parts joined by "."):
//
//	payload   {"c": Call-ID, "m": [merged Call-IDs] (absent for one call), "f": from µs, "t": to µs,
//	           "e": expiry (Unix s), "u": who made it}
//	signature HMAC-SHA256(Config.ShareKey, payload bytes)

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxShareTTL bounds a share link's life.
const maxShareTTL = 30 * 24 * time.Hour

type sharePayload struct {
	CallID string   `json:"c"`
	Merge  []string `json:"m,omitempty"`
	From   int64    `json:"f"`
	To     int64    `json:"t"`
	Exp    int64    `json:"e"`
	User   string   `json:"u,omitempty"`
}

// shareKey returns the HMAC key: Config.ShareKey, or one made at New
// (links then last until the collector restarts).
func newShareKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func (a *API) signShare(p sharePayload) string {
	b, _ := json.Marshal(p)
	m := hmac.New(sha256.New, a.shareKey)
	m.Write(b)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(b) + "." + enc.EncodeToString(m.Sum(nil))
}

// verifyShare checks a token's signature and expiry.
func (a *API) verifyShare(tok string) (sharePayload, error) {
	var p sharePayload
	enc := base64.RawURLEncoding
	body, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 4096 {
		return p, errStatus(http.StatusForbidden, "not a share link")
	}
	b, err1 := enc.DecodeString(body)
	s, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return p, errStatus(http.StatusForbidden, "not a share link")
	}
	m := hmac.New(sha256.New, a.shareKey)
	m.Write(b)
	if !hmac.Equal(s, m.Sum(nil)) {
		return p, errStatus(http.StatusForbidden, "share link signature does not match (changed, or made by another collector)")
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, errStatus(http.StatusForbidden, "not a share link")
	}
	if a.cfg.Now().Unix() >= p.Exp {
		return p, errStatus(http.StatusGone, "share link expired at %s", time.Unix(p.Exp, 0).UTC().Format(time.RFC3339))
	}
	return p, nil
}

// ShareResult is the body of POST /api/v1/calls/{callid}/share.
type ShareResult struct {
	Token   string    `json:"token"`
	Link    string    `json:"link"` // path and fragment of the console view
	Expires time.Time `json:"expires"`
}

func (a *API) share(w http.ResponseWriter, r *http.Request) error {
	id, err := callIDParam(r)
	if err != nil {
		return err
	}
	var body struct {
		TTL string `json:"ttl"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	ttl := 24 * time.Hour
	if body.TTL != "" {
		if ttl, err = time.ParseDuration(body.TTL); err != nil || ttl <= 0 || ttl > maxShareTTL {
			return errBad("ttl: %q is not a duration in (0, %v]", body.TTL, maxShareTTL)
		}
	}
	// The link shows the flow as it is now: its time range is fixed.
	f, err := a.requestFlow(r)
	if err != nil {
		return err
	}
	exp := a.cfg.Now().Add(ttl).UTC().Truncate(time.Second)
	p := sharePayload{CallID: id, Merge: f.Merged, From: f.First.UnixMicro(), To: f.Last.UnixMicro(), Exp: exp.Unix(), User: who(r).name}
	tok := a.signShare(p)
	if err := a.audit(r, "share_create", fmt.Sprintf("%s until %s", callsOf(p), exp.Format(time.RFC3339))); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ShareResult{Token: tok, Link: "/#share=" + tok, Expires: exp})
	return nil
}

// sharedFlow serves GET /api/v1/shared/{token}/flow: the flow the token
// names, to anyone holding it, until it expires.
func (a *API) sharedFlow(w http.ResponseWriter, r *http.Request) error {
	p, err := a.verifyShare(r.PathValue("token"))
	if err != nil {
		return err
	}
	if err := checkParams(r.URL.Query(), map[string]bool{}); err != nil {
		return err
	}
	tr := timeRange{From: time.UnixMicro(p.From).UTC(), To: time.UnixMicro(p.To).UTC()}
	f, err := a.buildFlow(r.Context(), append([]string{p.CallID}, p.Merge...), tr, true)
	if err != nil {
		return err
	}
	if err := a.audit(r, "share_view", fmt.Sprintf("%s shared by %q", callsOf(p), p.User)); err != nil {
		return err
	}
	return a.writeFlow(w, r, f)
}

// callsOf names a link's calls for the audit log: call "A", or calls
// "A" "B" merged.
func callsOf(p sharePayload) string {
	if len(p.Merge) == 0 {
		return fmt.Sprintf("call %q", p.CallID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "calls %q", p.CallID)
	for _, m := range p.Merge {
		fmt.Fprintf(&b, " %q", m)
	}
	b.WriteString(" merged")
	return b.String()
}

// guardShared serves a share link's endpoint: no login or token (the
// link is the credential); a loopback-only collector stays loopback-only.
func (a *API) guardShared(h handlerFunc) http.Handler {
	inner := a.guard("", "", h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Accounts == nil && a.cfg.Token == "" && !loopback(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "no --api-token is configured: only loopback clients are served")
			return
		}
		// A share link carries no bearer token: drop a stray one, so the
		// token mode's check below is the link's.
		r.Header.Del("Authorization")
		if a.cfg.Accounts == nil && a.cfg.Token != "" {
			r.Header.Set("Authorization", "Bearer "+a.cfg.Token)
		}
		inner.ServeHTTP(w, r)
	})
}
