package sip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLooksLikeSIP(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"INVITE sip:bob@example.com SIP/2.0\r\n", true},
		{"ACK sip:x SIP/2.0", true},
		{"SIP/2.0 200 OK\r\n", true},
		{"SUBSCRIBE sip:x SIP/2.0", true},
		{"UPDATE ", true},
		{"invite sip:x SIP/2.0", false}, // methods are case-sensitive
		{"INVITEX sip:x SIP/2.0", false},
		{"GET / HTTP/1.1\r\n", false},
		{"SIP/2.1 200 OK", false},
		{"\r\n\r\n", false},
		{"\x00\x00\x00\x00", false},
		{"", false},
		{"BYE", false},
	}
	for _, tt := range tests {
		if got := LooksLikeSIP([]byte(tt.in)); got != tt.want {
			t.Errorf("LooksLikeSIP(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestKeepAliveLen(t *testing.T) {
	for in, want := range map[string]int{"": 0, "\r\n\r\n": 4, "\r\nINVITE": 2, "INVITE": 0, "\n\n\r": 3} {
		if got := KeepAliveLen([]byte(in)); got != want {
			t.Errorf("KeepAliveLen(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestFrameLength(t *testing.T) {
	const (
		req  = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\nbody"
		lf   = "OPTIONS sip:a@b SIP/2.0\nCall-ID: x\nl:4\n\nbody"
		noCL = "SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n"
	)
	tests := []struct {
		name    string
		in      string
		wantN   int
		wantErr error
	}{
		{"crlf with body", req, len(req), nil},
		{"followed by next message", req + noCL, len(req), nil},
		{"bare LF and compact l", lf, len(lf), nil},
		{"compact L upper case with spaces", "SIP/2.0 180 Ringing\r\nL :  2 \r\n\r\nab", 34, nil},
		{"no content-length is an empty body", noCL + "INVITE", len(noCL), nil},
		{"status line without reason", "SIP/2.0 200\r\n\r\n", 15, nil},
		{"extension method", "FOO sip:x SIP/2.0\r\n\r\n", 21, nil},
		{"first content-length wins", "SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 5\r\n\r\nab", 44, nil},
		{"incomplete body", req[:len(req)-1], 0, ErrIncomplete},
		{"incomplete headers", req[:40], 0, ErrIncomplete},
		{"incomplete start line", "INVITE sip:bo", 0, ErrIncomplete},
		{"incomplete status prefix", "SIP/2", 0, ErrIncomplete},
		{"empty", "", 0, ErrIncomplete},
		{"junk", "\x00\x00\x00\x00", 0, ErrMalformed},
		{"junk line", "hello world\r\n", 0, ErrMalformed},
		{"http", "GET / HTTP/1.1\r\n\r\n", 0, ErrMalformed},
		{"bad status code", "SIP/2.0 2x0 OK\r\n\r\n", 0, ErrMalformed},
		{"keep-alive is not a message", "\r\n\r\n", 0, ErrMalformed},
		{"invalid content-length", "SIP/2.0 200 OK\r\nContent-Length: 12a\r\n\r\n", 0, ErrBadContentLength},
		{"negative content-length", "SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n", 0, ErrBadContentLength},
		{"huge content-length", "SIP/2.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n", 0, ErrTooLarge},
		{"headers too large", "SIP/2.0 200 OK\r\nX: " + strings.Repeat("a", MaxHeaderSize) + "\r\n\r\n", 0, ErrTooLarge},
		{"headers too large, incomplete", "SIP/2.0 200 OK\r\nX: " + strings.Repeat("a", MaxHeaderSize), 0, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := FrameLength([]byte(tt.in))
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Errorf("FrameLength = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

// TestFrameLengthStream feeds a stream of messages byte by byte, as a TCP
// reassembler would, and checks every message is framed exactly.
func TestFrameLengthStream(t *testing.T) {
	msgs := []string{
		"INVITE sip:bob@example.com SIP/2.0\r\nl: 3\r\n\r\nabc",
		"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n",
		"BYE sip:bob@example.com SIP/2.0\nContent-Length:0\n\n",
	}
	stream := []byte(strings.Join(msgs, ""))
	var got []string
	var buf []byte
	for _, c := range stream {
		buf = append(buf, c)
		for {
			n, err := FrameLength(buf)
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				t.Fatalf("FrameLength(%q): %v", buf, err)
			}
			got = append(got, string(buf[:n]))
			buf = buf[n:]
		}
	}
	if len(buf) != 0 || strings.Join(got, "|") != strings.Join(msgs, "|") {
		t.Errorf("framed %q, left %q", got, buf)
	}
}

func BenchmarkFrameLength(b *testing.B) {
	msg := []byte(testInvite)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		n, err := FrameLength(msg)
		if err != nil || n != len(msg) {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkLooksLikeSIP(b *testing.B) {
	msg := []byte("SUBSCRIBE sip:x SIP/2.0\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if !LooksLikeSIP(msg) {
			b.Fatal()
		}
	}
}

var _ = bytes.Equal

func TestHasStartLine(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"INVITE sip:bob@example.com SIP/2.0\r\n", true},
		{"INVITE sip:with space SIP/2.0\r\n", true},            // a known method tolerates the URI
		{"INVITE sip:bob@example.com sip/2.0\n", true},         // ABNF literals ignore case
		{"FOOBAR sip:bob@example.com SIP/2.0\r\n", true},       // extension method, well formed
		{"FOOBAR sip:with space SIP/2.0\r\n", false},           // extension method, URI with a space
		{"SIP/2.0 200 OK\r\n", true},                           // status line: no line end needed
		{"SIP/2.0 200\r\n\r\n", false},                         // no SP after the code
		{"SIP/2.0 2x0 OK\r\n", false},                          //
		{"INVITE sip:bob@example.com SIP/2.0", false},          // no line end
		{"INVITE sip:bob@example.com HTTP/1.1\r\n", false},     //
		{"\x80\x00\x00\x01 SIP/2.0 RTP-looking\r\n", false},    // binary first byte
		{"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", false}, //
		{"BYE x SIP/2.0\n", true},                              // 14 bytes
		{"SIP/2.0 200", false},                                 // under 12 bytes
	}
	for _, tt := range tests {
		if got := HasStartLine([]byte(tt.in)); got != tt.want {
			t.Errorf("HasStartLine(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	long := "INVITE sip:" + strings.Repeat("a", MaxStartLine) + " SIP/2.0\r\n"
	if HasStartLine([]byte(long)) {
		t.Errorf("HasStartLine accepts a start line longer than MaxStartLine")
	}
}

func TestMethodOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"INVITE sip:a SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", "INVITE"},
		{"OPTIONS sip:a SIP/2.0\r\n\r\n", "OPTIONS"},
		{"FOOBAR sip:a SIP/2.0\r\n\r\n", "FOOBAR"},
		{"SIP/2.0 200 OK\r\nVia: x\r\ncseq :\t 7   REGISTER \r\n\r\n", "REGISTER"},
		{"SIP/2.0 200 OK\nCSeq: 7 BYE\n\n", "BYE"},
		{"SIP/2.0 200 OK\r\nCSeq: 7\r\n\r\n", ""},
		{"SIP/2.0 200 OK\r\nCSeqs: 7 BYE\r\n\r\n", ""},
		{"SIP/2.0 200 OK\r\n\r\nCSeq: 7 BYE\r\n", ""}, // in the body
		{"junk", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(MethodOf([]byte(tt.in))); got != tt.want {
			t.Errorf("MethodOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	resp := []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 INVITE\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { MethodOf(resp) }); n != 0 {
		t.Errorf("MethodOf allocates %v times, want 0", n)
	}
}
