package ascii

import (
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

func TestLowerMatchesUnicodeOnASCII(t *testing.T) {
	for c := range 256 {
		want := byte(c)
		if c < 0x80 {
			want = byte(unicode.ToLower(rune(c)))
		}
		if got := Lower(byte(c)); got != want {
			t.Errorf("Lower(%#x) = %#x, want %#x", c, got, want)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		a, b               string
		equal, prefix, has bool
	}{
		{a: "Call-ID", b: "call-id", equal: true, prefix: true, has: true},
		{a: "APPLICATION/SDP", b: "application/sdp", equal: true, prefix: true, has: true},
		{a: "application/sdpfoo", b: "application/sdp", prefix: true, has: true},
		{a: "x-Upgrade: WebSocket", b: "websocket", has: true},
		{a: "", b: "", equal: true, prefix: true, has: true},
		{a: "abc", b: "", prefix: true, has: true},
		{a: "", b: "a"},
		{a: "ab", b: "abc"},
		// Only ASCII letters fold: '@' (0x40) is not '`' (0x60), '[' is not '{'.
		{a: "@", b: "`"},
		{a: "[", b: "{"},
		{a: "\xc4", b: "\xe4"},
		{a: "bye", b: "BYE", equal: true, prefix: true, has: true},
	}
	for _, tt := range tests {
		got := [3]bool{EqualFold(tt.a, tt.b), HasPrefixFold(tt.a, tt.b), ContainsFold(tt.a, tt.b)}
		gotBytes := [3]bool{EqualFold([]byte(tt.a), tt.b), HasPrefixFold([]byte(tt.a), []byte(tt.b)), ContainsFold([]byte(tt.a), tt.b)}
		want := [3]bool{tt.equal, tt.prefix, tt.has}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q vs %q: Equal/HasPrefix/Contains (-want +got):\n%s", tt.a, tt.b, diff)
		}
		if gotBytes != got {
			t.Errorf("%q vs %q: []byte forms %v, string forms %v", tt.a, tt.b, gotBytes, got)
		}
		if strings.EqualFold(tt.a, tt.b) != tt.equal && isASCII(tt.a+tt.b) {
			t.Errorf("%q vs %q: strings.EqualFold disagrees", tt.a, tt.b)
		}
	}
}

func isASCII(s string) bool {
	for _, c := range []byte(s) {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func TestTrim(t *testing.T) {
	type out struct{ WS, Left, Right, OWS, CR string }
	tests := []struct {
		in   string
		want out
	}{
		{"", out{}},
		{"abc", out{"abc", "abc", "abc", "abc", "abc"}},
		{" \t a b \t ", out{"a b", "a b \t ", " \t a b", "a b", " \t a b \t "}},
		{"\r\n v \r\n", out{"v", "v \r\n", "\r\n v", "\r\n v \r\n", "\r\n v \r\n"}},
		{"line\r", out{"line", "line\r", "line", "line\r", "line"}},
		{"line\r\r", out{"line", "line\r\r", "line", "line\r\r", "line\r"}},
		{" \t\r\n", out{"", "", "", "\r\n", " \t\r\n"}},
		{"\x00x\x0b", out{"\x00x\x0b", "\x00x\x0b", "\x00x\x0b", "\x00x\x0b", "\x00x\x0b"}}, // other controls are not whitespace
	}
	for _, tt := range tests {
		got := out{TrimWS(tt.in), TrimLeftWS(tt.in), TrimRightWS(tt.in), TrimOWS(tt.in), TrimCR(tt.in)}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, diff)
		}
		b := []byte(tt.in)
		gotB := out{string(TrimWS(b)), string(TrimLeftWS(b)), string(TrimRightWS(b)), string(TrimOWS(b)), string(TrimCR(b))}
		if diff := cmp.Diff(got, gotB); diff != "" {
			t.Errorf("%q: []byte forms differ (-string +bytes):\n%s", tt.in, diff)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	b := []byte(" Content-Type: Application/SDP \r")
	n := testing.AllocsPerRun(100, func() {
		_ = TrimWS(b)
		_ = TrimCR(b)
		_ = TrimOWS(b)
		_ = EqualFold(b[1:13], "content-type")
		_ = ContainsFold(b, "application/sdp")
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
