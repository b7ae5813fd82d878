// Package alias names IP addresses: a configurable map of prefixes to names
// ("10.1.0.0/24=trunk-a", "192.0.2.7=pbx-1"), looked up by longest matching
// prefix. The collector labels its SIP KPIs per peer/trunk with it, and the
// console shows the same names for hosts; both read the same --alias list.
//
// A [Map] is immutable after [Parse] and safe for concurrent use; [Map.Lookup]
// does not allocate.
package alias

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Map holds prefix → name entries. The zero value and nil are empty maps.
type Map struct {
	bits  []int                   // distinct prefix lengths, longest first
	names map[netip.Prefix]string // masked prefix → name
	list  []string                // distinct names in first-seen order
}

// Parse reads entries of the form PREFIX=NAME, where PREFIX is a CIDR
// prefix or a single address (a /32 or /128). Names are 1–64 characters of
// letters, digits and ".-_:@" so they are safe as metric label values and
// in the UI. The same prefix twice is an error; many prefixes may share a
// name. IPv4-mapped IPv6 addresses are looked up as IPv4.
func Parse(entries []string) (*Map, error) {
	m := &Map{names: make(map[netip.Prefix]string)}
	seen := map[string]bool{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		pfx, name, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("alias %q: want PREFIX=NAME", e)
		}
		pfx, name = strings.TrimSpace(pfx), strings.TrimSpace(name)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("alias %q: %w", e, err)
		}
		p, err := parsePrefix(pfx)
		if err != nil {
			return nil, fmt.Errorf("alias %q: %w", e, err)
		}
		if old, dup := m.names[p]; dup {
			return nil, fmt.Errorf("alias %q: prefix %s already named %q", e, p, old)
		}
		m.names[p] = name
		if !slices.Contains(m.bits, bitsKey(p)) {
			m.bits = append(m.bits, bitsKey(p))
		}
		if !seen[name] {
			seen[name] = true
			m.list = append(m.list, name)
		}
	}
	slices.SortFunc(m.bits, func(a, b int) int { return b - a })
	return m, nil
}

// bitsKey orders IPv4 and IPv6 prefix lengths in one list: IPv6 lengths
// are stored as is, IPv4 ones with 1000 added, so both families keep their
// own longest-first order when sorted.
func bitsKey(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 1000 + p.Bits()
	}
	return p.Bits()
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("prefix: %w", err)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("prefix %s: IPv4-mapped prefix shorter than /96", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address: %w", err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("name %q: want 1 to 64 characters", s)
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte(".-_:@", c) >= 0:
		default:
			return fmt.Errorf("name %q: only letters, digits and .-_:@", s)
		}
	}
	return nil
}

// Lookup returns the name of the longest prefix holding a, or "", false.
func (m *Map) Lookup(a netip.Addr) (string, bool) {
	if m == nil || len(m.names) == 0 || !a.IsValid() {
		return "", false
	}
	a = a.Unmap()
	v4 := a.Is4()
	for _, k := range m.bits {
		bits := k
		if k >= 1000 {
			if !v4 {
				continue
			}
			bits = k - 1000
		} else if v4 {
			continue
		}
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if n, ok := m.names[p]; ok {
			return n, true
		}
	}
	return "", false
}

// Names returns the distinct names in the order they were first given.
func (m *Map) Names() []string {
	if m == nil {
		return nil
	}
	return slices.Clone(m.list)
}

// Len returns the number of prefixes.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.names)
}

// Prefixes returns the prefixes named name, IPv4 first, each family in
// address order (nil for an unknown name).
func (m *Map) Prefixes(name string) []netip.Prefix {
	if m == nil {
		return nil
	}
	var out []netip.Prefix
	for p, n := range m.names {
		if n == name {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out
}
