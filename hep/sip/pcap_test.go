package sip

import (
	"errors"
	"testing"

	"github.com/xhep/xhep/hep/internal/pcaptest"
)

func TestRealCaptures(t *testing.T) {
	t.Run("compact form", func(t *testing.T) {
		pl := pcaptest.UDPPayloads(t, "suricata_sip_compact_form.pcap")
		if len(pl) != 1 {
			t.Fatalf("%d datagrams, want 1", len(pl))
		}
		var m Message
		if err := m.DecodeFromBytes(pl[0]); err != nil {
			t.Fatal(err)
		}
		// The capture's "l: 272" is 100 bytes short of its SDP: on UDP the
		// bytes past Content-Length are not part of the message (RFC 3261
		// §18.3), so the frame ends at 522 + 272.
		if n, err := FrameLength(pl[0]); err != nil || n != 794 {
			t.Errorf("FrameLength = %d, %v; want 794", n, err)
		}
		got := []string{string(m.Method), string(m.From.Display), string(m.From.URI.User), string(m.From.Tag),
			string(m.To.URI.User), string(m.Via[0].Branch), string(m.ContentType), itoa(m.ContentLength), itoa(len(m.Body))}
		want := []string{"INVITE", `\"arik\"`, "816666", "6433ef9", "97239287044",
			"z9hG4bKnp104984053-44ce4a41192.168.1.2", "application/sdp", "272", "272"}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("field %d = %q, want %q", i, got[i], want[i])
			}
		}
		var s SDP
		if err := s.DecodeFromBytes(pl[0][522:]); err != nil {
			t.Fatal(err)
		}
		if len(s.Media) != 1 || s.Media[0].Port != 30000 || s.Media[0].RTCPEndpoint().String() != "192.168.1.2:30001" {
			t.Errorf("SDP media = %+v", s.Media)
		}
	})
	t.Run("invalid content-length", func(t *testing.T) {
		var m Message
		for _, p := range pcaptest.UDPPayloads(t, "zeek_sip_invalid-content-length.pcap") {
			if err := m.DecodeFromBytes(p); !errors.Is(err, ErrBadContentLength) {
				t.Errorf("DecodeFromBytes = %v, want ErrBadContentLength", err)
			}
		}
	})
	t.Run("junk before request", func(t *testing.T) {
		pl := pcaptest.UDPPayloads(t, "zeek_sip_junk-before-request.pcap")
		if len(pl) != 2 || LooksLikeSIP(pl[0]) || !LooksLikeSIP(pl[1]) {
			t.Fatalf("LooksLikeSIP wrong on %q", pl)
		}
		var m Message
		if err := m.DecodeFromBytes(pl[0]); !errors.Is(err, ErrMalformed) {
			t.Errorf("junk: %v, want ErrMalformed", err)
		}
		if err := m.DecodeFromBytes(pl[1]); err != nil {
			t.Errorf("REGISTER: %v", err)
		}
	})
	// Every SIP datagram of these captures decodes without error.
	for _, name := range []string{
		"wireshark_SIP_CALL_RTP_G711.pcap", "heplify_sip_ipv6_udp.pcap", "wireshark_SIP_DTMF2.pcap",
		"wireshark_Asterisk_ZFONE_XLITE.pcap", "wireshark_metasploit-sip-invite-spoof.pcap",
		"sipnab_rtp-protocol_prack_rtcp.pcap", "wireshark_sip-rtp-g711.pcap", "pcapplusplus_sip_non_default_port.pcap",
		"heplify_ipip0_rawip_sip.pcap",
	} {
		t.Run(name, func(t *testing.T) {
			var m Message
			var s SDP
			n := 0
			for _, p := range pcaptest.UDPPayloads(t, name) {
				if !LooksLikeSIP(p) {
					continue
				}
				n++
				if err := m.DecodeFromBytes(p); err != nil {
					t.Errorf("message %d: %v\n%s", n, err, p)
					continue
				}
				if len(m.CallID) == 0 || m.CSeqMethod == nil || len(m.Via) == 0 {
					t.Errorf("message %d: missing Call-ID, CSeq or Via", n)
				}
				if len(m.Body) > 0 {
					if err := s.DecodeFromBytes(m.Body); err != nil {
						t.Errorf("message %d SDP: %v", n, err)
					}
				}
			}
			if n == 0 {
				t.Error("no SIP found")
			}
		})
	}
}
