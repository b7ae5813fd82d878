package sip

import (
	"strings"
	"testing"
)

func TestStartsWithStartLine(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"INVITE sip:a@b SIP/2.0\r\n", true},
		{"FOOBAR sip:a@b SIP/2.0\r\nVia: x\r\n", true},
		{"X-c07.1%!+ sips:a@b sip/2.0\n", true},
		{strings.Repeat("M", 1000) + " sip:a@b SIP/2.0\r\n", true},
		{"SIP/2.0 200 OK\r\n", true},
		{"SIP/2.0 2000 OK\r\n", false},
		{"FOO sip:a@b SIP/2.0", false},            // no line end
		{"FOO  sip:a@b SIP/2.0\r\n", false},       // empty Request-URI
		{"FOO sip:a b SIP/2.0\r\n", false},        // space in the Request-URI
		{"FO<O sip:a@b SIP/2.0\r\n", false},       // not a token
		{"GET / HTTP/1.1\r\n", false},             // HTTP
		{"FOO sip:a\x00b SIP/2.0\r\n", false},     // control character
		{"\r\nINVITE sip:a@b SIP/2.0\r\n", false}, // leading line end: the caller cuts it
		{"", false},
	}
	for _, tt := range tests {
		if got := StartsWithStartLine([]byte(tt.in)); got != tt.want {
			t.Errorf("StartsWithStartLine(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
