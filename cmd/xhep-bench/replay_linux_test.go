package main

import (
	"io"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReplayFlags(t *testing.T) {
	c, err := parseReplayFlags([]string{"--read", "x.pcap", "--iface", "a", "--peer", "b", "--peer-netns", "ns", "--local", "10.0.0.0/24, fd00::/64", "--pps", "500"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}
	if diff := cmp.Diff(want, c.local, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("local (-want +got):\n%s", diff)
	}
	if c.pps != 500 || c.peerNetns != "ns" {
		t.Errorf("got %+v", c)
	}
	for _, bad := range [][]string{
		{"--iface", "a", "--peer", "b", "--local", "10.0.0.0/8"},
		{"--read", "x", "--iface", "a", "--peer", "b", "--local", "nonsense"},
		{"--read", "x", "--iface", "a", "--peer", "b", "--local", "10.0.0.0/8", "--pps", "-1"},
	} {
		if _, err := parseReplayFlags(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestSrcAddr(t *testing.T) {
	eth := func(et ...byte) []byte { return append(make([]byte, 12), et...) }
	v4 := append(eth(0x08, 0x00), make([]byte, 20)...)
	copy(v4[14+12:], []byte{10, 0, 0, 10})
	qinq := append(eth(0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00), make([]byte, 20)...)
	copy(qinq[22+12:], []byte{10, 1, 2, 3})
	v6 := append(eth(0x86, 0xdd), make([]byte, 40)...)
	v6[14+8], v6[14+9], v6[14+23] = 0xfd, 0x00, 0x10
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"ipv4", v4, "10.0.0.10"},
		{"qinq", qinq, "10.1.2.3"},
		{"ipv6", v6, "fd00::10"},
		{"arp", eth(0x08, 0x06), ""},
		{"truncated", v4[:20], ""},
	} {
		got, ok := srcAddr(tc.b)
		if (tc.want == "") == ok || (ok && got.String() != tc.want) {
			t.Errorf("%s: got %v %v, want %q", tc.name, got, ok, tc.want)
		}
	}
}
