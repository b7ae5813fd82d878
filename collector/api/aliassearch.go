package api

// Search by alias: an alias name (--alias, or stored by an admin) finds
// the messages from, to or from-or-to the addresses and subnets it names,
// on its port where the alias entry has one.

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/xhep/xhep/collector/alias"
)

// aliasParams are the alias search parameters and the address columns
// each tests.
var aliasParams = []struct {
	param string
	cols  []string
}{
	{"src_alias", []string{"src_ip"}},
	{"dst_alias", []string{"dst_ip"}},
	{"alias", []string{"src_ip", "dst_ip"}},
}

// maxAliasPatterns bounds the patterns one alias search expands to.
const maxAliasPatterns = 2048

// hexSuffix marks the pseudo-column of an address column that holds the
// address as 32 hex digits (IPv6 only; see mysqlCol and chCol).
const hexSuffix = "_hex"

// portCol is the port column of each address column.
var portCol = map[string]string{"src_ip": "src_port", "dst_ip": "dst_port"}

// aliasFilters adds a filter per alias parameter of q to s: the address
// patterns of the alias's port-less entries on its columns, OR for each
// entry with a port its address patterns on a column AND that column's
// port (src_ip with src_port, dst_ip with dst_port).
func (a *API) aliasFilters(ctx context.Context, q url.Values, s *search) error {
	var am interface {
		Entries(string) []alias.Entry
		Names() []string
	}
	for _, ap := range aliasParams {
		name := q.Get(ap.param)
		if name == "" {
			continue
		}
		if am == nil {
			m, err := a.aliasMap(ctx)
			if err != nil {
				return err
			}
			am = m
		}
		entries := am.Entries(name)
		if len(entries) == 0 {
			names := am.Names()
			if len(names) > 20 {
				names = append(names[:20], "…")
			}
			return errBad("%s: no alias is named %q (aliases: %s)", ap.param, name, strings.Join(names, ", "))
		}
		// Patterns by port (0: port-less), ports in first-seen order.
		byPort := map[uint16][2][]string{}
		var ports []uint16
		n := 0
		for _, e := range entries {
			t, h := prefixPatterns(e.Prefix)
			pp, seen := byPort[e.Port]
			if !seen {
				ports = append(ports, e.Port)
			}
			byPort[e.Port] = [2][]string{append(pp[0], t...), append(pp[1], h...)}
			n += len(t) + len(h)
		}
		if n > maxAliasPatterns {
			return errBad("%s: alias %q covers too many address ranges (%d patterns, at most %d): search by a narrower alias or src_ip/dst_ip", ap.param, name, n, maxAliasPatterns)
		}
		var groups [][]filter
		for _, port := range ports {
			pp := byPort[port]
			if port == 0 {
				groups = append(groups, []filter{addrFilter(ap.cols, pp[0], pp[1])})
				continue
			}
			for _, c := range ap.cols {
				groups = append(groups, []filter{addrFilter([]string{c}, pp[0], pp[1]), {col: portCol[c], op: "=", args: []any{int(port)}}})
			}
		}
		if len(groups) == 1 && len(groups[0]) == 1 {
			s.filters = append(s.filters, groups[0][0])
		} else {
			s.filters = append(s.filters, filter{anyOf: groups})
		}
	}
	return nil
}

// addrFilter is a LIKE filter of the text and hex address patterns on
// cols (and their hex pseudo-columns when there are hex patterns).
func addrFilter(cols []string, text, hx []string) filter {
	f := filter{op: "LIKE", cols: cols}
	if len(hx) > 0 {
		// A text pattern never matches the hex form nor a hex pattern
		// the text form ('.' or ':' against hex digits), so one list
		// serves both.
		f.cols = slices.Clone(cols)
		for _, c := range cols {
			f.cols = append(f.cols, c+hexSuffix)
		}
	}
	for _, p := range append(text, hx...) {
		f.args = append(f.args, p)
	}
	return f
}

// prefixPatterns returns LIKE patterns matching exactly the addresses of
// p: on the address text for IPv4 (the prefix widened to whole octets,
// "10.1.16.%" … "10.1.31.%" for 10.1.16.0/20, at most 128 patterns; exact
// addresses from /25 on) and for IPv6 prefixes of /120 and longer (at most
// 256 exact addresses, in netip's canonical text, as the dissector stores
// them); on the 32 hex digits of the address for shorter IPv6 prefixes
// (widened to whole nibbles, at most 8 patterns). Text patterns of whole
// octets and exact addresses are index range scans on MySQL/MariaDB; hex
// patterns are computed per row.
func prefixPatterns(p netip.Prefix) (text, hx []string) {
	p = p.Masked()
	b := p.Bits()
	if p.Addr().Is4() {
		k := (b + 7) / 8 * 8
		base := p.Addr().As4()
		v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
		for i := range uint32(1) << (k - b) {
			w := v
			if k > 0 {
				w |= i << (32 - k)
			}
			o := []uint32{w >> 24, w >> 16 & 255, w >> 8 & 255, w & 255}
			switch k {
			case 32:
				text = append(text, fmt.Sprintf("%d.%d.%d.%d", o[0], o[1], o[2], o[3]))
			case 24:
				text = append(text, fmt.Sprintf("%d.%d.%d.%%", o[0], o[1], o[2]))
			case 16:
				text = append(text, fmt.Sprintf("%d.%d.%%", o[0], o[1]))
			case 8:
				text = append(text, fmt.Sprintf("%d.%%", o[0]))
			default:
				text = append(text, "%.%")
			}
		}
		return text, nil
	}
	a16 := p.Addr().As16()
	if b >= 120 {
		for i := range 1 << (128 - b) {
			x := a16
			x[15] |= byte(i)
			text = append(text, netip.AddrFrom16(x).String())
		}
		return text, nil
	}
	k := (b + 3) / 4 * 4
	digits := strings.ToUpper(hex.EncodeToString(a16[:]))
	for i := range 1 << (k - b) {
		// The nibble k/4-1 holds the free low bits.
		n := k / 4
		if n == 0 {
			hx = append(hx, "%")
			break
		}
		last := digits[n-1] - '0'
		if last > 9 {
			last = digits[n-1] - 'A' + 10
		}
		hx = append(hx, digits[:n-1]+strings.ToUpper(fmt.Sprintf("%x", int(last)|i))+"%")
	}
	return nil, hx
}
