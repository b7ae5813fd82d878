package bench

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
)

// Peer is another capture agent's binary: Name says which (PeerKinds),
// Path where it is.
type Peer struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Version is what the binary says of itself (filled by Run).
	Version string `json:"version,omitempty"`
}

// PeerKinds are the agents the suite knows how to drive.
var PeerKinds = []string{"heplify"}

// ErrPeer is returned for a peer the suite cannot drive.
var ErrPeer = errors.New("unknown peer")

// ParsePeer parses NAME=PATH.
func ParsePeer(s string) (Peer, error) {
	name, path, ok := strings.Cut(s, "=")
	if !ok || path == "" {
		return Peer{}, fmt.Errorf("%w %q: want NAME=PATH, NAME one of %v", ErrPeer, s, PeerKinds)
	}
	if !slices.Contains(PeerKinds, name) {
		return Peer{}, fmt.Errorf("%w %q (want one of %v)", ErrPeer, name, PeerKinds)
	}
	return Peer{Name: name, Path: path}, nil
}

// args is the peer's command line: capture SIP on iface, HEP over scheme
// ("udp" or "tcp") to hostport.
func (p Peer) args(iface, scheme, hostport string) []string {
	switch p.Name {
	case "heplify":
		return []string{"-no-config", "-i", iface, "-t", "afpacket", "-m", "SIP", "-pr", "5060-5061",
			"-hs", hostport, "-nt", scheme, "-l", "warn"}
	}
	return nil
}

// replayArgs is the peer's command line for a pcap replay as fast as it
// goes, HEP over scheme to hostport, exiting at the end of the file.
func (p Peer) replayArgs(file, scheme, hostport string) []string {
	switch p.Name {
	case "heplify":
		return []string{"-no-config", "-t", "pcap", "-rf", file, "-rs", "-eof-exit", "-m", "SIP",
			"-hs", hostport, "-nt", scheme, "-l", "warn"}
	}
	return nil
}

// peerVersion asks the binary for its version (first line of -version).
func peerVersion(p Peer) string {
	out, err := exec.Command(p.Path, "-version").CombinedOutput()
	if err != nil && len(out) == 0 {
		return "version unknown: " + err.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// limitedWriter keeps the first n bytes written to it and hands each
// whole line to fwd.
type limitedWriter struct {
	mu   sync.Mutex
	b    *strings.Builder
	n    int
	fwd  func(line string)
	line []byte
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	for _, c := range p {
		if c != '\n' {
			if len(w.line) < 4096 {
				w.line = append(w.line, c)
			}
			continue
		}
		if w.fwd != nil {
			w.fwd(string(w.line))
		}
		w.line = w.line[:0]
	}
	return len(p), nil
}

// ratio is a ÷ b with two decimals ("n/a" when b is 0).
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a/b)
}
