package sip

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzDecode(f *testing.F) {
	f.Add([]byte(testInvite))
	var m, fresh Message
	var s SDP
	other := []byte(testInvite)
	f.Fuzz(func(t *testing.T, b []byte) {
		// Decoding into a used Message gives what a fresh one gives.
		_ = m.DecodeFromBytes(other)
		err := m.DecodeFromBytes(b)
		fresh = Message{}
		if err2 := fresh.DecodeFromBytes(b); err2 != err {
			t.Fatalf("reused: %v, fresh: %v", err, err2)
		}
		if diff := cmp.Diff(view(&fresh), view(&m)); diff != "" {
			t.Fatalf("reused Message differs (-fresh +reused):\n%s", diff)
		}
		if errors.Is(err, ErrMalformed) {
			return
		}
		// Every decoded field aliases the input.
		for _, h := range m.Headers {
			if !within(b, h.Name) || !within(b, h.Value) {
				t.Fatalf("header %q: %q outside the input", h.Name, h.Value)
			}
		}
		if !within(b, m.CallID) || !within(b, m.Body) || !within(b, m.From.URI.Host) {
			t.Fatal("field outside the input")
		}
		if m.ViaCount < len(m.Via) || len(m.Via) > MaxVia || len(m.Headers) > MaxHeaders {
			t.Fatalf("bounds: %d vias of %d, %d headers", len(m.Via), m.ViaCount, len(m.Headers))
		}
		// The fast path agrees with the full decode when headers are sane.
		var h Head
		if h.Scan(b) && err == nil && len(m.Headers) > 0 && !bytes.Equal(h.CallID, m.CallID) && len(m.CallID) > 0 && len(m.Header("call-id")) > 0 && bytes.IndexByte(m.CallID, '\n') < 0 {
			t.Fatalf("Head.CallID = %q, decoded %q", h.CallID, m.CallID)
		}
		_ = s.DecodeFromBytes(m.Body)
		for _, md := range s.Media {
			_ = md.RTCPEndpoint()
		}
	})
}

func FuzzFrameLength(f *testing.F) {
	f.Add([]byte(testInvite))
	f.Add([]byte("SIP/2.0 200 OK\nl: 3\n\nabcINVITE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := FrameLength(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("n = %d with error %v", n, err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		// A framed message is framed the same on its own, and a prefix
		// of it is incomplete (or, cut inside the start line, junk).
		if n2, err := FrameLength(b[:n]); n2 != n || err != nil {
			t.Fatalf("reframe: %d, %v; want %d", n2, err, n)
		}
		if _, err := FrameLength(b[:n-1]); err == nil {
			t.Fatalf("prefix of %d bytes framed", n-1)
		}
		if LooksLikeSIP(b) && !bytes.HasPrefix(b, []byte("SIP/2.0 ")) && bytes.IndexByte(b[:n], ' ') < 0 {
			t.Fatal("request without a space")
		}
	})
}

func FuzzSDP(f *testing.F) {
	f.Add([]byte(testInvite[bytes.Index([]byte(testInvite), []byte("v=0")):]))
	var s SDP
	other := []byte("c=IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 0 8 9 18\r\nm=video 2 RTP/AVP 31 32\r\na=rtcp-mux\r\n")
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = s.DecodeFromBytes(other)
		err := s.DecodeFromBytes(b)
		var fresh SDP
		if err2 := fresh.DecodeFromBytes(b); err2 != err || s.Conn != fresh.Conn {
			t.Fatalf("reused: %v %v, fresh: %v %v", err, s.Conn, err2, fresh.Conn)
		}
		if diff := cmp.Diff(mediaViews(&fresh), mediaViews(&s)); diff != "" {
			t.Fatalf("reused SDP differs (-fresh +reused):\n%s", diff)
		}
		if len(s.Media) > MaxMedia {
			t.Fatalf("%d media", len(s.Media))
		}
		for _, md := range s.Media {
			if len(md.Codecs) > MaxCodecs || !within(b, md.Type) || !within(b, md.Formats) {
				t.Fatal("media out of bounds")
			}
			ep := md.RTCPEndpoint()
			if ep.IsValid() && md.Port == 0 {
				t.Fatal("endpoint for a disabled stream")
			}
		}
	})
}

// within reports whether sub is empty or lies inside b's memory.
func within(b, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	start := &b[0]
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	_ = start
	return false
}
