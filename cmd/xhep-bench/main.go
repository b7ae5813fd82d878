// Command xhep-bench runs the xhep benchmark suite and prints a results
// table; `xhep-bench gen` writes a pcap of generated VoIP traffic.
//
//	xhep-bench [suite flags]        the benchmark suite (the default)
//	xhep-bench gen --out FILE ...   generate traffic (see gen.go)
//	xhep-bench replay --read FILE ...  play a pcap through a veth pair (replay_linux.go)
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/xhep/xhep/bench"
	"github.com/xhep/xhep/cmd/internal/version"
)

// subcommands maps a first argument to what runs it. Anything else (or no
// argument) runs the suite.
var subcommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"gen": runGen,
}

func main() {
	if os.Getenv(bench.LiveChildEnv) != "" { // the suite's live run re-executes us as its agent
		os.Exit(bench.LiveChildMain(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if cmd, ok := subcommands[args[0]]; ok {
			return cmd(args[1:], stdout, stderr)
		}
		if args[0] == "--version" || args[0] == "-version" {
			fmt.Fprint(stdout, version.String("xhep-bench", true))
			return 0
		}
		if args[0] == "help" {
			usage(stdout)
			return 0
		}
	}
	return runSuite(args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  xhep-bench [flags]            run the benchmark suite and print the results table
  xhep-bench gen --out FILE     write a pcap of generated SIP/RTCP/DNS traffic
                                (xhep-bench gen --help lists its flags)
  xhep-bench replay --read FILE --iface IF --peer IF --local PREFIXES [--pps N]
                                play a pcap through a veth pair in wire direction, paced in batches
  xhep-bench --peer heplify=PATH  the suite with heplify side by side (ratios xhep ÷ peer)
`)
}
