package collector

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportLayers pins the package graph of DESIGN.md and the one
// sideways edge --read added: cmd → bench → agent/collector → bpf/hep.
// Nothing climbs (hep and bpf import neither agent nor collector, agent
// imports no collector, no package imports cmd or bench but those above
// them), and of agent/ the collector imports only the capture-file reader
// and the decoder (agent/source, agent/packet). Test files are not
// counted (agent's end-to-end tests run a collector).
func TestImportLayers(t *testing.T) {
	const mod = "github.com/xhep/xhep/"
	top := func(p string) string { return strings.SplitN(p, "/", 2)[0] }
	allowed := func(from, to string) bool {
		ft, tt := top(from), top(to)
		switch {
		case ft == tt:
			return true
		case tt == "cmd":
			return false
		case tt == "bench":
			return ft == "cmd"
		case tt == "agent":
			switch ft {
			case "cmd", "bench":
				return true
			case "collector":
				return to == "agent/packet" || to == "agent/source"
			}
			return false
		case tt == "collector":
			return ft == "cmd" || ft == "bench"
		}
		return true // bpf, hep: anyone (they import no agent/collector: checked by the cases above)
	}
	root := ".."
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		from := filepath.ToSlash(rel)
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if !strings.HasPrefix(p, mod) {
				continue
			}
			n++
			if to := strings.TrimPrefix(p, mod); !allowed(from, to) {
				t.Errorf("%s imports %s: against the layers", path, to)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("only %d module imports found: not the repository root?", n)
	}
}
