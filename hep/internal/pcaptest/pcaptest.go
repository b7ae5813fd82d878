// Package pcaptest holds helpers for the payload packages' tests: the UDP
// payloads of the public captures in ../shared/pcaps (beside the
// repository; see its INDEX.md), and packets written as commented hex
// dumps. Only tests import it.
package pcaptest

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Dir returns the folder of the public captures: ../shared/pcaps relative
// to the repository root, the first folder above the working directory
// (a test's package folder) that holds go.mod. The captures are not part
// of the project; Dir does not check that the folder exists.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "pcaps")
		}
		up := filepath.Dir(dir)
		if up == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}

// UDPPayloads returns the UDP payloads of the capture name in [Dir], in
// capture order, skipping the test when the capture is absent.
func UDPPayloads(tb testing.TB, name string) [][]byte {
	tb.Helper()
	f, err := os.Open(filepath.Join(Dir(tb), name))
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("public capture %s not present", name)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	src := gopacket.NewPacketSource(r, r.LinkType())
	for p := range src.Packets() {
		if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && len(u.Payload) > 0 {
			out = append(out, u.Payload)
		}
	}
	return out
}

// Unhex turns a commented hex dump into bytes: everything after "//" on a
// line is a comment, white space is ignored.
func Unhex(tb testing.TB, dump string) []byte {
	tb.Helper()
	var sb strings.Builder
	for _, line := range strings.Split(dump, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
