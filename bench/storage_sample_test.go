package bench

import (
	"strings"
	"testing"
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
