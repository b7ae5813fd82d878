package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite grafana/dashboards/*.json from Dashboards()")

// TestDashboardFiles checks that the committed dashboards are what
// Dashboards renders (go test ./deploy -run TestDashboardFiles -update
// rewrites them) and that they are sound: unique uids and panel ids, every
// panel with a query, every variable used only where declared.
func TestDashboardFiles(t *testing.T) {
	seen := map[string]bool{}
	files := map[string]bool{}
	for _, d := range Dashboards() {
		if seen[d.UID] {
			t.Errorf("uid %s twice", d.UID)
		}
		seen[d.UID] = true
		b, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("grafana", "dashboards", d.File)
		files[d.File] = true
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./deploy -run TestDashboardFiles -update)", err)
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s is stale: run go test ./deploy -run TestDashboardFiles -update", path)
		}
		vars := map[string]bool{"$__rate_interval": true, "$__range": true}
		for _, v := range d.Vars {
			vars["$"+v.Name] = true
		}
		if len(d.Panels) == 0 {
			t.Errorf("%s has no panels", d.UID)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 || p.Title == "" || p.Description == "" || p.Unit == "" {
				t.Errorf("%s: panel %q lacks a query, title, description or unit", d.UID, p.Title)
			}
			for _, tg := range p.Targets {
				for _, w := range strings.FieldsFunc(tg.Expr, func(r rune) bool { return !(r == '$' || r == '_' || r >= 'a' && r <= 'z') }) {
					if strings.HasPrefix(w, "$") && !vars[w] {
						t.Errorf("%s: panel %q uses %s, not a variable of the dashboard", d.UID, p.Title, w)
					}
				}
			}
		}
	}
	// No stray dashboards in the folder the provisioning reads.
	ents, err := os.ReadDir(filepath.Join("grafana", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !files[e.Name()] {
			t.Errorf("grafana/dashboards/%s is not rendered by Dashboards()", e.Name())
		}
	}
}

// grafanaFile is what the tests read back from a dashboard file.
type grafanaFile struct {
	UID    string `json:"uid"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// readDashboards parses the dashboard JSON files in dir.
func readDashboards(t *testing.T, dir string) []grafanaFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no dashboards in %s: %v", dir, err)
	}
	var out []grafanaFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var g grafanaFile
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, g)
	}
	return out
}

func TestDashboardJSON(t *testing.T) {
	ds := readDashboards(t, filepath.Join("grafana", "dashboards"))
	if len(ds) != 5 {
		t.Errorf("%d dashboards, want 5 (SIP, registrations, RTCP, capture, collector)", len(ds))
	}
	for _, d := range ds {
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d twice", d.UID, p.ID)
			}
			ids[p.ID] = true
		}
	}
}

// promtool returns promtool's path or skips.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: apt-get install prometheus (scripts/deps.sh does)")
	}
	return p
}

// TestRules checks the alert and recording rules and runs their unit tests.
func TestRules(t *testing.T) {
	pt := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "xhep-rules.yml"},
		{"test", "rules", "xhep-rules.test.yml"},
		{"check", "config", "--syntax-only", "prometheus.yml"},
	} {
		cmd := exec.Command(pt, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestUnits checks the systemd units with systemd-analyze verify. The
// copies checked here run a stand-in binary from a temporary directory
// (verify wants ExecStart to exist); the package test verifies the
// installed units as they are.
func TestUnits(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (package systemd)")
	}
	dir := t.TempDir()
	var units []string
	for _, u := range []string{"xhep-agent", "xhep-collector"} {
		bin := filepath.Join(dir, u)
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("systemd", u+".service"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("ExecStart=/usr/bin/"+u+" ")) {
			t.Fatalf("%s.service does not run /usr/bin/%s", u, u)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/bin/"+u), []byte(bin))
		path := filepath.Join(dir, u+".service")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, path)
	}
	verifyUnits(t, sa, units...)

	// The check can fail: an unknown directive is reported.
	bad := filepath.Join(dir, "xhep-bad.service")
	os.WriteFile(bad, []byte("[Service]\nExecStart="+filepath.Join(dir, "xhep-agent")+"\nProtectEverything=yes\n"), 0o644)
	out, _ := exec.Command(sa, "verify", bad).CombinedOutput()
	if !strings.Contains(string(out), "ProtectEverything") {
		t.Errorf("systemd-analyze verify did not report an unknown key:\n%s", out)
	}
}

// verifyUnits runs systemd-analyze verify and fails on any complaint.
func verifyUnits(t *testing.T, sa string, args ...string) {
	t.Helper()
	out, err := exec.Command(sa, append([]string{"verify"}, args...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
