package collector

import (
	"fmt"
	"strings"
)

// A SettingError is a setting of [Config] that [Config.Validate],
// [Config.LoadSecrets] or [New] refuses. Its text names settings as
// {Field} — [Config] field names, [ConsoleConfig]'s as {Console.Field} —
// which [SettingError.Error] writes as the field name and
// [SettingError.Text] as the caller names the setting: cmd/xhep-collector
// writes the flag ("--read and --listen do not go together"), so this
// package holds no flag names. Unwrap gives the cause, if any.
type SettingError struct {
	text string // with {Field} placeholders
	err  error
}

// badSetting returns the SettingError of format (with {Field}
// placeholders) and args; err, when not nil, is its cause, written after
// a colon.
func badSetting(err error, format string, args ...any) *SettingError {
	return &SettingError{text: fmt.Sprintf(format, args...), err: err}
}

// Error writes the settings by their field names.
func (e *SettingError) Error() string { return e.Text(func(s string) string { return s }) }

// Unwrap returns the cause.
func (e *SettingError) Unwrap() error { return e.err }

// Text writes the error with each setting as name(setting) ("Read",
// "Console.LDAPURL").
func (e *SettingError) Text(name func(setting string) string) string {
	var b strings.Builder
	rest := e.text
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		if j := strings.IndexByte(rest[i:], '}'); j > 0 && isSetting(rest[i+1:i+j]) {
			b.WriteString(rest[:i])
			b.WriteString(name(rest[i+1 : i+j]))
			rest = rest[i+j+1:]
			continue
		}
		b.WriteString(rest[:i+1]) // a brace that is not a placeholder
		rest = rest[i+1:]
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

// Settings returns the settings the error names, in order.
func (e *SettingError) Settings() []string {
	var out []string
	e.Text(func(s string) string { out = append(out, s); return s })
	return out
}

// isSetting reports whether s is a placeholder's content: a Go identifier
// path starting with an upper-case letter.
func isSetting(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s {
		if c != '.' && c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
