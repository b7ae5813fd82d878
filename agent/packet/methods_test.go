package packet

import (
	"strings"
	"testing"

	"github.com/xhep/xhep/agent/source"
)

// protos builds PROTOS c07-sip style requests: a start line, then the
// usual headers; any part may be invented or over-long.
func protos(method, uri string, extra string) []byte {
	return []byte(method + " " + uri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-protos\r\n" +
		"From: <sip:c07@10.0.0.1>;tag=1\r\nTo: <sip:bob@10.0.0.2>\r\n" +
		"Call-ID: protos-1@10.0.0.1\r\nCSeq: 1 " + method + "\r\n" + extra +
		"Content-Length: 0\r\n\r\n")
}

// TestExtensionMethods: a request is SIP by its structure (RFC 3261: the
// method is any token, then SP Request-URI SP SIP/2.0), not by a list of
// names; junk and keep-alives are still told apart and counted. On SIP
// ports any well-formed request line counts, however long; elsewhere
// (SIPByContent) the same test within the first 2,048 bytes.
func TestExtensionMethods(t *testing.T) {
	invented := [][]byte{
		protos("FOOBAR", "sip:bob@10.0.0.2", ""),                                            // invented method
		protos("X-PROTOS.c07_1%+!", "sip:bob@10.0.0.2", ""),                                 // token punctuation
		protos("notify", "sip:bob@10.0.0.2", ""),                                            // methods are case-sensitive tokens: lower case is a method too
		protos("SERVICE", "sip:bob@10.0.0.2", ""),                                           // 3GPP
		protos("BENOTIFY", "sip:"+strings.Repeat("a", 3000)+"@10.0.0.2", ""),                // over-long Request-URI
		protos(strings.Repeat("M", 600), "sip:bob@10.0.0.2", ""),                            // over-long method
		protos("INVITE", "sip:bob@10.0.0.2", "Subject: "+strings.Repeat("x", 20000)+"\r\n"), // over-long header
	}
	junk := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),                              // HTTP on 5060
		[]byte("FO<O sip:bob@10.0.0.2 SIP/2.0\r\n\r\n"),                          // not a token
		[]byte("FOO  sip:bob@10.0.0.2 SIP/2.0\r\n\r\n"),                          // empty Request-URI
		[]byte("FOO sip:bob@10.0.0.2 SIP/3.0\r\nVia: x\r\n\r\n"),                 // not SIP/2.0
		[]byte("FOO sip:bob@10.0.0.2\x01x SIP/2.0\r\n\r\n"),                      // control character in the URI
		[]byte("FOO sip:bob@10.0.0.2 SIP/2.0 and more text, no line end at all"), // no line end
		[]byte(strings.Repeat("\xff\x00\x13", 40)),                               // binary
	}
	keepAlives := [][]byte{[]byte("\r\n\r\n"), []byte("hello"), make([]byte, 4)}

	var frames []source.Frame
	var want []got
	for _, p := range invented {
		frames = append(frames, frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(p))))
		want = append(want, want4("sip", 17, 0, p))
	}
	for _, p := range append(junk, keepAlives...) {
		frames = append(frames, frame(source.LinkEthernet, ts0, eth(0x0800, sipUDP4(p))))
	}
	// Off the SIP ports: structure within the first 2,048 bytes.
	off := func(p []byte) source.Frame {
		return frame(source.LinkEthernet, ts0, eth(0x0800, ip4(17, "10.0.0.1", "10.0.0.2", udp(40000, 40002, p))))
	}
	frames = append(frames, off(invented[0]), off(invented[4]), off(junk[0]))
	want = append(want, got{"sip", 17, "10.0.0.1:40000", "10.0.0.2:40002", 0, ts0, string(invented[0])})
	out, st, _ := run(t, nil, frames...)
	check(t, want, out, map[string]uint64{
		"Messages.sip": uint64(len(invented) + 1),
		"Junk":         uint64(len(junk)),
		"KeepAlives":   uint64(len(keepAlives)),
		"Unclassified": 2, // over-long URI and HTTP off the SIP ports
	}, st)
}

// TestExtensionMethodOverTCP: on a SIP port a stream of requests with an
// invented method frames message by message, and after a gap the framer
// finds the next request line by its structure, not its method name.
func TestExtensionMethodOverTCP(t *testing.T) {
	a, b := protos("FOOBAR", "sip:bob@10.0.0.2", ""), protos("QUUX", "sip:bob@10.0.0.2", "")
	stream := append(append([]byte("garbage after a gap\r\n"), a...), b...)
	frames := []source.Frame{
		frame(source.LinkEthernet, ts0, eth(0x0800, ip4(6, "10.0.0.1", "10.0.0.2", tcp(40000, 5060, 1000, 0x18, stream)))),
	}
	out, st, d := run(t, nil, frames...)
	d.Expire(ts0+int64(1e12), func(m *Message) { out = append(out, summarize(m)) })
	st = d.Stats()
	want := []got{
		{"sip", 6, "10.0.0.1:40000", "10.0.0.2:5060", 0, ts0, string(a)},
		{"sip", 6, "10.0.0.1:40000", "10.0.0.2:5060", 0, ts0, string(b)},
	}
	check(t, want, out, map[string]uint64{"Messages.sip": 2}, st)
}
