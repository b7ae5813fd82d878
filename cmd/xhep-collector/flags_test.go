package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/xhep/xhep/collector"
)

// defaults is what every parse starts from.
func defaults(c collector.Config) collector.Config {
	if c.TCPIdle == 0 {
		c.TCPIdle = 5 * time.Minute
	}
	if c.ForwardQueue == 0 {
		c.ForwardQueue = 4096
	}
	if c.PartitionsAhead == 0 {
		c.PartitionsAhead = 2
	}
	if c.KPIWindow == 0 {
		c.KPIWindow = 2 * time.Minute
	}
	if c.KPIMaxPeers == 0 {
		c.KPIMaxPeers = 64
	}
	if c.KPIMaxNodes == 0 {
		c.KPIMaxNodes = 64
	}
	if c.KPIMax == 0 {
		c.KPIMax = 200_000
	}
	if c.KPICallTimeout == 0 {
		c.KPICallTimeout = 4 * time.Hour
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	return c
}

func TestParseFlags(t *testing.T) {
	const dsn = "xhep:xhep@tcp(127.0.0.1:33306)/"
	tests := []struct {
		name    string
		args    []string
		want    collector.Config
		api     apiOptions // what the command keeps for api.New
		level   string     // default info
		wantErr string
	}{
		{
			name: "listen and store",
			args: []string{"--listen", "udp://:9060", "--listen=tcp://:9061", "--mysql", dsn, "--http", ":9096", "--api-token", "t0k"},
			want: collector.Config{Listen: []string{"udp://:9060", "tcp://:9061"}, MySQL: dsn, HTTP: ":9096", APIToken: "t0k"},
		},
		{
			name: "HTTP over TLS and API bounds",
			args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--http", ":443", "--http-cert", "c.pem", "--http-key", "k.pem",
				"--api-default-range", "2h", "--api-max-range", "48h", "--api-flow-lookback", "72h", "--api-flow-margin", "1m", "--api-max-legs", "8"},
			want: collector.Config{Listen: []string{"udp://:9060"}, MySQL: dsn, HTTP: ":443", HTTPCert: "c.pem", HTTPKey: "k.pem"},
			api:  apiOptions{DefaultRange: 2 * time.Hour, MaxRange: 48 * time.Hour, FlowLookback: 72 * time.Hour, FlowMargin: time.Minute, MaxLegs: 8},
		},
		{
			name:  "http hosts and log level",
			args:  []string{"--listen", "udp://:9060", "--mysql", dsn, "--http", ":9096", "--http-host", "hep.example", "--http-host", "b", "--log-level", "debug"},
			want:  collector.Config{Listen: []string{"udp://:9060"}, MySQL: dsn, HTTP: ":9096"},
			api:   apiOptions{Hosts: []string{"hep.example", "b"}},
			level: "debug",
		},
		{
			name: "accounts with LDAP",
			args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--http", ":9096", "--accounts", "--admin-user", "root",
				"--session-ttl", "8h", "--cookie-secure", "--ldap-url", "ldap://127.0.0.1:27389", "--ldap-starttls",
				"--ldap-bind-dn", "cn=svc,dc=x", "--ldap-base-dn", "ou=people,dc=x", "--ldap-user-filter", "(uid={user})",
				"--ldap-group-base", "ou=groups,dc=x", "--ldap-group-filter", "(member={dn})", "--ldap-role", "noc=admin", "--ldap-role", "cn=view,dc=x=read-only"},
			want: collector.Config{Listen: []string{"udp://:9060"}, MySQL: dsn, HTTP: ":9096", Console: collector.ConsoleConfig{
				Accounts: true, AdminUser: "root", SessionTTL: 8 * time.Hour, CookieSecure: true, LDAPURL: "ldap://127.0.0.1:27389", LDAPStartTLS: true,
				LDAPBindDN: "cn=svc,dc=x", LDAPBaseDN: "ou=people,dc=x", LDAPUserFilter: "(uid={user})", LDAPGroupBase: "ou=groups,dc=x",
				LDAPGroupFilter: "(member={dn})", LDAPRoles: []string{"noc=admin", "cn=view,dc=x=read-only"}}},
		},
		{
			name: "every storage flag",
			args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--database", "homer", "--partitions-ahead", "3",
				"--retention", "call=14d,default=2d", "--max-db-size", "50G", "--spill-dir", "/var/spool/xhep", "--spill-max", "512M", "--drain-timeout", "2m"},
			want: collector.Config{Listen: []string{"udp://:9060"}, MySQL: dsn, Database: "homer", PartitionsAhead: 3,
				Retention: "call=14d,default=2d", MaxDBSize: 50 << 30, SpillDir: "/var/spool/xhep", SpillMax: 512 << 20, DrainTimeout: 2 * time.Minute},
		},
		{
			name: "ingest, auth, forward, a-leg",
			args: []string{"--listen", "tls://:9062", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tcp-idle", "30s",
				"--udp-readers", "4", "--udp-rcvbuf", "64M", "--auth-key", "s3cret", "--forward", "udp://10.0.0.9:9060",
				"--forward", "udp://10.0.0.10:9060", "--aleg-header", "X-CID|X-Leg-ID", "--aleg-header", "^x-b2b-.*", "--mysql", dsn,
				"--search-header", "X-Account", "--search-header", "X-Tenant", "--share-key-file", "/etc/xhep/share.key"},
			want: collector.Config{Listen: []string{"tls://:9062"}, TLSCert: "c.pem", TLSKey: "k.pem", TCPIdle: 30 * time.Second,
				Readers: 4, RcvBuf: 64 << 20, AuthKey: "s3cret", Forward: []string{"udp://10.0.0.9:9060", "udp://10.0.0.10:9060"},
				ALegHeaders: []string{"X-CID|X-Leg-ID", "^x-b2b-.*"}, MySQL: dsn, SearchHeaders: []string{"X-Account", "X-Tenant"},
				Console: collector.ConsoleConfig{ShareKeyFile: "/etc/xhep/share.key"}},
		},
		{
			name: "clickhouse cluster, replicated",
			args: []string{"--listen", "udp://:9060", "--clickhouse", "ch1:9000", "--clickhouse", "ch2:9000", "--clickhouse-cluster", "xhep", "--clickhouse-replicated"},
			want: collector.Config{Listen: []string{"udp://:9060"}, ClickHouse: []string{"ch1:9000", "ch2:9000"}, ClickHouseCluster: "xhep", ClickHouseReplicated: true},
		},
		{
			name: "KPI aliases and bounds",
			args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--alias", "10.1.0.0/24=carrier-a", "--alias", "192.0.2.7=pbx",
				"--kpi-max-peers", "8", "--kpi-max-nodes", "4", "--kpi-call-timeout", "2h", "--kpi-window", "1m", "--kpi-max", "1000"},
			want: collector.Config{Listen: []string{"udp://:9060"}, MySQL: dsn, Aliases: []string{"10.1.0.0/24=carrier-a", "192.0.2.7=pbx"},
				KPIMaxPeers: 8, KPIMaxNodes: 4, KPICallTimeout: 2 * time.Hour, KPIWindow: time.Minute, KPIMax: 1000},
		},
		{
			name: "offline print",
			args: []string{"--read", "x.pcap", "--print"},
			want: collector.Config{Read: "x.pcap", Print: true},
		},
		{name: "nothing", args: nil, wantErr: "no --listen"},
		{name: "bad scheme", args: []string{"--listen", "sctp://:9060", "--mysql", dsn}, wantErr: "unknown scheme"},
		{name: "tls without cert", args: []string{"--listen", "tls://:9062", "--mysql", dsn}, wantErr: "--tls-cert"},
		{name: "print without read", args: []string{"--listen", "udp://:9060", "--print", "--mysql", dsn}, wantErr: "--print needs --read"},
		{name: "read without output", args: []string{"--read", "x.pcap"}, wantErr: "--read needs --print, --mysql or --clickhouse"},
		{name: "no storage", args: []string{"--listen", "udp://:9060"}, wantErr: "nothing would be stored"},
		{name: "bad forward", args: []string{"--listen", "udp://:9060", "--forward", "tcp://h:1"}, wantErr: "forward address"},
		{name: "bad size", args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--max-db-size", "lots"}, wantErr: "size"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "flag provided but not defined"},
		{name: "accounts without http", args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--accounts"}, wantErr: "--accounts needs --http"},
		{name: "replicated without cluster", args: []string{"--listen", "udp://:9060", "--clickhouse", "127.0.0.1:9000", "--clickhouse-replicated"}, wantErr: "--clickhouse-replicated needs --clickhouse-cluster"},
		{name: "accounts on clickhouse only", args: []string{"--listen", "udp://:9060", "--clickhouse", "127.0.0.1:9000", "--http", ":9096", "--accounts"}, wantErr: "--accounts needs --mysql"},
		{name: "ldap without accounts", args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--ldap-url", "ldap://h:389"}, wantErr: "need --accounts"},
		{name: "ldap without roles", args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--http", ":1", "--accounts", "--ldap-url", "ldap://h:389", "--ldap-base-dn", "dc=x"}, wantErr: "no group maps to a role"},
		{name: "bad ldap role", args: []string{"--listen", "udp://:9060", "--mysql", dsn, "--http", ":1", "--accounts", "--ldap-url", "ldap://h:389", "--ldap-base-dn", "dc=x", "--ldap-role", "g=root"}, wantErr: "--ldap-role"},
		{name: "stray argument", args: []string{"--read", "x.pcap", "--print", "extra"}, wantErr: "unexpected argument"},
		{name: "bad log level", args: []string{"--read", "x.pcap", "--print", "--log-level", "loud"}, wantErr: "--log-level"},
		{name: "negative api bound", args: []string{"--read", "x.pcap", "--print", "--api-max-legs", "-1"}, wantErr: "negative --api-default-range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			want := options{Config: defaults(tt.want), API: tt.api, LogLevel: tt.level}
			if want.LogLevel == "" {
				want.LogLevel = "info"
			}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(collector.Config{}, "Logger", "Output")); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := parseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "collector.yaml")
	yaml := `
listen:
  - udp://:9060
  - tcp://:9061
mysql: "xhep:xhep@tcp(127.0.0.1:33306)/"
retention: call=30d
max-db-size: 10G
tcp-idle: 1m
aleg-header: X-CID
http: ":9096"
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parseFlags([]string{"--config", path, "--listen", "udp://:19060", "--http", ":19096"})
	if err != nil {
		t.Fatal(err)
	}
	want := defaults(collector.Config{
		Listen: []string{"udp://:19060"}, // the command line replaces the file's list
		MySQL:  "xhep:xhep@tcp(127.0.0.1:33306)/", Retention: "call=30d", MaxDBSize: 10 << 30,
		TCPIdle: time.Minute, ALegHeaders: []string{"X-CID"}, HTTP: ":19096",
	})
	if diff := cmp.Diff(want, got.Config, cmpopts.IgnoreFields(collector.Config{}, "Logger", "Output")); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	for name, body := range map[string]string{
		"unknown key":   "listen: udp://:9060\nmysql: x\nbogus: 1\n",
		"bad duration":  "listen: udp://:9060\nmysql: x\ntcp-idle: 5\n",
		"nested object": "listen: {udp: 9060}\nmysql: x\n",
		"not YAML":      "listen: [udp://:9060\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := parseFlags([]string{"--config", p}); err == nil {
			t.Errorf("%s: parseFlags accepted the file", name)
		}
	}
	if _, err := parseFlags([]string{"--config", filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Error("missing config file accepted")
	}
}

// TestSecretsFromFilesAndEnv: the API token, the HEP auth key and the
// DSN's password come from files or the environment, so they need not be
// on the command line (visible in ps); twice is an error.
func TestSecretsFromFilesAndEnv(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok, key, pw, empty := write("tok", "t0k3n\n"), write("key", "  hepkey  \r\nsecond line ignored\n"), write("pw", "p@ss:w/rd\n"), write("empty", "\n")
	base := []string{"--listen", "udp://:9060", "--http", ":9096"}
	const dsn = "xhep@tcp(127.0.0.1:33306)/"
	for _, v := range []string{"XHEP_API_TOKEN", "XHEP_AUTH_KEY", "XHEP_MYSQL_PASSWORD"} {
		t.Setenv(v, "")
	}

	cfg, err := parseFlags(append(base, "--mysql", dsn, "--api-token-file", tok, "--auth-key-file", key, "--mysql-password-file", pw))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIToken != "t0k3n" || cfg.AuthKey != "hepkey" || cfg.MySQL != "xhep:p@ss:w/rd@tcp(127.0.0.1:33306)/" {
		t.Errorf("from files: token %q key %q dsn %q", cfg.APIToken, cfg.AuthKey, cfg.MySQL)
	}

	t.Setenv("XHEP_API_TOKEN", "envtok")
	t.Setenv("XHEP_AUTH_KEY", "envkey")
	t.Setenv("XHEP_MYSQL_PASSWORD", "envpw")
	cfg, err = parseFlags(append(base, "--mysql", dsn))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIToken != "envtok" || cfg.AuthKey != "envkey" || cfg.MySQL != "xhep:envpw@tcp(127.0.0.1:33306)/" {
		t.Errorf("from the environment: token %q key %q dsn %q", cfg.APIToken, cfg.AuthKey, cfg.MySQL)
	}
	// The command line wins over the environment.
	cfg, err = parseFlags(append(base, "--mysql", "xhep:cli@tcp(127.0.0.1:33306)/", "--api-token", "clitok"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIToken != "clitok" || cfg.MySQL != "xhep:cli@tcp(127.0.0.1:33306)/" {
		t.Errorf("command line: token %q dsn %q", cfg.APIToken, cfg.MySQL)
	}
	t.Setenv("XHEP_API_TOKEN", "")
	t.Setenv("XHEP_AUTH_KEY", "")
	t.Setenv("XHEP_MYSQL_PASSWORD", "")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mysql", dsn, "--api-token", "x", "--api-token-file", tok}, "--api-token and --api-token-file"},
		{[]string{"--mysql", "xhep:pw@tcp(127.0.0.1:33306)/", "--mysql-password-file", pw}, "the password in --mysql and --mysql-password-file both given"},
		{[]string{"--mysql", dsn, "--auth-key-file", empty}, "is empty"},
		{[]string{"--mysql", dsn, "--api-token-file", filepath.Join(dir, "missing")}, "--api-token-file"},
		{[]string{"--forward", "udp://127.0.0.1:9", "--mysql-password-file", pw}, "needs --mysql"},
		{[]string{"--mysql", dsn, "--metrics-auth", "token"}, "--metrics-auth token needs --api-token"},
		{[]string{"--mysql", dsn, "--search-header", "X Account"}, "--search-header"},
		{[]string{"--mysql", dsn, "--metrics-auth", "maybe"}, "want open or token"},
		{[]string{"--mysql", dsn, "--mysql-page-compression", "zstd"}, "--mysql-page-compression: page compression \"zstd\": want off, lz4"},
		{[]string{"--mysql", dsn, "--mysql-page-compression", "10"}, "--mysql-page-compression: page compression \"10\""},
		{[]string{"--forward", "udp://127.0.0.1:9", "--mysql-page-compression", "lz4"}, "--mysql-page-compression needs --mysql"},
	} {
		if _, err := parseFlags(append(base, tc.args...)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestVersionFlag: --version prints the collector's name and build and
// exits 0 before any other flag is looked at.
func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--listen", "bogus", "--version"}} {
		var out strings.Builder
		if code := run(args, &out); code != 0 {
			t.Errorf("run(%q) = %d, want 0", args, code)
		}
		if !strings.HasPrefix(out.String(), "xhep-collector ") || !strings.Contains(out.String(), "commit:") {
			t.Errorf("run(%q) printed %q", args, out.String())
		}
	}
}

// TestSettingFlags: every setting of collector.Config that a flag can set
// has one, found by settingFlags, so the collector's SettingErrors never
// reach the command line with a field name; and they do come out with
// flag names, also joined and wrapped.
func TestSettingFlags(t *testing.T) {
	flags := settingFlags()
	noFlag := map[string]bool{"Output": true, "Logger": true} // set by the command itself
	var walk func(rt reflect.Type, prefix string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == rt.PkgPath():
				walk(f.Type, prefix+f.Name+".")
			case !noFlag[prefix+f.Name] && flags[prefix+f.Name] == "":
				t.Errorf("setting %s has no flag", prefix+f.Name)
			}
		}
	}
	walk(reflect.TypeFor[collector.Config](), "")
	if got := flags["Console.LDAPURL"]; got != "--ldap-url" {
		t.Errorf("Console.LDAPURL -> %q, want --ldap-url", got)
	}

	err := (&collector.Config{Read: "x.pcap", Listen: []string{"udp://:1"}, MySQLPageCompression: "3"}).Validate()
	got := flagNamed(err).Error()
	for _, want := range []string{"--read and --listen do not go together", "--mysql-page-compression needs --mysql"} {
		if !strings.Contains(got, want) {
			t.Errorf("flagNamed(Validate) = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "MySQLPageCompression") {
		t.Errorf("flagNamed(Validate) = %q names a field", got)
	}
	var se *collector.SettingError
	if !errors.As(flagNamed(err), &se) {
		t.Error("flagNamed hides the SettingError from errors.As")
	}
	wrapped := fmt.Errorf("start: %w", err)
	if got := flagNamed(wrapped).Error(); !strings.HasPrefix(got, "start: ") || !strings.Contains(got, "--mysql-page-compression needs --mysql") || strings.Contains(got, "MySQLPageCompression") {
		t.Errorf("flagNamed(wrapped) = %q", got)
	}
}
