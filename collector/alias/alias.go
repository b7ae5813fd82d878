// Package alias names IP addresses and ports: a configurable map of
// prefixes, optionally with a port, to names ("10.1.0.0/24=trunk-a",
// "192.0.2.7=pbx-1", "10.0.0.1:5080=trunk-b", "[2001:db8::1]:5060=sbc"),
// looked up by (address, port): an entry whose port matches wins over one
// without a port, and among those the longest matching prefix wins. The
// collector labels its SIP KPIs per peer/trunk with it, and the console
// shows the same names for hosts; both read the same --alias list.
//
// A [Map] is immutable after [Parse] and safe for concurrent use; [Map.Lookup]
// does not allocate.
package alias

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Map holds (prefix, port) → name entries. The zero value and nil are
// empty maps.
type Map struct {
	bits  []int          // distinct prefix lengths of port-less entries, longest first
	pbits []int          // the same for entries with a port
	names map[key]string // masked prefix and port (0: any) → name
	list  []string       // distinct names in first-seen order
}

type key struct {
	p    netip.Prefix
	port uint16 // 0: any port
}

// Entry is one aliased prefix and its port (0: any port).
type Entry struct {
	Prefix netip.Prefix
	Port   uint16
}

// String writes e as Parse reads it: "10.0.0.0/8", "10.0.0.1:5060",
// "[2001:db8::1]:5060" (single addresses without "/32" or "/128").
func (e Entry) String() string {
	a := e.Prefix.String()
	if e.Prefix.IsSingleIP() {
		a = e.Prefix.Addr().String()
	}
	if e.Port == 0 {
		return a
	}
	if e.Prefix.Addr().Is6() {
		return "[" + a + "]:" + strconv.Itoa(int(e.Port))
	}
	return a + ":" + strconv.Itoa(int(e.Port))
}

// Parse reads entries of the form PREFIX=NAME, where PREFIX is a CIDR
// prefix or a single address (a /32 or /128), optionally followed by
// ":PORT" (1–65535; an IPv6 address or prefix with a port in brackets:
// "[2001:db8::1]:5060", "[2001:db8::/64]:5060"). Names are 1–64 characters of
// letters, digits and ".-_:@" so they are safe as metric label values and
// in the UI. The same prefix and port twice is an error; many prefixes may share a
// name. IPv4-mapped IPv6 addresses are looked up as IPv4.
func Parse(entries []string) (*Map, error) {
	m := &Map{names: make(map[key]string)}
	seen := map[string]bool{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		pfx, name, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("alias %q: want PREFIX[:PORT]=NAME", e)
		}
		pfx, name = strings.TrimSpace(pfx), strings.TrimSpace(name)
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("alias %q: %w", e, err)
		}
		k, err := parseKey(pfx)
		if err != nil {
			return nil, fmt.Errorf("alias %q: %w", e, err)
		}
		if old, dup := m.names[k]; dup {
			return nil, fmt.Errorf("alias %q: %s already named %q", e, Entry{k.p, k.port}, old)
		}
		m.names[k] = name
		bits := &m.bits
		if k.port != 0 {
			bits = &m.pbits
		}
		if !slices.Contains(*bits, bitsKey(k.p)) {
			*bits = append(*bits, bitsKey(k.p))
		}
		if !seen[name] {
			seen[name] = true
			m.list = append(m.list, name)
		}
	}
	slices.SortFunc(m.bits, func(a, b int) int { return b - a })
	slices.SortFunc(m.pbits, func(a, b int) int { return b - a })
	return m, nil
}

// parseKey reads PREFIX, PREFIX:PORT or [IPV6PREFIX]:PORT.
func parseKey(s string) (key, error) {
	addr, port, hasPort := s, "", false
	if strings.HasPrefix(s, "[") {
		hasPort = true
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return key{}, fmt.Errorf("%q: no closing ]", s)
		}
		addr, port = s[1:end], s[end+1:]
		if !strings.HasPrefix(port, ":") {
			return key{}, fmt.Errorf("%q: want [IPV6]:PORT", s)
		}
		port = port[1:]
		if !strings.Contains(addr, ":") {
			return key{}, fmt.Errorf("%q: brackets are for IPv6 addresses", s)
		}
	} else if strings.Count(s, ":") == 1 {
		addr, port, hasPort = strings.Cut(s, ":")
	}
	p, err := parsePrefix(addr)
	if err != nil {
		return key{}, err
	}
	k := key{p: p}
	if hasPort {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return key{}, fmt.Errorf("port %q: want 1 to 65535", port)
		}
		k.port = uint16(n)
	}
	return k, nil
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

// Lookup returns the name of the longest port-less prefix holding a, or
// "", false.
func (m *Map) Lookup(a netip.Addr) (string, bool) {
	return m.LookupPort(a, 0)
}

// LookupPort returns the name of (a, port): the longest prefix holding a
// among the entries for port, else among the port-less ones; "", false
// when none holds it. Port 0 (unknown) finds only port-less entries.
func (m *Map) LookupPort(a netip.Addr, port uint16) (string, bool) {
	if m == nil || len(m.names) == 0 || !a.IsValid() {
		return "", false
	}
	a = a.Unmap()
	if port != 0 && len(m.pbits) > 0 {
		if n, ok := m.lookup(a, port, m.pbits); ok {
			return n, true
		}
	}
	return m.lookup(a, 0, m.bits)
}

// HasPorts reports whether any entry has a port.
func (m *Map) HasPorts() bool { return m != nil && len(m.pbits) > 0 }

func (m *Map) lookup(a netip.Addr, port uint16, bitsList []int) (string, bool) {
	v4 := a.Is4()
	for _, k := range bitsList {
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
		if n, ok := m.names[key{p, port}]; ok {
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

// Len returns the number of entries.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.names)
}

// Entries returns the entries named name, IPv4 first, each family in
// address order, then by prefix length and port (nil for an unknown name).
func (m *Map) Entries(name string) []Entry {
	if m == nil {
		return nil
	}
	var out []Entry
	for k, n := range m.names {
		if n == name {
			out = append(out, Entry{k.p, k.port})
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		if c := a.Prefix.Bits() - b.Prefix.Bits(); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}
