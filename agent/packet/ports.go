package packet

import (
	"fmt"
	"strconv"
	"strings"
)

// PortSet is a set of L4 ports (a 65536-bit bitmap). The zero value is the
// empty set. Lookups are a shift and a mask; a PortSet is read-only once
// built and may be shared.
type PortSet struct {
	bits *[1024]uint64
}

// ParsePorts parses a comma-separated list of ports and inclusive ranges,
// e.g. "5060-5090,5260". Spaces around items are ignored; the empty string
// gives the empty set.
func ParsePorts(s string) (PortSet, error) {
	var ps PortSet
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parsePort(lo)
		if err != nil {
			return PortSet{}, fmt.Errorf("parse port list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return PortSet{}, fmt.Errorf("parse port list %q: %w", s, err)
			}
			if b < a {
				return PortSet{}, fmt.Errorf("parse port list %q: range %q is reversed", s, item)
			}
		}
		ps.AddRange(a, b)
	}
	return ps, nil
}

// MustParsePorts is ParsePorts for constant lists; it panics on error.
func MustParsePorts(s string) PortSet {
	ps, err := ParsePorts(s)
	if err != nil {
		panic(err)
	}
	return ps
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

// AddRange adds the ports lo through hi inclusive.
func (p *PortSet) AddRange(lo, hi uint16) {
	if p.bits == nil {
		p.bits = new([1024]uint64)
	}
	for i := uint32(lo); i <= uint32(hi); i++ {
		p.bits[i>>6] |= 1 << (i & 63)
	}
}

// Has reports whether port is in the set.
func (p PortSet) Has(port uint16) bool {
	return p.bits != nil && p.bits[port>>6]&(1<<(port&63)) != 0
}

// Empty reports whether the set holds no port.
func (p PortSet) Empty() bool {
	if p.bits == nil {
		return true
	}
	for _, w := range p.bits {
		if w != 0 {
			return false
		}
	}
	return true
}

// String formats the set in the syntax ParsePorts reads, ranges collapsed.
func (p PortSet) String() string {
	var sb strings.Builder
	for i := 0; i < 65536; i++ {
		if !p.Has(uint16(i)) {
			continue
		}
		j := i
		for j+1 < 65536 && p.Has(uint16(j+1)) {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(i))
		if j > i {
			sb.WriteByte('-')
			sb.WriteString(strconv.Itoa(j))
		}
		i = j
	}
	return sb.String()
}
