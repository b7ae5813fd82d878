package api

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSearchSort: sort= orders the whole result on the server, not the
// page: the first page of each sort is the first rows of every matching
// message sorted the same way (by the column, ties latest first), for
// both directions and with an offset; sort= over tables is one order.
// Unknown columns, order= without sort=, a bad order and sort= on the
// calls and registrations endpoints are 400s that say why.
func TestSearchSort(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	win := "from=" + genStart.Add(-time.Minute).Format(time.RFC3339) + "&to=" + genStart.Add(30*time.Minute).Format(time.RFC3339)
	var all MessagesResult
	getJSON(t, srv.URL+"/api/v1/messages?"+win+"&limit=1000", &all)
	if all.Total < 50 || int(all.Total) != len(all.Messages) {
		t.Fatalf("fixture: %d messages, total %d; want all of at least 50 in one page", len(all.Messages), all.Total)
	}
	str := func(get func(*Message) string) func(a, b *Message) int {
		return func(a, b *Message) int { return strings.Compare(strings.ToLower(get(a)), strings.ToLower(get(b))) }
	}
	num := func(get func(*Message) int) func(a, b *Message) int {
		return func(a, b *Message) int { return cmp.Compare(get(a), get(b)) }
	}
	for _, c := range []struct {
		key string
		cmp func(a, b *Message) int
	}{
		{"from_user", str(func(m *Message) string { return m.FromUser })},
		{"callid", str(func(m *Message) string { return m.CallID })},
		{"method", str(func(m *Message) string { return m.Method })},
		{"status", num(func(m *Message) int { return m.Status })},
		{"src_port", num(func(m *Message) int { return m.SrcPort })},
		{"time", func(a, b *Message) int { return cmp.Compare(a.TimeUS, b.TimeUS) }},
	} {
		for _, order := range []string{"asc", "desc"} {
			want := slices.Clone(all.Messages) // latest first: a stable sort keeps that for ties
			slices.SortStableFunc(want, func(a, b Message) int {
				if order == "desc" {
					return c.cmp(&b, &a)
				}
				return c.cmp(&a, &b)
			})
			var got MessagesResult
			getJSON(t, srv.URL+"/api/v1/messages?"+win+"&limit=10&offset=5&sort="+c.key+"&order="+order, &got)
			if got.Total != all.Total || len(got.Messages) != 10 {
				t.Fatalf("sort=%s order=%s: %d messages, total %d", c.key, order, len(got.Messages), got.Total)
			}
			for i, m := range got.Messages {
				w := want[5+i]
				if m.CallID != w.CallID || m.TimeUS != w.TimeUS || m.Method != w.Method || m.Status != w.Status {
					t.Errorf("sort=%s order=%s row %d: %s %d %s %d, want %s %d %s %d", c.key, order, 5+i,
						m.CallID, m.TimeUS, m.Method, m.Status, w.CallID, w.TimeUS, w.Method, w.Status)
				}
			}
		}
	}
	for _, c := range []struct{ path, want string }{
		{"/messages?sort=nope", "not a sortable column"},
		{"/messages?sort=hdr_x_nope", "not a sortable column"},
		{"/messages?order=asc", "order= needs sort="},
		{"/messages?sort=method&order=up", "not asc or desc"},
		{"/calls?sort=method", "orders the message search"},
		{"/registrations?sort=time", "orders the message search"},
	} {
		code, body := get(t, srv.URL+"/api/v1"+c.path+"&"+win)
		if code != http.StatusBadRequest || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.path, code, body, c.want)
		}
	}
}
