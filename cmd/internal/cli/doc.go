// Package cli is the command line of xhep-agent and xhep-collector (and of
// the next binary): flags parsed by a pure function ([Parse]) and the
// documented contract "every flag can also come from --config FILE",
// implemented once. [FlagSet] adds repeatable flags ([FlagSet.List], with
// or without comma splitting) and sizes ([FlagSet.Size], [ParseSize]) to
// the flag package; [Target] tells which variable a flag sets, so a
// command can name a library's settings by their flags.
//
// The config file is a YAML mapping whose keys are flag names:
//
//	collector:            # a repeatable flag: a sequence, or one value
//	  - udp://10.0.0.1:9060
//	spool-max: 2GiB       # a size: bytes, K/M/G/T or KiB/MiB/GiB/TiB (powers of 1024)
//	drain-timeout: 1m     # a duration, as on the command line
//	tls-insecure: true
//	node-name: ~          # null: the flag keeps its default
//
// Keys are applied in file order, each once, each value exactly as written (the YAML
// scalar's text, so "007" stays "007"). An unknown key, a "config" key, a
// sequence for a flag that takes one value, a mapping as a value, or a
// value the flag rejects is an error naming the file, its line and the key.
// Flags on the command line override the file; the first command-line use
// of a repeatable flag replaces the file's values rather than adding to
// them.
package cli
