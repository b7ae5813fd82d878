package alias

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLookup(t *testing.T) {
	m, err := Parse([]string{
		"10.1.0.0/16=carrier-a", "10.1.2.0/24=carrier-a-sbc", "192.0.2.7=pbx-1",
		" 2001:db8::/32 = carrier-b ", "2001:db8:1::5=pbx-1", "::ffff:198.51.100.0/120=mapped",
	})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"10.1.9.9":         "carrier-a",
		"10.1.2.3":         "carrier-a-sbc", // longest prefix wins
		"::ffff:10.1.2.3":  "carrier-a-sbc", // IPv4-mapped looked up as IPv4
		"192.0.2.7":        "pbx-1",
		"192.0.2.8":        "",
		"2001:db8:ffff::1": "carrier-b",
		"2001:db8:1::5":    "pbx-1",
		"198.51.100.77":    "mapped",
		"10.2.0.1":         "",
		"fe80::1":          "",
	} {
		got, ok := m.Lookup(netip.MustParseAddr(addr))
		if got != want || ok != (want != "") {
			t.Errorf("Lookup(%s) = %q, %v; want %q", addr, got, ok, want)
		}
	}
	if diff := cmp.Diff([]string{"carrier-a", "carrier-a-sbc", "pbx-1", "carrier-b", "mapped"}, m.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	var empty *Map
	if n, ok := empty.Lookup(netip.MustParseAddr("10.0.0.1")); ok || n != "" {
		t.Errorf("nil map found %q", n)
	}
	if allocs := testing.AllocsPerRun(100, func() { m.Lookup(netip.MustParseAddr("10.1.2.3")) }); allocs != 0 {
		t.Errorf("Lookup allocates %v times", allocs)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"10.0.0.0/8", "10.0.0.0/33=x", "nonsense=x", "10.0.0.1=", "10.0.0.1=has space",
		"10.0.0.1=" + string(make([]byte, 65)), "::ffff:0:0/64=x",
	} {
		if _, err := Parse([]string{in}); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
	if _, err := Parse([]string{"10.0.0.0/8=a", "10.1.0.0/8=b"}); err == nil {
		t.Error("the same prefix (after masking) twice was accepted")
	}
}

func TestLookupPort(t *testing.T) {
	m, err := Parse([]string{
		"10.0.0.0/8=net", "10.0.0.1=host", "10.0.0.1:5080=trunk-a", "10.0.0.1:5060=trunk-b",
		"10.1.0.0/24:5060=sbc-pool", "10.1.0.7/32:5060=sbc-7",
		"2001:db8::/32=v6net", "[2001:db8::1]:5060=v6-sbc", "[2001:db8:1::/48]:5070=v6-pool",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr string
		port uint16
		want string
	}{
		{"10.0.0.1", 5080, "trunk-a"},
		{"10.0.0.1", 5060, "trunk-b"},
		{"10.0.0.1", 5061, "host"}, // no port entry: the port-less one
		{"10.0.0.1", 0, "host"},    // unknown port: port-less only
		{"10.0.0.2", 5080, "net"},
		{"10.1.0.9", 5060, "sbc-pool"}, // a port entry beats the port-less /8
		{"10.1.0.7", 5060, "sbc-7"},    // among port entries the longest prefix wins
		{"10.1.0.9", 5061, "net"},      // other port: port-less
		{"::ffff:10.0.0.1", 5080, "trunk-a"},
		{"2001:db8::1", 5060, "v6-sbc"},
		{"2001:db8::1", 5061, "v6net"},
		{"2001:db8:1::9", 5070, "v6-pool"},
		{"2001:db8:1::9", 0, "v6net"},
		{"192.0.2.1", 5060, ""},
	} {
		got, ok := m.LookupPort(netip.MustParseAddr(c.addr), c.port)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("LookupPort(%s, %d) = %q, %v; want %q", c.addr, c.port, got, ok, c.want)
		}
	}
	// A port entry wins over a longer port-less prefix.
	m2, err := Parse([]string{"10.1.0.0/16:5060=pool", "10.1.2.3=host"})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := m2.LookupPort(netip.MustParseAddr("10.1.2.3"), 5060); n != "pool" {
		t.Errorf("port entry did not win over the longer port-less one: %q", n)
	}
	if !m.HasPorts() || m2.Len() != 2 {
		t.Errorf("HasPorts %v, Len %d", m.HasPorts(), m2.Len())
	}
	var got []string
	for _, e := range m.Entries("trunk-a") {
		got = append(got, e.String())
	}
	for _, e := range m.Entries("v6-sbc") {
		got = append(got, e.String())
	}
	for _, e := range m.Entries("sbc-pool") {
		got = append(got, e.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.1:5080", "[2001:db8::1]:5060", "10.1.0.0/24:5060"}, got); diff != "" {
		t.Errorf("Entries (-want +got):\n%s", diff)
	}
	a := netip.MustParseAddr("10.1.0.7")
	if allocs := testing.AllocsPerRun(100, func() { m.LookupPort(a, 5060); m.LookupPort(a, 5999) }); allocs != 0 {
		t.Errorf("LookupPort allocates %v times", allocs)
	}
}

func TestParsePortErrors(t *testing.T) {
	for _, in := range []string{
		"10.0.0.1:=x", "10.0.0.1:0=x", "10.0.0.1:65536=x", "10.0.0.1:50a=x", "10.0.0.1:-1=x",
		"[2001:db8::1]=x", "[2001:db8::1]5060=x", "[2001:db8::1:5060=x", "[10.0.0.1]:5060=x",
		"[2001:db8::1]:=x", "[2001:db8::1]:99999=x", "10.0.0.0/33:5060=x",
	} {
		if _, err := Parse([]string{in}); err == nil {
			t.Errorf("Parse(%q) accepted", in)
		}
	}
	if _, err := Parse([]string{"10.0.0.1:5060=a", "10.0.0.1/32:5060=b"}); err == nil {
		t.Error("the same prefix and port twice was accepted")
	}
	if _, err := Parse([]string{"10.0.0.1:5060=a", "10.0.0.1:5061=b", "10.0.0.1=c"}); err != nil {
		t.Errorf("one address with two ports and none: %v", err)
	}
}
