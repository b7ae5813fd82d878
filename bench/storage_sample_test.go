package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/hep/sip"
)

// TestStorageRowsSample: the sample's users and linked calls, read with
// hep/sip, are those the generated messages carry (checked here on the
// raw text): every user is some From user, every legged call has X-CID.
func TestStorageRowsSample(t *testing.T) {
	s, err := storageRows(2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.rows) == 0 || len(s.users) == 0 || len(s.callIDs) == 0 || len(s.legged) == 0 {
		t.Fatalf("sample: %d rows, %d users, %d calls, %d legged", len(s.rows), len(s.users), len(s.callIDs), len(s.legged))
	}
	var raw strings.Builder
	for _, r := range s.rows {
		raw.Write(r.Raw)
		raw.WriteString("\r\n")
	}
	all := raw.String()
	for _, u := range s.users {
		if !strings.Contains(all, "sip:"+u+"@") {
			t.Errorf("user %q is in no message", u)
		}
	}
	for _, id := range s.legged {
		found := false
		for _, r := range s.rows {
			if m := string(r.Raw); strings.Contains(m, "Call-ID: "+id+"\r\n") && strings.Contains(m, "\r\nX-CID: ") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("legged call %q has no message with X-CID", id)
		}
	}
}

// TestStorageRowsAccounts: with accounts, every INVITE and REGISTER
// request of the sample (and nothing else) carries one X-Account header,
// the same for a From user each time, which the dissector writes to
// protocol_header as hdr_x_account; the accounts are those listed.
func TestStorageRowsAccounts(t *testing.T) {
	s, err := storageRowsAt(4000, time.Time{}, 300)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, a := range s.accounts {
		listed[a] = true
	}
	if len(listed) < 50 || len(listed) > 300 {
		t.Fatalf("%d accounts listed, want 50..300", len(listed))
	}
	var msg sip.Message
	byUser := map[string]string{}
	tagged := 0
	for i, r := range s.rows {
		if err := msg.DecodeFromBytes(r.Raw); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		raw := string(r.Raw)
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		n := strings.Count(head, "\r\nX-Account: ")
		request := !strings.HasPrefix(raw, "SIP/2.0 ")
		method := string(msg.Method)
		want := 0
		if request && (method == "INVITE" || method == "REGISTER") {
			want = 1
		}
		if n != want {
			t.Fatalf("row %d (%s): %d X-Account headers, want %d\n%s", i, strings.SplitN(raw, "\r\n", 2)[0], n, want, head)
		}
		if n == 0 {
			if strings.Contains(string(r.ProtocolHeader), "hdr_x_account") {
				t.Fatalf("row %d: hdr_x_account without the header: %s", i, r.ProtocolHeader)
			}
			continue
		}
		tagged++
		acct := strings.SplitN(strings.SplitN(head, "\r\nX-Account: ", 2)[1], "\r\n", 2)[0]
		if !listed[acct] {
			t.Errorf("row %d: account %q not listed", i, acct)
		}
		if !strings.Contains(string(r.ProtocolHeader), `"hdr_x_account":"`+acct+`"`) {
			t.Errorf("row %d: protocol_header lacks hdr_x_account %q: %s", i, acct, r.ProtocolHeader)
		}
		u := string(msg.From.URI.User)
		if prev, ok := byUser[u]; ok && prev != acct {
			t.Errorf("From user %q has accounts %q and %q", u, prev, acct)
		}
		byUser[u] = acct
	}
	if tagged == 0 {
		t.Fatal("no row carries X-Account")
	}
}
