package api

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		query    string
		from, to time.Time
		err      string
	}{
		{"", now.Add(-time.Hour), now, ""},
		{"to=2026-03-10T11:00:00Z", now.Add(-2 * time.Hour), now.Add(-time.Hour), ""},
		{"from=2026-03-10T11:30:00Z", now.Add(-30 * time.Minute), now, ""},
		{"from=2026-03-10T11:30:00.5%2B01:00&to=1773144000", now.Add(-90*time.Minute + 500*time.Millisecond), now, ""},
		{"from=1773140400.25&to=1773144000", now.Add(-time.Hour + 250*time.Millisecond), now, ""},
		{"from=2026-03-09T11:00:00Z", time.Time{}, time.Time{}, "longer than the maximum"},
		{"from=2026-03-10T13:00:00Z", time.Time{}, time.Time{}, "is before from"},
		// What a datetime-local input gives: no seconds when they are
		// zero, with the Z the UI adds, or without a zone (UTC).
		{"from=2026-03-10T11:00Z&to=2026-03-10T11:30Z", now.Add(-time.Hour), now.Add(-30 * time.Minute), ""},
		{"from=2026-03-10T11:00&to=2026-03-10T11:30:15", now.Add(-time.Hour), now.Add(-30*time.Minute + 15*time.Second), ""},
		{"from=2026-03-10T11:00:00.123456789Z", now.Add(-time.Hour + 123456*time.Microsecond), now, ""},
		{"from=2026-03-10+11:00%2B01:00", now.Add(-2 * time.Hour), now, ""},
		{"from=2026-03-10", now.Add(-12 * time.Hour), now, ""},
		{"from=2026-03-10T11Z", time.Time{}, time.Time{}, "not an RFC 3339 time"},
		// A user's time zone for zone-less input; a zone in the value wins.
		{"from=2026-03-10T12:00&to=2026-03-10T12:30&tz=Europe/Berlin", now.Add(-time.Hour), now.Add(-30 * time.Minute), ""},
		{"from=2026-03-10T11:00Z&tz=Asia/Tokyo", now.Add(-time.Hour), now, ""},
		{"from=2026-03-10T11:00&tz=Mars/Base", time.Time{}, time.Time{}, "not an IANA time zone"},
		{"from=-5", time.Time{}, time.Time{}, "not an RFC 3339 time"},
		{"to=1e300", time.Time{}, time.Time{}, "not an RFC 3339 time"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		r, err := parseRange(q, now, time.Hour, 24*time.Hour)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if diff := cmp.Diff(timeRange{tc.from, tc.to}, r); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.query, diff)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}

