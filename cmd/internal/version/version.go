// Package version tells what a binary is: its release version, the commit
// it was built from, the Go toolchain and, for binaries that carry BPF
// programs, the SHA-256 of the BPF objects. `make build` and `make
// package` set the values with -ldflags -X; a plain `go build` in a
// checkout still gets the commit from the Go build information.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the linker: -X github.com/xhep/xhep/cmd/internal/version.version=...
var (
	version = "dev"
	commit  = ""
	bpfHash = ""
)

// Info is what --version prints.
type Info struct {
	Version   string // release version, "dev" when not set
	Commit    string // git commit, with "-dirty" for a modified tree; "unknown" outside a checkout
	GoVersion string
	Platform  string // GOOS/GOARCH
	BPFHash   string // sha256 of the embedded BPF objects; "unknown" when not built by make
}

// Get returns the binary's Info.
func Get() Info {
	i := Info{Version: version, Commit: commit, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, BPFHash: bpfHash}
	if i.Commit == "" {
		i.Commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			var rev, dirty string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						dirty = "-dirty"
					}
				}
			}
			if rev != "" {
				i.Commit = rev + dirty
			}
		}
	}
	if i.BPFHash == "" {
		i.BPFHash = "unknown (not built by make)"
	}
	return i
}

// String is the --version text of program prog; withBPF adds the BPF
// object hash (for the binaries that load BPF programs).
func String(prog string, withBPF bool) string {
	i := Get()
	s := fmt.Sprintf("%s %s\ncommit: %s\ngo: %s %s\n", prog, i.Version, i.Commit, i.GoVersion, i.Platform)
	if withBPF {
		h := i.BPFHash
		if !strings.HasPrefix(h, "unknown") {
			h = "sha256:" + strings.TrimPrefix(h, "sha256:")
		}
		s += "bpf objects: " + h + "\n"
	}
	return s
}

// Requested reports whether args ask for the version: --version or
// -version among the flags (before a "--").
func Requested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--version", "-version":
			return true
		}
	}
	return false
}
