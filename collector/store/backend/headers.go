package backend

import "fmt"

// maxSearchHeaderName bounds a search header's name (its column name is
// "hdr_" + the name; MySQL allows 64 characters).
const maxSearchHeaderName = 48

// SearchHeader is one configured search header (--search-header): a SIP
// header whose first value the dissector writes to protocol_header under
// Column, and each backend keeps as a searchable column of that name in
// the SIP tables.
type SearchHeader struct {
	Name   string // as configured, e.g. X-Account
	Column string // hdr_x_account: protocol_header key, column and API parameter
}

// SearchHeaders checks the configured header names and returns their
// columns: "hdr_" + the name in lower case with '-' as '_' ("X-Account" →
// "hdr_x_account"). A name is 1..48 letters, digits, '-' and '_'; two
// names on one column are refused.
func SearchHeaders(names []string) ([]SearchHeader, error) {
	out := make([]SearchHeader, 0, len(names))
	seen := map[string]string{}
	for _, n := range names {
		if n == "" || len(n) > maxSearchHeaderName {
			return nil, fmt.Errorf("search header %q: length must be 1..%d", n, maxSearchHeaderName)
		}
		col := []byte("hdr_")
		for i := range len(n) {
			c := n[i]
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c == '-':
				c = '_'
			default:
				return nil, fmt.Errorf("search header %q: only letters, digits, '-' and '_' are allowed", n)
			}
			col = append(col, c)
		}
		if prev, ok := seen[string(col)]; ok {
			return nil, fmt.Errorf("search headers %q and %q are the same column %s", prev, n, col)
		}
		seen[string(col)] = n
		out = append(out, SearchHeader{Name: n, Column: string(col)})
	}
	return out, nil
}
