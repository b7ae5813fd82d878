package sip

import (
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mediaView is the readable form of a Media the tests compare.
type mediaView struct {
	Type, Proto, Formats string
	Port                 uint16
	Conn                 string
	RTCP                 string // RTCPEndpoint()
	RTP                  string // RTPEndpoint()
	Mux                  bool
	Codecs               []string // "PT name/rate"
}

func mediaViews(s *SDP) []mediaView {
	var out []mediaView
	for _, m := range s.Media {
		v := mediaView{Type: string(m.Type), Proto: string(m.Proto), Formats: string(m.Formats), Port: m.Port,
			Conn: m.Conn.String(), RTCP: m.RTCPEndpoint().String(), RTP: m.RTPEndpoint().String(), Mux: m.RTCPMux}
		for _, c := range m.Codecs {
			v.Codecs = append(v.Codecs, fmt.Sprintf("%d %s/%d", c.PT, c.Name, c.Rate))
		}
		out = append(out, v)
	}
	return out
}

func TestSDP(t *testing.T) {
	const none = "invalid AddrPort"
	tests := []struct {
		name     string
		in       string
		wantConn string
		want     []mediaView
		wantErr  error
	}{
		{
			name: "session c=, static and dynamic types, port+1",
			in: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.10/127\r\nt=0 0\r\n" +
				"m=audio 49170 RTP/AVP 0 8 18 101 96\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:8 pcma/8000\r\n",
			wantConn: "192.0.2.10",
			want: []mediaView{{Type: "audio", Proto: "RTP/AVP", Formats: "0 8 18 101 96", Port: 49170,
				Conn: "192.0.2.10", RTCP: "192.0.2.10:49171", RTP: "192.0.2.10:49170",
				Codecs: []string{"0 PCMU/8000", "8 pcma/8000", "18 G729/8000", "101 telephone-event/8000", "96 /0"}}},
		},
		{
			name: "media c= overrides, a=rtcp with and without address, rtcp-mux, IPv6, bare LF",
			in: "v=0\nc=IN IP4 192.0.2.10\n" +
				"m=audio 5004/2 RTP/AVP 0\nc=IN IP6 2001:db8::5\na=rtcp:5010\n" +
				"m=video 5006 RTP/AVP 31\na=rtcp:6000 IN IP4 198.51.100.7\n" +
				"m=audio 7000 UDP/TLS/RTP/SAVPF 111\na=rtcp-mux\na=rtpmap:111 opus/48000/2\n",
			wantConn: "192.0.2.10",
			want: []mediaView{
				{Type: "audio", Proto: "RTP/AVP", Formats: "0", Port: 5004, Conn: "2001:db8::5",
					RTCP: "[2001:db8::5]:5010", RTP: "[2001:db8::5]:5004", Codecs: []string{"0 PCMU/8000"}},
				{Type: "video", Proto: "RTP/AVP", Formats: "31", Port: 5006, Conn: "192.0.2.10",
					RTCP: "198.51.100.7:6000", RTP: "192.0.2.10:5006", Codecs: []string{"31 H261/90000"}},
				{Type: "audio", Proto: "UDP/TLS/RTP/SAVPF", Formats: "111", Port: 7000, Conn: "192.0.2.10",
					RTCP: "192.0.2.10:7000", RTP: "192.0.2.10:7000", Mux: true, Codecs: []string{"111 opus/48000"}},
			},
		},
		{
			name: "disabled stream, hold address, host name, datachannel",
			in: "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 4000 RTP/AVP 8\r\n" +
				"m=audio 4002 RTP/AVP 8\r\nc=IN IP4 media.example.com\r\n" +
				"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 192.0.2.1\r\n",
			wantConn: "0.0.0.0",
			want: []mediaView{
				{Type: "audio", Proto: "RTP/AVP", Formats: "0", Conn: "0.0.0.0", RTCP: none, RTP: none, Codecs: []string{"0 PCMU/8000"}},
				{Type: "audio", Proto: "RTP/AVP", Formats: "8", Port: 4000, Conn: "0.0.0.0", RTCP: none, RTP: none, Codecs: []string{"8 PCMA/8000"}},
				{Type: "audio", Proto: "RTP/AVP", Formats: "8", Port: 4002, Conn: "0.0.0.0", RTCP: none, RTP: none, Codecs: []string{"8 PCMA/8000"}},
				{Type: "application", Proto: "UDP/DTLS/SCTP", Formats: "webrtc-datachannel", Port: 9, Conn: "192.0.2.1",
					RTCP: none, RTP: "192.0.2.1:9"},
			},
		},
		{
			name:     "bad lines are skipped and reported",
			in:       "v=0\r\nthis is not sdp\r\nc=IN IP4 192.0.2.1\r\nm=audio x RTP/AVP 0\r\nm=audio 1000 RTP/AVP 0\r\na=rtcp:notaport\r\n",
			wantConn: "192.0.2.1",
			want: []mediaView{
				{Type: "audio", Conn: "192.0.2.1", RTCP: none, RTP: none},
				// The next one is fine.
				{Type: "audio", Proto: "RTP/AVP", Formats: "0", Port: 1000, Conn: "192.0.2.1",
					RTCP: "192.0.2.1:1001", RTP: "192.0.2.1:1000", Codecs: []string{"0 PCMU/8000"}},
			},
			wantErr: ErrBadSDP,
		},
		{
			name:     "bad c=",
			in:       "c=IN IPX 1.2.3.4\r\n",
			wantConn: "invalid IP",
			wantErr:  ErrBadSDP,
		},
	}
	var s SDP
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.DecodeFromBytes([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if got := s.Conn.String(); got != tt.wantConn {
				t.Errorf("Conn = %s, want %s", got, tt.wantConn)
			}
			if diff := cmp.Diff(tt.want, mediaViews(&s)); diff != "" {
				t.Errorf("Media mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSDPTooManyMedia(t *testing.T) {
	in := "c=IN IP4 192.0.2.1\r\n" + strings.Repeat("m=audio 1000 RTP/AVP 0\r\n", MaxMedia+3)
	var s SDP
	if err := s.DecodeFromBytes([]byte(in)); !errors.Is(err, ErrTooManyMedia) || len(s.Media) != MaxMedia {
		t.Errorf("got %v with %d media, want ErrTooManyMedia with %d", err, len(s.Media), MaxMedia)
	}
	// Reuse: a smaller SDP afterwards keeps no stale codecs.
	if err := s.DecodeFromBytes([]byte("m=audio 2000 RTP/AVP 8\r\n")); err != nil {
		t.Fatal(err)
	}
	if len(s.Media) != 1 || len(s.Media[0].Codecs) != 1 || s.Media[0].Codecs[0].PT != 8 || s.Conn.IsValid() {
		t.Errorf("after reuse: %+v", mediaViews(&s))
	}
	body := []byte(testInvite[strings.Index(testInvite, "v=0"):])
	if n := testing.AllocsPerRun(100, func() { _ = s.DecodeFromBytes(body) }); n != 0 {
		t.Errorf("SDP decode allocates %v times", n)
	}
}

func BenchmarkSDP(b *testing.B) {
	body := []byte(testInvite[strings.Index(testInvite, "v=0"):])
	var s SDP
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.DecodeFromBytes(body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseAddr checks the IPv4 fast path against netip.ParseAddr.
func TestParseAddr(t *testing.T) {
	ins := []string{"192.0.2.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3.04", "1.2.3",
		"1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", "1.2.3.-4", "1000.1.1.1", "2001:db8::1", "::ffff:1.2.3.4",
		"0.0.0.00", "10.0.0.255", "9.9.9.9", "", "a.b.c.d", "1.2.3.4/24", "1.2.3.25x"}
	r := rand.New(rand.NewSource(1))
	for range 20000 {
		b := make([]byte, r.Intn(16))
		for i := range b {
			b[i] = "0123456789....:x"[r.Intn(16)]
		}
		ins = append(ins, string(b))
	}
	for _, in := range ins {
		got, ok := parseAddr([]byte(in))
		want, err := netip.ParseAddr(in)
		if in == "" {
			err = errors.New("empty")
		}
		if ok != (err == nil) || ok && got != want {
			t.Errorf("parseAddr(%q) = %v, %v; netip: %v, %v", in, got, ok, want, err)
		}
	}
}