func TestForDomain(t *testing.T) {
	domains := map[string]bool{"voip.example.com": true, "trunk.example.net": true}
	for q, want := range map[string]bool{
		"voip.example.com":           true,
		"VOIP.example.com.":          true,
		"_sip._udp.voip.example.com": true,
		"sip1.trunk.example.net":     true,
		"example.com":                false,
		"sip1.voip.example.co":       false,
		"xvoip.example.com":          false,
		"":                           false,
		"voip.example.com.evil.test": false,
	} {
		if got := forDomain(q, domains); got != want {
			t.Errorf("forDomain(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestLikePrefix(t *testing.T) {
	for in, want := range map[string]string{"100": "100%", "a_b%c": `a\_b\%c%`, `x\y`: `x\\y%`} {
		if got := likePrefix(in); got != want {
			t.Errorf("likePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSummarize(t *testing.T) {
	at := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	msgs := []Message{
		{Time: ms(0), Method: "INVITE", CSeqMethod: "INVITE", FromUser: "1001", ToUser: "1002", RURIUser: "1002", SrcIP: "10.1.0.1", DstIP: "10.0.0.10", UserAgent: "phone"},
		{Time: ms(5), Method: "407", Status: 407, CSeqMethod: "INVITE"},
		{Time: ms(6), Method: "ACK", CSeqMethod: "ACK"},
		{Time: ms(10), Method: "INVITE", CSeqMethod: "INVITE"},
		{Time: ms(20), Method: "180", Status: 180, CSeqMethod: "INVITE"},
		{Time: ms(1000), Method: "200", Status: 200, CSeqMethod: "INVITE"},
		{Time: ms(1001), Method: "ACK", CSeqMethod: "ACK"},
		{Time: ms(61000), Method: "BYE", CSeqMethod: "BYE"},
		{Time: ms(61010), Method: "200", Status: 200, CSeqMethod: "BYE"},
	}
	want := Call{CallID: "c1", First: ms(0), Last: ms(61010), DurationMS: 61010, TalkMS: 60000, Messages: 9, FinalStatus: 200,
		Method: "INVITE", FromUser: "1001", ToUser: "1002", RURIUser: "1002", SrcIP: "10.1.0.1", DstIP: "10.0.0.10", UserAgent: "phone"}
	if diff := cmp.Diff(want, summarize("c1", msgs)); diff != "" {
		t.Errorf("answered call (-want +got):\n%s", diff)
	}
	cancelled := []Message{
		{Time: ms(0), Method: "INVITE", CSeqMethod: "INVITE"},
		{Time: ms(900), Method: "CANCEL", CSeqMethod: "CANCEL"},
		{Time: ms(901), Method: "200", Status: 200, CSeqMethod: "CANCEL"},
		{Time: ms(902), Method: "487", Status: 487, CSeqMethod: "INVITE"},
		{Time: ms(903), Method: "ACK", CSeqMethod: "ACK"},
	}
	if got := summarize("c2", cancelled); got.FinalStatus != 487 || got.TalkMS != 0 || got.Messages != 5 {
		t.Errorf("cancelled call: %+v, want final 487, no talk time, 5 messages", got)
	}
}

func TestNTPMiddle(t *testing.T) {
	// 2026-03-10T10:00:00.5Z is NTP second 3982384800 (+2208988800 on Unix
	// 1773136800), fraction 0x80000000: middle 32 bits 0x5f60.8000.
	got := ntpMiddle(time.Date(2026, 3, 10, 10, 0, 0, 500_000_000, time.UTC))
	sec := uint32((1773136800 + 2208988800) & 0xffff)
	if want := sec<<16 | 0x8000; got != want {
		t.Errorf("ntpMiddle = %#x, want %#x", got, want)
	}
}

// TestStreamsNoReportBlocks: an SR without report blocks (report_count 0,
// as heplify's JSON and ours write it, sometimes with an all-zero block)
// makes no stream "on 0"; the RR's block is a stream.
func TestStreamsNoReportBlocks(t *testing.T) {
	ts := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	e := func(report string) RTCPEntry {
		return RTCPEntry{Time: ts, TimeUS: ts.UnixMicro(), SrcIP: "10.0.0.1", SrcPort: 4001, DstIP: "10.0.0.2", DstPort: 5001, Report: []byte(report)}
	}
	got := streams([]RTCPEntry{
		e(`{"ssrc":1111,"type":200,"report_count":0,"report_blocks":[]}`),
		e(`{"ssrc":1111,"type":200,"report_count":0,"report_blocks":[{"source_ssrc":0,"fraction_lost":0,"packets_lost":0,"ia_jitter":0,"lsr":0,"dlsr":0}]}`),
		e(`{"ssrc":2222,"type":201,"report_blocks":[{"source_ssrc":0,"fraction_lost":0,"packets_lost":0,"ia_jitter":0,"lsr":0,"dlsr":0}]}`),
		e(`{"ssrc":3333,"type":201,"report_count":1,"report_blocks":[{"source_ssrc":1111,"fraction_lost":64,"packets_lost":3,"ia_jitter":80,"lsr":0,"dlsr":0}]}`),
	})
	var keys []string
	for _, s := range got {
		keys = append(keys, fmt.Sprintf("%d on %d: %d points", s.ReporterSSRC, s.SourceSSRC, len(s.Points)))
	}
	if diff := cmp.Diff([]string{"3333 on 1111: 1 points"}, keys); diff != "" {
		t.Errorf("streams (-want +got):\n%s", diff)
	}
}
