package bpf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadPorts is returned (wrapped) by [ParsePorts] for a malformed port
// list.
var ErrBadPorts = errors.New("bad port list")

// PortRange is an inclusive range of ports; a single port has Lo == Hi.
type PortRange struct {
	Lo, Hi uint16
}

// PortSet is a set of L4 ports (a 65536-bit bitmap): the one port-list type
// of the kernel filter ([Rules]), the classic BPF of AF_PACKET mode and the
// agent's decoder. Lookups are a shift and a mask; a PortSet is read-only
// once built and may be shared.
//
// The zero PortSet is unset: [Load] and the decoder take the default
// ports for it ([Rules.WithDefaults]). A set that was parsed or built,
// even from the empty list, is set, and an empty set matches nothing.
type PortSet struct {
	bits *[1024]uint64
}

// ParsePorts parses a comma-separated list of ports and inclusive ranges,
// e.g. "5060-5090,5260". Spaces around items are ignored. The empty (or
// blank) string is the set, empty, of no ports. An empty item ("5060,",
// "5060,,5080") is an error, as are port 0, ports above 65535 and reversed
// ranges: a list is most often written by hand or by a template, and an
// empty item there is a mistake, not a request for nothing.
func ParsePorts(s string) (PortSet, error) {
	ps := PortSet{bits: new([1024]uint64)}
	if strings.TrimSpace(s) == "" {
		return ps, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return PortSet{}, fmt.Errorf("%w %q: empty item", ErrBadPorts, s)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := parsePort(lo)
		if err != nil {
			return PortSet{}, fmt.Errorf("%w %q: %w", ErrBadPorts, s, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return PortSet{}, fmt.Errorf("%w %q: %w", ErrBadPorts, s, err)
			}
			if b < a {
				return PortSet{}, fmt.Errorf("%w %q: range %q ends before it starts", ErrBadPorts, s, item)
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

// AddRange adds the ports lo through hi inclusive (and makes the set set).
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

// IsSet reports whether the set was parsed or built (see [PortSet]).
func (p PortSet) IsSet() bool { return p.bits != nil }

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

// Ranges returns the set as sorted, disjoint, non-adjacent ranges.
func (p PortSet) Ranges() []PortRange {
	var out []PortRange
	if p.bits == nil {
		return nil
	}
	for i := 0; i < 65536; i++ {
		if !p.Has(uint16(i)) {
			continue
		}
		j := i
		for j+1 < 65536 && p.Has(uint16(j+1)) {
			j++
		}
		out = append(out, PortRange{uint16(i), uint16(j)})
		i = j
	}
	return out
}

// String formats the set in the syntax ParsePorts reads, ranges collapsed.
func (p PortSet) String() string {
	var sb strings.Builder
	for _, r := range p.Ranges() {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(int(r.Lo)))
		if r.Hi > r.Lo {
			sb.WriteByte('-')
			sb.WriteString(strconv.Itoa(int(r.Hi)))
		}
	}
	return sb.String()
}
