package bpf

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParsePorts is the one port-list syntax: the kernel filter, the
// classic BPF and the agent's decoder all read their lists with it. Before
// there were two parsers, and the decoder's skipped empty items that the
// filter's refused; an empty item is now an error everywhere.
func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		ranges  []PortRange
		wantErr bool
	}{
		{"5060", "5060", []PortRange{{5060, 5060}}, false},
		{"5060-5090,5260", "5060-5090,5260", []PortRange{{5060, 5090}, {5260, 5260}}, false},
		{"5060-5090, 5260", "5060-5090,5260", []PortRange{{5060, 5090}, {5260, 5260}}, false},
		{" 53 , 5353 ", "53,5353", []PortRange{{53, 53}, {5353, 5353}}, false},
		{"1,2,3,5", "1-3,5", []PortRange{{1, 3}, {5, 5}}, false},
		{"5080-5090,5060-5085", "5060-5090", []PortRange{{5060, 5090}}, false}, // overlaps merge
		{"65535", "65535", []PortRange{{65535, 65535}}, false},
		{"1-65535", "1-65535", []PortRange{{1, 65535}}, false},
		{"", "", nil, false},
		{"  ", "", nil, false},
		{"0", "", nil, true},
		{"65536", "", nil, true},
		{"70000", "", nil, true},
		{"10-5", "", nil, true},
		{"5090-5060", "", nil, true},
		{"a", "", nil, true},
		{"a-b", "", nil, true},
		{"5060-", "", nil, true},
		{"-5060", "", nil, true},
		{"5060,", "", nil, true},
		{",5060", "", nil, true},
		{"5060,,5080", "", nil, true},
		{"5060, ,5080", "", nil, true},
	}
	for _, tt := range tests {
		ps, err := ParsePorts(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParsePorts(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadPorts) {
				t.Errorf("ParsePorts(%q) error %v is not ErrBadPorts", tt.in, err)
			}
			if ps.IsSet() {
				t.Errorf("ParsePorts(%q) failed but returned a set set", tt.in)
			}
			continue
		}
		if got := ps.String(); got != tt.want {
			t.Errorf("ParsePorts(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if diff := cmp.Diff(tt.ranges, ps.Ranges()); diff != "" {
			t.Errorf("ParsePorts(%q).Ranges() (-want +got):\n%s", tt.in, diff)
		}
		if !ps.IsSet() {
			t.Errorf("ParsePorts(%q) is unset; a parsed list, even empty, is set", tt.in)
		}
	}
	ps := MustParsePorts("5060-5061")
	if !ps.Has(5060) || !ps.Has(5061) || ps.Has(5062) || ps.Has(0) || ps.Empty() {
		t.Errorf("Has/Empty wrong for %v", ps)
	}
	var zero PortSet
	if zero.Has(5060) || !zero.Empty() || zero.IsSet() {
		t.Errorf("zero PortSet not empty and unset")
	}
}

// TestRulesDefaults: unset port sets take the one default; an explicitly
// empty list stays empty (before, --sip-ports "" meant 5060-5061 to the
// kernel filter and no SIP port to the decoder).
func TestRulesDefaults(t *testing.T) {
	str := func(r Rules) [2]string { return [2]string{r.SIPPorts.String(), r.DNSPorts.String()} }
	if got, want := str(Rules{}.WithDefaults()), [2]string{DefaultSIPPorts, DefaultDNSPorts}; got != want {
		t.Errorf("zero Rules with defaults = %q, want %q", got, want)
	}
	if got, want := str(DefaultRules()), [2]string{DefaultSIPPorts, DefaultDNSPorts}; got != want {
		t.Errorf("DefaultRules = %q, want %q", got, want)
	}
	if r := DefaultRules(); !r.SIPByContent || !r.RTCP {
		t.Errorf("DefaultRules: SIPByContent %v RTCP %v, want both on", r.SIPByContent, r.RTCP)
	}
	empty := Rules{SIPPorts: MustParsePorts(""), DNSPorts: MustParsePorts("")}.WithDefaults()
	if got := str(empty); got != [2]string{"", ""} {
		t.Errorf("explicitly empty Rules with defaults = %q, want none", got)
	}
	if r := (Rules{}).WithDefaults(); r.VXLANPort != DefaultVXLANPort {
		t.Errorf("zero Rules' VXLAN port with defaults = %d, want %d", r.VXLANPort, DefaultVXLANPort)
	}
	if r := (Rules{VXLANPort: 8472}).WithDefaults(); r.VXLANPort != 8472 {
		t.Errorf("VXLAN port 8472 with defaults = %d", r.VXLANPort)
	}
	var c Config
	c.setDefaults()
	if got := str(c.Rules); got != [2]string{DefaultSIPPorts, DefaultDNSPorts} {
		t.Errorf("zero Config's ports = %q, want the defaults", got)
	}
}
