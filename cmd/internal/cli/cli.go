package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// FlagSet is a [flag.FlagSet] (ContinueOnError, output discarded unless
// the caller sets one) with repeatable list flags and size flags that the
// config file loader knows about.
type FlagSet struct {
	*flag.FlagSet
	lists map[string]*listValue
}

// NewFlagSet returns an empty FlagSet for the program name.
func NewFlagSet(name string) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &FlagSet{FlagSet: fs, lists: map[string]*listValue{}}
}

// List defines a repeatable flag appending to *dst. With split, each value
// is also split at commas, items trimmed and empty ones dropped
// ("--iface eth0,eth1"); without, values are taken whole (for values that
// hold commas: LDAP DNs, regular expressions).
func (fs *FlagSet) List(dst *[]string, name, usage string, split bool) {
	l := &listValue{dst: dst, split: split}
	fs.lists[name] = l
	fs.Var(l, name, usage)
}

// Size defines a byte-count flag on *dst; its default is *dst's value.
// Values are parsed by [ParseSize].
func (fs *FlagSet) Size(dst *int64, name, usage string) {
	fs.Var(sizeValue{dst}, name, usage)
}

// IntSize is [FlagSet.Size] for an int.
func (fs *FlagSet) IntSize(dst *int, name, usage string) {
	fs.Var(intSizeValue{dst}, name, usage)
}

// Parse parses args (without the program name) into a new T. define
// declares the flags on fs, bound to c; it must declare a string flag
// named "config" (the YAML file's path) and may return a finish function
// run after parsing (conversions that need the whole command line), or
// nil. The command line is parsed once to find --config (define runs
// twice, the first time on a scratch T), the file is applied, then the
// command line again so that it wins. Flag errors and -h come from the
// second pass, so a usage output set by define is written once;
// [flag.ErrHelp] is returned for -h. Stray arguments are an error.
func Parse[T any](name string, args []string, define func(fs *FlagSet, c *T) (finish func() error)) (T, error) {
	var scratch, c T
	pre := NewFlagSet(name)
	define(pre, &scratch)
	pre.SetOutput(io.Discard) // errors and -h are reported by the second pass
	pre.Usage = func() {}
	path := ""
	if pre.Parse(args) == nil {
		path = pre.Lookup("config").Value.String()
	}
	fs := NewFlagSet(name)
	finish := define(fs, &c) // may set an output for usage and errors

	if fs.Lookup("config") == nil {
		panic("cli.Parse: define declares no --config flag")
	}
	if path != "" {
		if err := fs.LoadFile(path); err != nil {
			return c, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if finish != nil {
		if err := finish(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// LoadFile applies the YAML config file at path to fs (see the package
// documentation for its form).
func (fs *FlagSet) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parse config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config file %s:%d: want a mapping of flag names to values", path, root.Line)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if line, dup := seen[k.Value]; dup {
			return fmt.Errorf("config file %s:%d: key %q already given on line %d", path, k.Line, k.Value, line)
		}
		seen[k.Value] = k.Line
		if err := fs.apply(k.Value, v); err != nil {
			return fmt.Errorf("config file %s:%d: key %q: %w", path, k.Line, k.Value, err)
		}
	}
	return nil
}

var (
	errNested  = errors.New("a config file cannot name another config file")
	errUnknown = errors.New("unknown key (keys are flag names)")
	errShape   = errors.New("want a value or a list of values")
	errOne     = errors.New("takes one value, not a list")
)

// apply sets one key of the config file.
func (fs *FlagSet) apply(name string, v *yaml.Node) error {
	if name == "config" {
		return errNested
	}
	if fs.Lookup(name) == nil {
		return errUnknown
	}
	var vals []string
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil // the flag keeps its default
		}
		vals = []string{v.Value}
	case yaml.SequenceNode:
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				return fmt.Errorf("list item on line %d: %w", e.Line, errShape)
			}
			vals = append(vals, e.Value)
		}
	default:
		return errShape
	}
	l, isList := fs.lists[name]
	switch {
	case isList:
		*l.dst = nil // the file's list replaces the default
	case v.Kind == yaml.SequenceNode:
		return errOne
	}
	for _, s := range vals {
		if err := fs.Set(name, s); err != nil {
			return err
		}
	}
	if isList {
		l.fromConfig = true
	}
	return nil
}

// Target returns the address of the variable flag f is bound to, or 0
// when it is not known (flag.Func): for the flag package's own kinds
// (BoolVar, StringVar, DurationVar, ...) and for List, Size and IntSize. A
// command uses it to name a setting by its flag.
func Target(f *flag.Flag) uintptr {
	if t, ok := f.Value.(interface{ target() uintptr }); ok {
		return t.target()
	}
	if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
		return v.Pointer()
	}
	return 0
}

func (l *listValue) target() uintptr   { return reflect.ValueOf(l.dst).Pointer() }
func (f sizeValue) target() uintptr    { return reflect.ValueOf(f.v).Pointer() }
func (f intSizeValue) target() uintptr { return reflect.ValueOf(f.v).Pointer() }

// listValue is a repeatable flag. Values from the config file are
// replaced, not extended, by the first value given on the command line.
type listValue struct {
	dst        *[]string
	split      bool
	fromConfig bool
}

func (l *listValue) String() string {
	if l == nil || l.dst == nil {
		return ""
	}
	return strings.Join(*l.dst, ",")
}

func (l *listValue) Set(s string) error {
	if l.fromConfig {
		*l.dst, l.fromConfig = nil, false
	}
	if !l.split {
		*l.dst = append(*l.dst, s)
		return nil
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.dst = append(*l.dst, v)
		}
	}
	return nil
}

type sizeValue struct{ v *int64 }

func (f sizeValue) String() string {
	if f.v == nil {
		return "0"
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f sizeValue) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

type intSizeValue struct{ v *int }

func (f intSizeValue) String() string {
	if f.v == nil {
		return "0"
	}
	return strconv.Itoa(*f.v)
}

func (f intSizeValue) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	if int64(int(n)) != n {
		return fmt.Errorf("size %q: too large", s)
	}
	*f.v = int(n)
	return nil
}

// ParseSize parses a byte count: a decimal number, optionally followed
// (after an optional space) by K, M, G or T, or KiB, MiB, GiB or TiB, any
// case — all powers of 1024 — or by B. "64MiB" = "64M" = 67108864.
// "64MB" is refused (decimal or binary megabytes? say M or MiB).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimLeft(t[i:], " "))
	shift := -1
	switch unit {
	case "", "b":
		shift = 0
	case "k", "kib":
		shift = 10
	case "m", "mib":
		shift = 20
	case "g", "gib":
		shift = 30
	case "t", "tib":
		shift = 40
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if shift < 0 || err != nil || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: want bytes, or a number with K, M, G or T (or KiB, MiB, GiB, TiB; powers of 1024)", s)
	}
	return n << shift, nil
}
