package rtcp

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/xhep/xhep/hep/internal/pcaptest"
)

// srSDESDump: SR (RC=1) + SDES (SC=1, CNAME "alice@host"), 52+24 bytes.
const srSDESDump = `
81 c8 00 0c              // V=2 P=0 RC=1, PT=200 SR, length 12 (52 bytes)
1b 06 73 35              // SSRC of sender 453407541
e4 bd 2a 5e              // NTP seconds 3837602398
80 00 00 00              // NTP fraction (0.5 s)
00 00 42 40              // RTP timestamp 16960
00 00 00 6a              // sender's packet count 106
00 00 42 40              // sender's octet count 16960
35 8b a3 5d              // report block 1: SSRC of source 898343773
19 ff ff fe              // fraction lost 25 (25/256), cumulative lost -2
00 01 51 91              // extended highest seq 86417
00 00 00 50              // jitter 80 (10 ms at 8 kHz)
2a 5d 80 00              // LSR: NTP middle 32 bits 0x2a5d8000 (= 0x2a5e8000 - 1 s)
00 00 80 00              // DLSR 0.5 s
81 ca 00 05              // V=2 P=0 SC=1, PT=202 SDES, length 5 (24 bytes)
1b 06 73 35              // chunk SSRC 453407541
01 0a 61 6c 69 63 65 40  // CNAME, 10 bytes "alice@"
68 6f 73 74              // "host"
00 00 00 00              // end of items, padding
`

// rrByeDump: RR (RC=0) + BYE (SC=1, reason "done") with padding on the
// last sub-packet.
const rrByeDump = `
80 c9 00 01              // V=2 RC=0 PT=201 RR, length 1
00 00 00 07              // SSRC 7
a1 cb 00 03              // V=2 P=1 SC=1 PT=203 BYE, length 3
00 00 00 07              // SSRC 7
04 64 6f 6e 65 00 00 03  // reason length 4 "done", then 3 padding octets (last = 3)
`

