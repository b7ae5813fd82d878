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
