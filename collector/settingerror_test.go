package collector

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSettingError(t *testing.T) {
	flag := func(s string) string { return "--" + strings.ToLower(strings.ReplaceAll(s, ".", "-")) }
	tests := []struct {
		err      *SettingError
		plain    string
		named    string
		settings []string
	}{
		{badSetting(nil, "{Read} and {Listen} do not go together"), "Read and Listen do not go together",
			"--read and --listen do not go together", []string{"Read", "Listen"}},
		{badSetting(fs.ErrNotExist, "{Console.ShareKeyFile}"), "Console.ShareKeyFile: file does not exist",
			"--console-sharekeyfile: file does not exist", []string{"Console.ShareKeyFile"}},
		{badSetting(nil, "{MetricsAuth} %q: want open or token", "{x} {Read"), `MetricsAuth "{x} {Read": want open or token`,
			`--metricsauth "{x} {Read": want open or token`, []string{"MetricsAuth"}},
		{badSetting(nil, "negative {Console.SessionTTL}"), "negative Console.SessionTTL", "--console-sessionttl", []string{"Console.SessionTTL"}},
	}
	for _, tt := range tests {
		got := []any{tt.err.Error(), tt.err.Text(flag), tt.err.Settings()}
		want := []any{tt.plain, tt.named, tt.settings}
		if tt.named == "--console-sessionttl" {
			want[1] = "negative --console-sessionttl"
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.plain, diff)
		}
	}
	if !errors.Is(badSetting(fs.ErrNotExist, "{Read}"), fs.ErrNotExist) {
		t.Error("SettingError does not unwrap its cause")
	}
	// Validate names settings, never flags.
	err := (&Config{Read: "x", Listen: []string{"udp://:1"}}).Validate()
	if err == nil || strings.Contains(err.Error(), "--") || !strings.Contains(err.Error(), "Read and Listen do not go together") {
		t.Errorf("Validate = %v", err)
	}
}