// xrDump: XR with a VoIP Metrics block.
const xrDump = `
80 cf 00 0a              // V=2 PT=207 XR, length 10
00 00 00 09              // SSRC 9
07 00 00 08              // BT=7 VoIP Metrics, block length 8
00 00 00 0a              // SSRC of source 10
0c 00 01 02              // loss rate 12, discard 0, burst density 1, gap density 2
00 14 00 1e              // burst duration 20, gap duration 30
00 28 00 05              // round trip delay 40 ms, end system delay 5
7f 7f 7f 7f              // signal, noise, RERL, Gmin
5d 7f 29 2b              // R factor 93, ext R 127, MOS-LQ 41, MOS-CQ 43
00 00 00 3c              // RX config, reserved, JB nominal 60
00 78 00 c8              // JB maximum 120, JB abs max 200
`

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"sr+sdes", pcaptest.Unhex(t, srSDESDump), true},
		{"rr+bye padded", pcaptest.Unhex(t, rrByeDump), true},
		{"xr alone", pcaptest.Unhex(t, xrDump), true},
		{"trailing byte", append(pcaptest.Unhex(t, srSDESDump), 0), true},
		{"two trailing bytes", append(pcaptest.Unhex(t, srSDESDump), 0, 0), true},
		{"three trailing bytes", append(pcaptest.Unhex(t, srSDESDump), 1, 2, 3), true},
		{"srtcp index and tag", append(pcaptest.Unhex(t, srSDESDump), 0x80, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), false},
		{"header alone and trailing", pcaptest.Unhex(t, "80 c9 00 00 00 00"), false},
		{"short by one word", pcaptest.Unhex(t, srSDESDump)[:72], false},
		{"rtp", pcaptest.Unhex(t, "80 00 12 34 00 00 00 01 00 00 00 02 ff ff ff ff"), false},
		{"version 1", pcaptest.Unhex(t, "40 c9 00 01 00 00 00 07"), false},
		{"type 199", pcaptest.Unhex(t, "80 c7 00 01 00 00 00 07"), false},
		{"second type 210", pcaptest.Unhex(t, "80 c9 00 01 00 00 00 07 80 d2 00 00"), false},
		{"too short", pcaptest.Unhex(t, "80 c9 00 00"), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := Valid(tt.in); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Packet
		wantErr error
	}{
		{
			name: "sr+sdes",
			in:   pcaptest.Unhex(t, srSDESDump),
			want: Packet{
				Type: 200, ReportCount: 1, SSRC: 453407541, HasSender: true,
				Sender: SenderInfo{NTPSec: 3837602398, NTPFrac: 0x80000000, RTPTimestamp: 16960, Packets: 106, Octets: 16960},
				ReportBlocks: []ReportBlock{{SourceSSRC: 898343773, FractionLost: 25, PacketsLost: -2,
					HighestSeq: 86417, Jitter: 80, LSR: 0x2a5d8000, DLSR: 0x8000}},
				SDESSSRC: 453407541,
				SDES:     []SDESItem{{SSRC: 453407541, Type: 1, Text: []byte("alice@host")}},
				Types:    1<<0 | 1<<2,
			},
		},
		{
			name: "rr+bye",
			in:   pcaptest.Unhex(t, rrByeDump),
			want: Packet{Type: 201, SSRC: 7, BYE: []uint32{7}, BYEReason: []byte("done"), Types: 1<<1 | 1<<3},
		},
		{
			name: "xr",
			in:   pcaptest.Unhex(t, xrDump),
			want: Packet{Type: 207, SSRC: 9, Types: 1 << 7, XR: XRVoIP{Type: 7, SSRC: 10, LossRate: 12, BurstDensity: 1,
				GapDensity: 2, BurstDuration: 20, GapDuration: 30, RoundTripDelay: 40, EndSystemDelay: 5,
				RFactor: 93, MOSLQ: 41, MOSCQ: 43, present: true, isVoIP: true}},
		},
		{
			name:    "sr with more blocks than its length",
			in:      pcaptest.Unhex(t, "82 c8 00 06 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
			want:    Packet{Type: 200, ReportCount: 2, SSRC: 1, Types: 1},
			wantErr: ErrTruncated,
		},
		{
			name:    "length beyond datagram",
			in:      pcaptest.Unhex(t, "80 c9 00 05 00 00 00 07"),
			wantErr: ErrLength,
		},
		{
			name:    "bad padding",
			in:      pcaptest.Unhex(t, "a0 c9 00 01 00 00 00 00"),
			wantErr: ErrLength,
		},
		{
			name:    "version",
			in:      pcaptest.Unhex(t, "00 c9 00 01 00 00 00 07"),
			wantErr: ErrVersion,
		},
		{
			name:    "sdes item past the end",
			in:      pcaptest.Unhex(t, "81 ca 00 02 00 00 00 01 01 09 61 62"),
			want:    Packet{Type: 202, ReportCount: 1, SSRC: 1, SDESSSRC: 1, Types: 1 << 2},
			wantErr: ErrTruncated,
		},
	}
	var p Packet
	opts := []cmp.Option{cmp.AllowUnexported(Packet{}, XRVoIP{}, jsonScratch{}), cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(Packet{}, "reportSeen", "json")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.DecodeFromBytes(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, p, opts...); diff != "" {
				t.Errorf("DecodeFromBytes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuality(t *testing.T) {
	var p Packet
	if err := p.DecodeFromBytes(pcaptest.Unhex(t, srSDESDump)); err != nil {
		t.Fatal(err)
	}
	// NTP middle 32 bits of the SR: 0x2a5e8000; minus LSR 0x2a5d8000 = 1 s,
	// minus DLSR 0.5 s = 0.5 s.
	want := Quality{Jitter: 10, JitterUnits: 80, FractionLost: 25.0 / 256, CumulativeLost: -2,
		RTT: 500 * time.Millisecond, Valid: true}
	if diff := cmp.Diff(want, p.Quality()); diff != "" {
		t.Errorf("Quality mismatch (-want +got):\n%s", diff)
	}
	if err := p.DecodeFromBytes(pcaptest.Unhex(t, xrDump)); err != nil {
		t.Fatal(err)
	}
	want = Quality{FractionLost: 12.0 / 256, RTT: 40 * time.Millisecond, Valid: true}
	if diff := cmp.Diff(want, p.Quality()); diff != "" {
		t.Errorf("XR Quality mismatch (-want +got):\n%s", diff)
	}
	if err := p.DecodeFromBytes(pcaptest.Unhex(t, rrByeDump)); err != nil {
		t.Fatal(err)
	}
	if q := p.Quality(); q.Valid {
		t.Errorf("Quality of a packet without reports = %+v, want invalid", q)
	}
}

// TestJSONGolden compares AppendJSON with golden files and checks the
// output is valid JSON that DecodeJSON reads back to the same packet.
func TestJSONGolden(t *testing.T) {
	for _, name := range []string{"sr_sdes", "rr_bye", "xr"} {
		dump := map[string]string{"sr_sdes": srSDESDump, "rr_bye": rrByeDump, "xr": xrDump}[name]
		t.Run(name, func(t *testing.T) {
			var p Packet
			if err := p.DecodeFromBytes(pcaptest.Unhex(t, dump)); err != nil {
				t.Fatal(err)
			}
			got := p.AppendJSON(nil)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			golden := filepath.Join("testdata", name+".json")
			if os.Getenv("XHEP_UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
				t.Errorf("AppendJSON mismatch (-want +got):\n%s", diff)
			}
			var q Packet
			if err := q.DecodeJSON(got); err != nil {
				t.Fatal(err)
			}
			if again := q.AppendJSON(nil); string(again) != string(got) {
				t.Errorf("JSON round trip:\n got %s\nwant %s", again, got)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	// The shape captagent/hepgen sends (see hep-wireshark's hep.pcap): keys
	// in another order, a signed lsr, a 64-bit ntp_timestamp_usec.
	const captagent = `{"sender_information":{"ntp_timestamp_sec":3650797214,"packets":106,` +
		`"ntp_timestamp_usec":13217348104192,"octets":16960,"rtp_timestamp":16960},"ssrc":451916597,` +
		`"type":200,"report_blocks":[{"source_ssrc":898343773,"highest_seq_no":20881,"fraction_lost":0,` +
		`"ia_jitter":1,"packets_lost":0,"lsr":-1097006646,"dlsr":7733}],"report_count":0}`
	var p Packet
	if err := p.DecodeJSON([]byte(captagent)); err != nil {
		t.Fatal(err)
	}
	want := Packet{
		Type: 200, SSRC: 451916597, HasSender: true, Types: 1,
		Sender: SenderInfo{NTPSec: 3650797214, NTPFrac: 13217348104192, RTPTimestamp: 16960, Packets: 106, Octets: 16960},
		ReportBlocks: []ReportBlock{{SourceSSRC: 898343773, HighestSeq: 20881, Jitter: 1,
			LSR: uint32(1<<32 - 1097006646), DLSR: 7733}},
	}
	opts := []cmp.Option{cmp.AllowUnexported(XRVoIP{}), cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(Packet{}, "reportSeen", "json")}
	if diff := cmp.Diff(want, p, opts...); diff != "" {
		t.Errorf("DecodeJSON mismatch (-want +got):\n%s", diff)
	}
	if q := p.Quality(); q.RTT != 0 {
		t.Errorf("RTT from an out-of-range NTP fraction = %v, want 0", q.RTT)
	}

	for _, bad := range []string{``, `[]`, `{"type":200} x`, `{"ssrc":1}`, `{"type":199}`, `{"type":"x"}`, `{"type":200,"ssrc":"abc"}`, `{"type":200`} {
		if err := p.DecodeJSON([]byte(bad)); !errors.Is(err, ErrJSON) {
			t.Errorf("DecodeJSON(%q) = %v, want ErrJSON", bad, err)
		}
	}
}

func TestDecodeReuse(t *testing.T) {
	var p Packet
	b := pcaptest.Unhex(t, srSDESDump)
	dst := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() {
		_ = p.DecodeFromBytes(b)
		dst = p.AppendJSON(dst[:0])
	}); n != 0 {
		t.Errorf("decode + AppendJSON allocates %v times per packet", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	in := pcaptest.Unhex(b, srSDESDump)
	var p Packet
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.DecodeFromBytes(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAppendJSON(b *testing.B) {
	in := pcaptest.Unhex(b, srSDESDump)
	var p Packet
	dst := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.DecodeFromBytes(in); err != nil {
			b.Fatal(err)
		}
		dst = p.AppendJSON(dst[:0])
	}
}

func BenchmarkValid(b *testing.B) {
	in := pcaptest.Unhex(b, srSDESDump)
	b.ReportAllocs()
	for b.Loop() {
		if !Valid(in) {
			b.Fatal()
		}
	}
}

// TestTrailingBytes: 1 to 3 bytes after the last sub-packet (sub-packet
// lengths are whole words, so they cannot start another) are padding, as
// Wireshark takes them: the packet decodes as without them and
// Packet.Trailing says how many there were.
func TestTrailingBytes(t *testing.T) {
	plain := pcaptest.Unhex(t, srSDESDump)
	var want Packet
	if err := want.DecodeFromBytes(plain); err != nil {
		t.Fatal(err)
	}
	wantJSON := string(want.AppendJSON(nil))
	for n := 1; n <= 3; n++ {
		var p Packet
		b := append(append([]byte(nil), plain...), make([]byte, n)...)
		if err := p.DecodeFromBytes(b); err != nil {
			t.Fatalf("%d trailing: %v", n, err)
		}
		if p.Trailing != n {
			t.Errorf("%d trailing: Trailing = %d", n, p.Trailing)
		}
		if got := string(p.AppendJSON(nil)); got != wantJSON {
			t.Errorf("%d trailing: JSON\n%s\nwant\n%s", n, got, wantJSON)
		}
	}
	var p Packet
	if err := p.DecodeFromBytes(append(append([]byte(nil), plain...), 0x80, 0xc9, 0, 0)); err != ErrTruncated {
		t.Errorf("a 4-byte header without its SSRC: %v, want ErrTruncated", err)
	}
}
