package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestMain lets the live run re-execute the test binary as its agent.
func TestMain(m *testing.M) {
	if os.Getenv(LiveChildEnv) != "" {
		os.Exit(LiveChildMain(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRunQuickMicro runs `--quick --only micro` end to end: every micro
// figure is either measured or skipped with a reason (BPF needs root).
func TestRunQuickMicro(t *testing.T) {
	var log bytes.Buffer
	rep, err := Run(context.Background(), Options{Quick: true, Only: []string{"micro"}, WorkDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, log.String())
	}
	want := []string{"HEP3 encode", "HEP3 decode", "SIP dissect", "HEP decode + SIP dissect", "agent decode", "in-kernel filter"}
	for _, w := range want {
		found := false
		for _, r := range rep.Results {
			if !strings.HasPrefix(r.Name, w) {
				continue
			}
			found = true
			if r.Section != "micro" {
				t.Errorf("%s: section %q", r.Name, r.Section)
			}
			if r.Skipped == "" && r.Unit == "" {
				t.Errorf("%s: no unit", r.Name)
			}
			if r.Skipped == "" && strings.HasSuffix(r.Unit, "ns/op") && r.Value <= 0 {
				t.Errorf("%s: %v ns/op", r.Name, r.Value)
			}
		}
		if !found {
			t.Errorf("no figure named %q", w)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "### micro") || !strings.Contains(md.String(), "cores") {
		t.Errorf("table lacks its section or machine line:\n%s", md.String())
	}
	t.Logf("\n%s", md.String())
}

func TestRunBadSection(t *testing.T) {
	_, err := Run(context.Background(), Options{Only: []string{"nope"}, WorkDir: t.TempDir()})
	if !errors.Is(err, ErrSection) {
		t.Errorf("err = %v, want ErrSection", err)
	}
}

// TestRunNoDatabase: without a DSN the database figures are skipped with
// the reason, nothing else happens.
func TestRunNoDatabase(t *testing.T) {
	s := &suite{opt: Options{Quick: true, WorkDir: t.TempDir()}, ctx: context.Background(), log: &bytes.Buffer{}}
	s.storeRows()
	s.e2e()
	if len(s.results) != 2 {
		t.Fatalf("results = %+v", s.results)
	}
	for _, r := range s.results {
		if !strings.Contains(r.Skipped, "no database") {
			t.Errorf("%s: skipped %q", r.Name, r.Skipped)
		}
	}
}
