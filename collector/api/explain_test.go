package api

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestExplain runs every endpoint with a trace of its queries and checks
// each query's plan with EXPLAIN PARTITIONS: every table access prunes to
// fewer partitions than the table has, and uses an index unless the
// request has no filter at all (stats, an unfiltered search) or the table
// is so small (under 1000 rows) that a scan is the cheaper plan.
func TestExplain(t *testing.T) {
	if testBackend() != "mysql" {
		t.Skip("EXPLAIN checks are for MySQL/MariaDB")
	}
	f := newFixture(t)
	srv, a := server(t, f, func(c *Config) { c.Aliases = testAliases })
	var mu sync.Mutex
	var queries []traced
	a.trace = func(q string, args []any) {
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, traced{q, args})
	}
	db := f.st.DB()
	// Filler, so that the optimizer sees tables of realistic size: the
	// same day's partition, after the fixture's hours, other addresses.
	tp := newTemplate(t, true)
	tp.start, tp.span, tp.rewrite = genStart.Add(3*time.Hour), 10*time.Hour, true
	tp.load(t, testDSN(t), f.st.Database(), 4)
	if _, err := db.Exec("ANALYZE TABLE hep_proto_1_call, hep_proto_1_registration, hep_proto_1_default, hep_proto_5_default, hep_proto_53_default, hep_proto_100_default"); err != nil {
		t.Fatal(err)
	}
	parts := map[string]int{}
	rows, err := db.Query("SELECT TABLE_NAME, COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() GROUP BY TABLE_NAME")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		parts[name] = n
	}
	rows.Close()
	// A table of a few hundred rows may be scanned: that is the cheaper plan.
	sizes := map[string]int{}
	for name := range parts {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM `" + name + "`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		sizes[name] = n
	}
	t.Logf("rows: %v", sizes)
	if parts["hep_proto_1_call"] < 3 {
		t.Fatalf("partitions: %v", parts)
	}

	win := "from=" + url.QueryEscape(genStart.Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Hour).Format(time.RFC3339))
	for _, tc := range []struct {
		path     string
		indexed  bool
		minQuery int
	}{
		{"/api/v1/messages?callid=" + url.QueryEscape(f.aLeg) + "&" + win, true, 2},
		{"/api/v1/messages?prefix=1&from_user=pb&" + win, true, 2},
		{"/api/v1/messages?to_user=1001&method=INVITE&" + win, true, 2},
		{"/api/v1/messages?src_ip=10.0.0.20&" + win, true, 2},
		{"/api/v1/messages?user_agent=x&" + win, false, 2}, // not indexed by the store: pruning only
		{"/api/v1/messages?user_agent=x&from_user=1001&" + win, true, 2},
		{"/api/v1/messages?status=486&" + win, true, 2},
		{"/api/v1/messages?" + win, false, 2},
		{"/api/v1/calls?ruri_user=9000&" + win, true, 2},
		{"/api/v1/calls?to_domain=media.example.net&" + win, false, 2}, // not indexed by the store: pruning only
		{"/api/v1/calls?to_domain=media.example.net&to_user=9000&" + win, true, 2},
		{"/api/v1/calls/" + url.PathEscape(f.aLeg) + "/flow", true, 7},
		{"/api/v1/calls/" + url.PathEscape(f.dLeg) + "/pcap?" + win, true, 8},
		{"/api/v1/stats?" + win, false, 1},
		// Operator searches: a number (with and without "+") and a prefix
		// wildcard use the user index; contains, suffix, the JSON-only
		// P-Asserted-Identity/Diversion and the any-party OR scan the pruned
		// partitions (logged below for the README).
		{"/api/v1/messages?from_user=4989123456&" + win, true, 2},
		{"/api/v1/messages?from_user=4989*&" + win, true, 2},
		{"/api/v1/messages?from_user=*4989*&" + win, false, 2},
		{"/api/v1/messages?pid_user=*4989*&" + win, false, 2},
		{"/api/v1/messages?diversion_user=4989555&" + win, false, 2},
		{"/api/v1/messages?party=4989123456&" + win, false, 2},
		{"/api/v1/messages?party=*4989*&from_user=1001&" + win, true, 2},
		// Search headers (--search-header): an indexed generated column
		// each; exact and prefix use it, contains scans the pruned partitions.
		{"/api/v1/messages?hdr_x_cid=" + url.QueryEscape(f.aLeg) + "&" + win, true, 2},
		{"/api/v1/messages?hdr_x_account=acct-4711&" + win, true, 2},
		{"/api/v1/messages?hdr_x_account=acct-47*&" + win, true, 2},
		{"/api/v1/calls?hdr_x_account=acct*&" + win, true, 1},
		{"/api/v1/messages?hdr_x_account=*4711*&" + win, false, 2},
		// Aliases: exact addresses and whole-octet subnets are ranges on
		// the IP indexes (either side: an index merge); IPv6 prefixes
		// shorter than /120 are matched on the hex form per row.
		{"/api/v1/messages?src_alias=sbc-1&" + win, true, 2},
		{"/api/v1/messages?dst_alias=phones-b&" + win, true, 2},
		{"/api/v1/messages?alias=ivr&" + win, true, 2},
		{"/api/v1/calls?src_alias=lan&" + win, true, 1},
		{"/api/v1/messages?alias=v6-sbc&" + win, false, 1},
		{"/api/v1/registrations?to_user=1020&" + win, true, 1},
		{"/api/v1/registrations?" + win, false, 1},
	} {
		mu.Lock()
		queries = nil
		mu.Unlock()
		code, body := get(t, srv.URL+tc.path)
		if code != 200 {
			t.Fatalf("%s: %d %s", tc.path, code, body)
		}
		mu.Lock()
		qs := append([]traced(nil), queries...)
		mu.Unlock()
		if len(qs) < tc.minQuery {
			t.Errorf("%s: %d queries traced, want at least %d", tc.path, len(qs), tc.minQuery)
		}
		for _, q := range qs {
			for _, p := range explain(t, db, q) {
				if !strings.HasPrefix(p.table, "hep_proto_") {
					continue // <union...>, <derived...>
				}
				if tc.indexed && strings.Contains(tc.path, "hdr_") && sizes[p.table] >= 1000 && !strings.Contains(p.key, "hdr_") {
					t.Errorf("%s: %s uses key %q, not the search header's index\n%s", tc.path, p.table, p.key, q.q)
				}
				if (strings.Contains(tc.path, "4989") || strings.Contains(tc.path, "hdr_") || strings.Contains(tc.path, "alias")) && strings.HasPrefix(q.q, "(SELECT") {
					t.Logf("%s: %s: type %s key %q", strings.SplitN(tc.path, "&from=", 2)[0], p.table, p.typ, p.key)
				}
				n := len(strings.Split(p.partitions, ","))
				if p.partitions == "" || n >= parts[p.table] {
					t.Errorf("%s: %s scans partitions %q of %d\n%s", tc.path, p.table, p.partitions, parts[p.table], q.q)
				}
				if tc.indexed && sizes[p.table] >= 1000 && (p.key == "" || p.typ == "ALL" || p.typ == "index") {
					t.Errorf("%s: %s accessed by %s, key %q\n%s", tc.path, p.table, p.typ, p.key, q.q)
				}
			}
		}
	}
}

type traced struct {
	q    string
	args []any
}

type plan struct{ table, partitions, typ, key string }

// explain returns the plan rows of q.
func explain(t *testing.T, db *sql.DB, q traced) []plan {
	t.Helper()
	rows, err := db.Query("EXPLAIN PARTITIONS "+q.q, q.args...)
	if err != nil {
		t.Fatalf("explain: %v\n%s", err, q.q)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []plan
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var p plan
		for i, c := range cols {
			switch c {
			case "table":
				p.table = vals[i].String
			case "partitions":
				p.partitions = vals[i].String
			case "type":
				p.typ = vals[i].String
			case "key":
				p.key = vals[i].String
			}
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no plan for %s", fmt.Sprint(q.q))
	}
	return out
}
