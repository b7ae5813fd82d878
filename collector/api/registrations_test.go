package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRegistrations: the registrations view against the generated
// REGISTER traffic (challenges, proxied second hops, Expires or none),
// each address of record's counts and current state re-derived here from
// the raw messages; judged 5 minutes after the capture, so 30- and
// 60-minute registrations are live and 2-minute ones expired.
func TestRegistrations(t *testing.T) {
	f := newFixture(t)
	at := genStart.Add(5 * time.Minute)
	srv, _ := server(t, f, func(c *Config) { c.Now = func() time.Time { return at } })

	type tx struct {
		callid, cseq string
	}
	type aor struct {
		attempts, accepted, challenges, failures int
		contact, registrar                       string
		expires                                  int64
		lastOK                                   time.Time
	}
	want := map[string]*aor{}
	origin := map[tx][3]string{} // src, dst, expires of the first REGISTER
	seen := map[string]bool{}
	for _, m := range f.sip {
		if m.CSeqMethod != "REGISTER" {
			continue
		}
		user := uriUser(header(m.Raw, "To"))
		a := want[user]
		if a == nil {
			a = &aor{}
			want[user] = a
		}
		k := tx{m.CallID, header(m.Raw, "CSeq")}
		if m.Status == 0 {
			if _, ok := origin[k]; !ok {
				origin[k] = [3]string{m.Src.String(), m.Dst.String(), header(m.Raw, "Expires")}
				a.attempts++
			}
			continue
		}
		fk := fmt.Sprint(k, m.Status)
		if m.Status < 200 || seen[fk] {
			continue
		}
		seen[fk] = true
		switch {
		case m.Status < 300:
			a.accepted++
			o := origin[k]
			exp, err := strconv.ParseInt(o[2], 10, 64)
			if err != nil {
				exp = 3600
			}
			a.contact, a.registrar, a.expires, a.lastOK = o[0], o[1], exp, m.TS.Truncate(time.Microsecond)
		case m.Status == 401 || m.Status == 407:
			a.challenges++
		default:
			a.failures++
		}
	}
	var wantLines []string
	for _, user := range sortedKeys(func() map[string]bool {
		s := map[string]bool{}
		for u := range want {
			s[u] = true
		}
		return s
	}()) {
		a := want[user]
		reg := a.accepted > 0 && a.expires > 0 && a.lastOK.Add(time.Duration(a.expires)*time.Second).After(at)
		wantLines = append(wantLines, fmt.Sprintf("%s registered=%v contact=%s registrar=%s expires=%d attempts=%d ok=%d challenges=%d failures=%d",
			user, reg, a.contact, a.registrar, a.expires, a.attempts, a.accepted, a.challenges, a.failures))
	}
	var res RegistrationsResult
	getJSON(t, srv.URL+"/api/v1/registrations?limit=1000&from="+url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339))+"&to="+url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339)), &res)
	var got []string
	regs := 0
	for _, r := range res.Registrations {
		got = append(got, fmt.Sprintf("%s registered=%v contact=%s registrar=%s expires=%d attempts=%d ok=%d challenges=%d failures=%d",
			r.User, r.Registered, r.Contact, r.Registrar, r.Expires, r.Attempts, r.Accepted, r.Challenges, r.Failures))
		if r.Registered {
			regs++
		}
	}
	if diff := cmp.Diff(wantLines, got); diff != "" {
		t.Errorf("registrations (-want +got):\n%s", diff)
	}
	if regs == 0 || regs == len(got) {
		t.Errorf("%d of %d registered: the case proves nothing", regs, len(got))
	}
	if !res.At.Equal(at) {
		t.Errorf("judged at %v, want %v (now, before the range's end)", res.At, at)
	}
	// A user filter narrows it (wildcards like the search).
	var one RegistrationsResult
	getJSON(t, srv.URL+"/api/v1/registrations?to_user=*"+res.Registrations[0].User[1:]+"&from="+url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)), &one)
	if len(one.Registrations) == 0 || !strings.HasSuffix(one.Registrations[0].User, res.Registrations[0].User[1:]) {
		t.Errorf("filtered registrations %+v", one.Registrations)
	}
}
