package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/bench/gen"
)

func TestParseGenFlags(t *testing.T) {
	def := gen.DefaultConfig()
	def.CountsOnly = true
	with := func(f func(*gen.Config)) gen.Config {
		c := def
		f(&c)
		return c
	}
	for _, c := range []struct {
		name    string
		args    []string
		want    gen.Config
		out     string
		wantErr string
	}{
		{name: "defaults", args: []string{"--out", "x.pcap"}, want: def, out: "x.pcap"},
		{name: "everything", args: []string{"--out=y.pcap", "--calls", "1000", "--registrations", "7", "--options", "3",
			"--seed", "42", "--rtp", "5", "--ipv6", "--tcp", "--vlan", "100,200", "--fragment", "576", "--rate", "5000",
			"--no-rtcp", "--no-dns", "--start", "2025-06-01T12:00:00+02:00"},
			want: with(func(c *gen.Config) {
				c.Calls, c.Registrations, c.Options, c.Seed, c.RTP = 1000, 7, 3, 42, 5
				c.IPv6, c.TCP, c.VLAN, c.FragmentMTU, c.Rate = true, true, []uint16{100, 200}, 576, 5000
				c.RTCP, c.DNS = false, false
				c.Start = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
			}), out: "y.pcap"},
		{name: "single dash, one tag", args: []string{"-out", "-", "-vlan", "42"},
			want: with(func(c *gen.Config) { c.VLAN = []uint16{42} }), out: "-"},
		{name: "no out", args: []string{"--calls", "5"}, wantErr: "--out FILE is required"},
		{name: "bad vlan", args: []string{"--out", "x", "--vlan", "a"}, wantErr: `--vlan "a"`},
		{name: "vlan out of range", args: []string{"--out", "x", "--vlan", "4095"}, wantErr: "VLAN ID 4095"},
		{name: "three tags", args: []string{"--out", "x", "--vlan", "1,2,3"}, wantErr: "3 VLAN tags"},
		{name: "small mtu", args: []string{"--out", "x", "--fragment", "60"}, wantErr: "fragment MTU 60"},
		{name: "negative calls", args: []string{"--out", "x", "--calls", "-1"}, wantErr: "negative count"},
		{name: "zero rate", args: []string{"--out", "x", "--rate", "-1"}, wantErr: "rate"},
		{name: "bad start", args: []string{"--out", "x", "--start", "yesterday"}, wantErr: "--start"},
		{name: "unknown flag", args: []string{"--out", "x", "--frobnicate"}, wantErr: "frobnicate"},
		{name: "stray argument", args: []string{"--out", "x", "extra"}, wantErr: `unexpected argument "extra"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, out, err := parseGenFlags(c.args)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out != c.out {
				t.Errorf("out %q, want %q", out, c.out)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunGen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.pcap")
	var stdout, stderr bytes.Buffer
	if rc := run([]string{"gen", "--calls", "20", "--out", file}, &stdout, &stderr); rc != 0 {
		t.Fatalf("exit %d, stderr %s", rc, stderr.String())
	}
	for _, want := range []string{"wrote " + file, "20 calls", "INVITE", "RTCP", "DNS"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 1000 || !bytes.Equal(b[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Fatalf("%s is not a pcap file (%d bytes)", file, len(b))
	}

	stdout.Reset()
	stderr.Reset()
	if rc := run([]string{"--only", "nope"}, &stdout, &stderr); rc != 2 || !strings.Contains(stderr.String(), "unknown section") {
		t.Fatalf("suite: exit %d, stderr %q", rc, stderr.String())
	}
	if rc := run([]string{"gen", "--help"}, &stdout, &stderr); rc != 0 || !strings.Contains(stdout.String(), "-calls") {
		t.Fatalf("gen --help: exit %d, stdout %q", rc, stdout.String())
	}
	if rc := run([]string{"gen"}, &stdout, &stderr); rc != 2 {
		t.Fatalf("gen without --out: exit %d", rc)
	}
}
