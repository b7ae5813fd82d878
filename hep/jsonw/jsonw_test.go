package jsonw

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"abcdefghi\"", `"abcdefghi\""`}, // the unsafe byte in the overlapping last word
		{"abcdefgh\x01", `"abcdefgh\u0001"`},
		{"abcdefgh\xc3\xa9", `"abcdefghé"`},
		{`q"b\`, `"q\"b\\"`},
		{"\r\n\t\x00\x1f\x7f", `"\r\n\t\u0000\u001f` + "\x7f" + `"`},
		{"0123456789abcdef\"0123456789\\abcdef\x01xxxxxxxxxxxxxxxxxx\xc3\xa9xxxxxxxx", `"0123456789abcdef\"0123456789\\abcdef\u0001xxxxxxxxxxxxxxxxxxéxxxxxxxx"`},
		{"é€😀", `"é€😀"`},
		{"", `""`},
		{"a", `"a"`},
		{"a\"", `"a\""`},
		{"\x7fb\\", `"` + "\x7f" + `b\\"`},
		{"1234567", `"1234567"`},
		{"123456\n", `"123456\n"`},
		{"abcdefgh", `"abcdefgh"`},
		{"abcdefghijklmno", `"abcdefghijklmno"`},
		{"abcdefghijklmn\n", `"abcdefghijklmn\n"`},
		{"\"bcdefghijklmnop", `"\"bcdefghijklmnop"`},
		{"a\xffb\xc3", `"a\ufffdb\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a UTF-16 surrogate is not UTF-8
	}
	for _, tt := range tests {
		// The value at the start of a larger buffer whose next bytes
		// would need escapes: they are not part of it.
		for _, after := range []string{"", "\"\\\x00\xff\n\"\\\x01", "abcdefgh"} {
			buf := []byte(tt.in + after)
			if got := string(AppendString(nil, buf[:len(tt.in)])); got != tt.want {
				t.Errorf("AppendString(%q, followed by %q) = %s, want %s", tt.in, after, got, tt.want)
			}
		}
		got := string(AppendString(nil, []byte(tt.in)))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("AppendString(%q) (-want +got):\n%s", tt.in, diff)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendString(%q) = %s is not valid JSON", tt.in, got)
		}
		if got := string(AppendEscaped(nil, []byte(tt.in))); got != tt.want[1:len(tt.want)-1] {
			t.Errorf("AppendEscaped(%q) = %s, want AppendString's without quotes", tt.in, got)
		}
		// After other text, with every spare capacity from none to
		// more than the result needs.
		for spare := range len(tt.want) + 12 {
			dst := append(make([]byte, 0, 3+spare), "{x,"...)
			if got := string(AppendField(dst, `,"k":`, []byte(tt.in))); got != `{x,,"k":`+tt.want {
				t.Errorf("AppendField(%q) with %d spare = %s", tt.in, spare, got)
			}
			dst = append(make([]byte, 0, 3+spare), "{x,"...)
			if got := string(AppendEscaped(dst, []byte(tt.in))); got != "{x,"+tt.want[1:len(tt.want)-1] {
				t.Errorf("AppendEscaped(%q) with %d spare = %s", tt.in, spare, got)
			}
		}
	}
}

func TestAppendStringUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"\r\n\t\x01", `"\r\n\t\u0001"`},
		{"abcdefgh\xff", "\"abcdefgh\uFFFD\""},
		{"a\xffb\xc3", "\"a\uFFFDb\uFFFD\""},
		{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""},
		{"\uFFFD", "\"\uFFFD\""},
	}
	for _, tt := range tests {
		got := string(AppendStringUTF8(nil, []byte(tt.in)))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("AppendStringUTF8(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestSafeWord checks the 8-byte test against the byte table: every byte
// value at every position among safe neighbours, and next to each other.
func TestSafeWord(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			for _, fill := range []byte{'a', ' ', '~', 0x7f} {
				w := [8]byte{fill, fill, fill, fill, fill, fill, fill, fill}
				w[pos] = byte(c)
				if got := safeWord(binary.LittleEndian.Uint64(w[:])); got != safe[c] {
					t.Fatalf("safeWord(%q) = %v, want %v", w, got, safe[c])
				}
				w[(pos+1)%8] = 0x21 // '!', just above the control range
				if got := safeWord(binary.LittleEndian.Uint64(w[:])); got != safe[c] {
					t.Fatalf("safeWord(%q) = %v, want %v", w, got, safe[c])
				}
			}
		}
	}
}

