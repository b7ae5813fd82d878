package main

import (
	"github.com/xhep/xhep/bench"

	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSuiteFlags(t *testing.T) {
	env := func(dsn string) func(string) string {
		return func(k string) string {
			if k == "XHEP_TEST_DSN" {
				return dsn
			}
			return ""
		}
	}
	for _, c := range []struct {
		name    string
		args    []string
		env     string
		want    suiteConfig
		wantErr string
	}{
		{name: "defaults", want: suiteConfig{}},
		{name: "dsn from env", env: "u:p@tcp(127.0.0.1:33306)/", want: suiteConfig{MySQL: "u:p@tcp(127.0.0.1:33306)/"}},
		{name: "flag wins over env", args: []string{"--mysql", "a@tcp(h:1)/"}, env: "b@tcp(h:2)/", want: suiteConfig{MySQL: "a@tcp(h:1)/"}},
		{name: "all", args: []string{"--quick", "--json", "--only", "micro, e2e", "--out", "r.md", "--workdir", "/tmp/w", "--quiet"},
			want: suiteConfig{Quick: true, JSON: true, Only: []string{"micro", "e2e"}, Out: "r.md", Work: "/tmp/w", Quiet: true}},
		{name: "peers", args: []string{"--peer", "heplify=/opt/heplify", "--peer", "heplify=/usr/bin/heplify"},
			want: suiteConfig{Peers: []bench.Peer{{Name: "heplify", Path: "/opt/heplify"}, {Name: "heplify", Path: "/usr/bin/heplify"}}}},
		{name: "query scale", args: []string{"--query-rows", "10000000", "--query-backends", "clickhouse"},
			want: suiteConfig{QueryRows: 10_000_000, QueryBackends: []string{"clickhouse"}}},
		{name: "query backend unknown", args: []string{"--query-backends", "postgres"}, wantErr: `unknown backend "postgres"`},
		{name: "query rows negative", args: []string{"--query-rows", "-1"}, wantErr: "negative"},
		{name: "unknown peer", args: []string{"--peer", "sngrep=/usr/bin/sngrep"}, wantErr: `unknown peer "sngrep"`},
		{name: "peer without path", args: []string{"--peer", "heplify"}, wantErr: "want NAME=PATH"},
		{name: "unknown section", args: []string{"--only", "micro,disk"}, wantErr: `unknown section "disk"`},
		{name: "stray argument", args: []string{"--quick", "extra"}, wantErr: `unexpected argument "extra"`},
		{name: "unknown flag", args: []string{"--fast"}, wantErr: "not defined"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseSuiteFlags(c.args, env(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSuiteHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "--only") {
		t.Errorf("help lacks --only:\n%s", out.String())
	}
	if code := run([]string{"--only", "nope"}, &out, &errb); code != 2 {
		t.Errorf("bad section: exit %d, want 2", code)
	}
}

// TestVersionFlag: --version prints the bench's name and build, exit 0.
func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Errorf("run(%q) = %d, want 0 (stderr %q)", args, code, errOut.String())
		}
		if s := out.String(); !strings.HasPrefix(s, "xhep-bench ") || !strings.Contains(s, "commit:") {
			t.Errorf("run(%q) printed %q", args, s)
		}
	}
}
