package bpf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadPorts is returned by [ParsePorts] for a malformed port list.
var ErrBadPorts = errors.New("bad port list")

// PortRange is an inclusive range of ports; a single port has Lo == Hi.
type PortRange struct {
	Lo, Hi uint16
}

// ParsePorts parses a comma-separated list of ports and ranges such as
// "5060-5090,5260". An empty string gives no ranges.
func ParsePorts(s string) ([]PortRange, error) {
	var out []PortRange
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parsePort(lo)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadPorts, part, err)
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrBadPorts, part, err)
			}
		}
		if b < a {
			return nil, fmt.Errorf("%w: %q: range ends before it starts", ErrBadPorts, part)
		}
		out = append(out, PortRange{a, b})
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("port 0")
	}
	return uint16(n), nil
}