func TestNumbers(t *testing.T) {
	b := AppendUint(nil, `{"a":`, 1<<64-1)
	b = AppendInt(b, `,"b":`, -1<<63)
	b = AppendBool(b, `,"c":`, true)
	b = append(b, `,"d":"`...)
	b = AppendHex(b, []byte{0x00, 0x9f, 0xff})
	b = append(b, `"}`...)
	if want := `{"a":18446744073709551615,"b":-9223372036854775808,"c":true,"d":"009fff"}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func TestAllocs(t *testing.T) {
	s := []byte("0123456789abcdef\"0123456789\\abcdef\x01xxxxxxxx\xffxxxxxxxxxx\xc3\xa9xxxxxxxx")
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		dst = AppendString(dst[:0], s)
		dst = AppendStringUTF8(dst, s)
		dst = AppendUint(dst, `,"n":`, 12345)
		dst = AppendHex(dst, s[:8])
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

// FuzzAppendString checks that both spellings are valid JSON holding the
// string encoding/json makes of s (invalid UTF-8 as U+FFFD), and that
// AppendStringUTF8 gives the same bytes again for the decoded string.
func FuzzAppendString(f *testing.F) {
	f.Add([]byte("0123456789abcdef\"\\\x01\xff\xed\xa0\x80é\uFFFD\n"))
	f.Fuzz(func(t *testing.T, s []byte) {
		var want string
		if err := json.Unmarshal(must(json.Marshal(string(s))), &want); err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string][]byte{"AppendString": AppendString(nil, s), "AppendStringUTF8": AppendStringUTF8(nil, s)} {
			var got string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s(%q) = %s: %v", name, s, out, err)
			}
			if got != want {
				t.Fatalf("%s(%q) decodes to %q, want %q", name, s, got, want)
			}
		}
		// A value that is a prefix of a larger buffer (the bytes past it
		// are read, never written) gives what a copy of it gives.
		for _, k := range []int{0, 1, len(s) / 3, len(s) / 2, len(s) - 1} {
			if k < 0 || k > len(s) {
				continue
			}
			alone := append([]byte(nil), s[:k]...)
			if got, want := AppendField(nil, `,"k":`, s[:k]), AppendField(nil, `,"k":`, alone); string(got) != string(want) {
				t.Fatalf("AppendField(%q of %q) = %s, alone %s", s[:k], s, got, want)
			}
		}
		out := AppendStringUTF8(nil, s)
		var dec string
		_ = json.Unmarshal(out, &dec)
		if again := AppendStringUTF8(nil, []byte(dec)); string(again) != string(out) {
			t.Fatalf("AppendStringUTF8 round trip: %s, then %s", out, again)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func BenchmarkAppendString(b *testing.B) {
	for _, tt := range []struct{ name, s string }{
		{"plain-64B", "sip:alice@atlanta.example.com;transport=udp;lr;maddr=10.0.0.1x"},
		{"escapes-64B", "line \"one\"\r\n\ttab é \xff end, and some more text to make 64 b"},
	} {
		s := []byte(tt.s)
		dst := make([]byte, 0, 256)
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendString(dst[:0], s)
			}
		})
	}
}

// TestAppendUint checks the digits against strconv at every length.
func TestAppendUint(t *testing.T) {
	vs := []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 1<<32 - 1, 1<<64 - 1}
	for p := uint64(1); p < 1e19; p *= 10 {
		vs = append(vs, p-1, p, p+1, p*7+3)
	}
	vs = append(vs, 1e19, 1e19+1)
	for _, v := range vs {
		if got, want := string(AppendUint([]byte("x"), `,"n":`, v)), `x,"n":`+strconv.FormatUint(v, 10); got != want {
			t.Errorf("AppendUint(%d) = %s, want %s", v, got, want)
		}
		if v <= 1<<63-1 {
			if got, want := string(AppendInt(nil, `,"n":`, -int64(v))), `,"n":`+strconv.FormatInt(-int64(v), 10); got != want {
				t.Errorf("AppendInt(%d) = %s, want %s", -int64(v), got, want)
			}
		}
	}
}

// TestAppendAddr checks addresses against netip's own text.
func TestAppendAddr(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "1.2.3.4", "10.0.0.255", "192.0.2.101", "255.255.255.255", "99.100.9.10", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0"} {
		a := netip.MustParseAddr(s)
		if got, want := string(AppendAddr([]byte("{"), `"ip":`, a)), `{"ip":"`+a.String()+`"`; got != want {
			t.Errorf("AppendAddr(%s) = %s, want %s", s, got, want)
		}
	}
	if got := string(AppendAddr(nil, `"ip":`, netip.Addr{})); got != `"ip":""` {
		t.Errorf("AppendAddr(zero) = %s", got)
	}
	for v := range 1 << 16 {
		a := netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v * 7), byte(v >> 3)})
		if got, want := string(AppendAddr(nil, "", a)), `"`+a.String()+`"`; got != want {
			t.Fatalf("AppendAddr(%s) = %s", a, got)
		}
	}
}
