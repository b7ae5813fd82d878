package dissect

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep"
)

// rtcpSR is a compound RTCP packet: an SR with one report block, then SDES.
//
//	81 c8 00 0c                 V=2 RC=1 PT=200 SR, length 12 words
//	1b 06 73 35                 SSRC 453407541
//	e4 bd 2a 5e 80 00 00 00     NTP 3837602398.2147483648
//	00 00 42 40                 RTP timestamp 16960
//	00 00 00 6a 00 00 42 40     packets 106, octets 16960
//	35 8b a3 5d                 report block: source SSRC 898343773
//	19 ff ff fe                 fraction lost 25, cumulative lost -2
//	00 01 51 91                 highest seq 86417
//	00 00 00 50                 jitter 80
//	2a 5d 80 00 00 00 80 00     LSR, DLSR
//	81 ca 00 05                 V=2 SC=1 PT=202 SDES, length 5 words
//	1b 06 73 35 01 0a "alice@host" 00 00 00 00   CNAME, end, padding
var rtcpSR = []byte{
	0x81, 0xc8, 0x00, 0x0c, 0x1b, 0x06, 0x73, 0x35,
	0xe4, 0xbd, 0x2a, 0x5e, 0x80, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x42, 0x40, 0x00, 0x00, 0x00, 0x6a, 0x00, 0x00, 0x42, 0x40,
	0x35, 0x8b, 0xa3, 0x5d, 0x19, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x51, 0x91,
	0x00, 0x00, 0x00, 0x50, 0x2a, 0x5d, 0x80, 0x00, 0x00, 0x00, 0x80, 0x00,
	0x81, 0xca, 0x00, 0x05, 0x1b, 0x06, 0x73, 0x35, 0x01, 0x0a,
	'a', 'l', 'i', 'c', 'e', '@', 'h', 'o', 's', 't', 0x00, 0x00, 0x00, 0x00,
}

// rtcpJSON is the same report as heplify sends it (HEP type 5, JSON).
const rtcpJSON = `{"sender_information":{"ntp_timestamp_sec":3837602398,"ntp_timestamp_usec":2147483648,"rtp_timestamp":16960,"packets":106,"octets":16960},"ssrc":453407541,"type":200,"report_count":1,"report_blocks":[{"source_ssrc":898343773,"fraction_lost":25,"packets_lost":-2,"highest_seq_no":86417,"ia_jitter":80,"lsr":710770688,"dlsr":32768}],"report_blocks_xr":{"type":0,"id":0,"fraction_lost":0,"fraction_discard":0,"burst_density":0,"gap_density":0,"burst_duration":0,"gap_duration":0,"round_trip_delay":0,"end_system_delay":0,"r_factor":0,"mos_lq":0,"mos_cq":0},"sdes_ssrc":453407541,"sdes":[{"ssrc":453407541,"type":1,"text":"alice@host"}]}`

func TestRTCP(t *testing.T) {
	d := newDissector(t, Config{})
	bin := dissect(t, d, encode(t, hep.ProtoRTCP, rtcpSR, nil))
	if bin.Table != "hep_proto_5_default" || bin.Reason != "" {
		t.Fatalf("binary: table %q reason %q", bin.Table, bin.Reason)
	}
	if d.RTCP() == nil || d.RTCP().Quality().FractionLost != 25.0/256 {
		t.Errorf("binary: RTCP() = %+v", d.RTCP())
	}
	if diff := cmp.Diff(map[string]any{"ssrc": 453407541.0, "type": 200.0}, bin.ProtocolHeader); diff != "" {
		t.Errorf("protocol_header (-want +got):\n%s", diff)
	}
	js := dissect(t, d, encode(t, hep.ProtoRTCP, []byte(rtcpJSON), nil))
	if js.Table != "hep_proto_5_default" || js.Reason != "" {
		t.Fatalf("JSON: table %q reason %q", js.Table, js.Reason)
	}
	// Binary and JSON input are stored in one shape.
	if diff := cmp.Diff(bin.Payload, js.Payload); diff != "" {
		t.Errorf("binary and JSON RTCP payloads differ (-binary +json):\n%s", diff)
	}
	if diff := cmp.Diff(bin.ProtocolHeader, js.ProtocolHeader); diff != "" {
		t.Errorf("binary and JSON RTCP protocol_header differ (-binary +json):\n%s", diff)
	}

	tests := []struct {
		name    string
		payload []byte
		reason  string
		partial bool
	}{
		{"too short", []byte{0x80, 0xc8}, "rtcp_truncated", false},
		{"version 1", append([]byte{0x40}, rtcpSR[1:]...), "rtcp_version", false},
		{"bad JSON", []byte(`{"type":`), "rtcp_json", false},
		{"JSON without type", []byte(`{"ssrc":1}`), "rtcp_json", false},
		{"SDES cut short", rtcpSR[:len(rtcpSR)-8], "rtcp_length", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dissect(t, d, encode(t, hep.ProtoRTCP, tt.payload, nil))
			p := r.Payload.(map[string]any)
			if diff := cmp.Diff([]any{"hep_proto_5_default", tt.reason, true, tt.partial}, []any{r.Table, r.Reason, p["error"] != nil, p["ssrc"] != nil}); diff != "" {
				t.Errorf("table, reason, has error, partial (-want +got):\n%s", diff)
			}
		})
	}
}
