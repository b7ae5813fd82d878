package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testConfig has one flag of each kind the binaries use.
type testConfig struct {
	Config  string
	Name    string
	Count   int
	Wait    time.Duration
	On      bool
	Size    int64
	Buf     int
	Ifaces  []string // split at commas
	Headers []string // taken whole
	Upper   string   // set by finish
}

func define(fs *FlagSet, c *testConfig) func() error {
	fs.StringVar(&c.Config, "config", "", "YAML `FILE`")
	fs.StringVar(&c.Name, "name", "default", "name")
	fs.IntVar(&c.Count, "count", 1, "count")
	fs.DurationVar(&c.Wait, "wait", time.Second, "wait")
	fs.BoolVar(&c.On, "on", false, "on")
	c.Size = 1 << 30
	fs.Size(&c.Size, "size", "size")
	fs.IntSize(&c.Buf, "buf", "buf")
	fs.List(&c.Ifaces, "iface", "interface (repeatable, commas)", true)
	fs.List(&c.Headers, "header", "header (repeatable, whole)", false)
	return func() error {
		if c.Name == "fail" {
			return errors.New("finish failed")
		}
		c.Upper = strings.ToUpper(c.Name)
		return nil
	}
}

func defaults() testConfig {
	return testConfig{Name: "default", Count: 1, Wait: time.Second, Size: 1 << 30, Upper: "DEFAULT"}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		file string // config file body; "" for none
		args []string
		want func(*testConfig)
	}{
		{name: "defaults", want: func(*testConfig) {}},
		{
			name: "command line",
			args: []string{"--name", "x", "-count=3", "--wait", "2m", "--on", "--size", "64MiB", "--buf", "32k",
				"--iface", "eth0", "--iface=eth1, eth2,,", "--header", "X-CID", "--header", "X-{1,3}"},
			want: func(c *testConfig) {
				c.Name, c.Upper, c.Count, c.Wait, c.On, c.Size, c.Buf = "x", "X", 3, 2*time.Minute, true, 64<<20, 32<<10
				c.Ifaces, c.Headers = []string{"eth0", "eth1", "eth2"}, []string{"X-CID", "X-{1,3}"}
			},
		},
		{
			name: "file",
			file: "name: from-file\ncount: 0x10\nwait: 1m\non: true\nsize: 2G\nbuf: 512\niface: [eth0, 'eth1,eth2']\nheader:\n  - a,b\n  - c\n",
			want: func(c *testConfig) {
				c.Name, c.Upper, c.Count, c.Wait, c.On, c.Size, c.Buf = "from-file", "FROM-FILE", 16, time.Minute, true, 2<<30, 512
				c.Ifaces, c.Headers = []string{"eth0", "eth1", "eth2"}, []string{"a,b", "c"}
			},
		},
		{
			// The old collector loader printed fmt.Sprint of the decoded
			// value ("7"); the literal text is kept.
			name: "scalar text as written",
			file: "name: 007\n",
			want: func(c *testConfig) { c.Name, c.Upper = "007", "007" },
		},
		{
			name: "a single value for a list",
			file: "iface: eth9\nheader: h\n",
			want: func(c *testConfig) { c.Ifaces, c.Headers = []string{"eth9"}, []string{"h"} },
		},
		{
			// The old collector loader set a string flag to "<nil>".
			name: "null keeps the default",
			file: "name: ~\ncount:\n",
			want: func(*testConfig) {},
		},
		{name: "empty file", file: "# nothing\n", want: func(*testConfig) {}},
		{
			name: "flags override the file, a list flag replaces the file's list",
			file: "name: file\ncount: 5\niface: [a, b]\nheader: [h1]\n",
			args: []string{"--name", "flag", "--iface", "c", "--iface", "d"},
			want: func(c *testConfig) {
				c.Name, c.Upper, c.Count = "flag", "FLAG", 5
				c.Ifaces, c.Headers = []string{"c", "d"}, []string{"h1"}
			},
		},
		{
			// The old agent loader looked for "--config" among the raw
			// arguments and took another flag's value for it.
			name: "--config as another flag's value",
			args: []string{"--name", "--config"},
			want: func(c *testConfig) { c.Name, c.Upper = "--config", "--CONFIG" },
		},
		{
			name: "an empty list in the file clears",
			file: "iface: []\n",
			want: func(*testConfig) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			want := defaults()
			if tt.file != "" {
				p := writeFile(t, tt.file)
				args = append([]string{"--config", p}, args...)
				want.Config = p
			}
			tt.want(&want)
			got, err := Parse("test", args, define)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		args []string
		want string // substring of the error
	}{
		{name: "unknown flag", args: []string{"--nope"}, want: "not defined: -nope"},
		{name: "stray argument", args: []string{"--on", "extra"}, want: `unexpected argument "extra"`},
		{name: "bad size", args: []string{"--size", "64MB"}, want: `size "64MB"`},
		{name: "finish", args: []string{"--name", "fail"}, want: "finish failed"},
		{name: "unknown key, with file line", file: "name: x\n\nnmae: y\n", want: `:3: key "nmae": unknown key`},
		// The old agent loader ignored a config key; the old collector's
		// refused it. Refused, with the reason.
		{name: "config key", file: "config: other.yaml\n", want: `:1: key "config": a config file cannot name another`},
		{name: "list for a single-value flag", file: "name: [a, b]\n", want: `key "name": takes one value`},
		{name: "mapping value", file: "name: {a: 1}\n", want: `key "name": want a value or a list`},
		{name: "mapping in a list", file: "iface:\n  - a\n  - {b: 1}\n", want: "list item on line 3"},
		{name: "bad value", file: "count: many\n", want: `:1: key "count": parse error`},
		{name: "bad duration", file: "wait: 30\n", want: `key "wait"`},
		{name: "bad yaml", file: "name: [\n", want: "parse config file"},
		{name: "duplicate key", file: "name: a\nname: b\n", want: `:2: key "name" already given on line 1`},
		{name: "not a mapping", file: "- a\n- b\n", want: "want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config=" + writeFile(t, tt.file)}, args...)
			}
			_, err := Parse("test", args, define)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Parse("test", []string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, define); err == nil || !strings.Contains(err.Error(), "read config file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Parse("test", []string{"-h"}, define); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

// TestParseUsageOnce: a flag error is reported by one pass only, so a
// usage output set by define sees it once.
func TestParseUsageOnce(t *testing.T) {
	var out strings.Builder
	_, err := Parse("test", []string{"--nope"}, func(fs *FlagSet, c *testConfig) func() error {
		fs.SetOutput(&out)
		return define(fs, c)
	})
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(out.String(), "not defined"); n != 1 {
		t.Errorf("error written %d times:\n%s", n, out.String())
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1048576", 1 << 20, true},
		{"512B", 512, true},
		{"64k", 64 << 10, true},
		{"64K", 64 << 10, true},
		{"64KiB", 64 << 10, true},
		{"64M", 64 << 20, true},
		{"64MiB", 64 << 20, true},
		{"64mib", 64 << 20, true},
		{"64 MiB", 64 << 20, true},
		{" 2G ", 2 << 30, true},
		{"1T", 1 << 40, true},
		{"1TiB", 1 << 40, true},
		{"64MB", 0, false}, // ambiguous: say M or MiB
		{"64Mi", 0, false},
		{"1.5G", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"G", 0, false},
		{"1Q", 0, false},
		{"4194304T", 1 << 62, true},
		{"4194305T", 0, false}, // beyond 2^62
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestTarget(t *testing.T) {
	var c testConfig
	fs := NewFlagSet("test")
	define(fs, &c)
	want := map[string]uintptr{}
	for name, p := range map[string]any{
		"config": &c.Config, "name": &c.Name, "count": &c.Count, "wait": &c.Wait, "on": &c.On,
		"size": &c.Size, "buf": &c.Buf, "iface": &c.Ifaces, "header": &c.Headers,
	} {
		want[name] = reflect.ValueOf(p).Pointer()
	}
	got := map[string]uintptr{}
	fs.VisitAll(func(f *flag.Flag) { got[f.Name] = Target(f) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Target (-want +got):\n%s", diff)
	}
	fs.Func("fn", "a func flag", func(string) error { return nil })
	if a := Target(fs.Lookup("fn")); a != 0 {
		t.Errorf("Target of a Func flag = %#x, want 0", a)
	}
}
