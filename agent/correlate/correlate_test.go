package correlate

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xhep/xhep/hep/sip"
)

const sec = int64(time.Second)

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func newTable(t testing.TB, cfg Config) *Table {
	t.Helper()
	tb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// op is one step of a table-driven scenario.
type op struct {
	add    string // endpoint to add under callID
	end    bool   // End(callID)
	expire bool   // Expire(now)
	src    string // Lookup(src, dst)
	dst    string
	callID string
	at     int64 // seconds after base
	want   string
}

func run(t *testing.T, tb *Table, ops []op) {
	t.Helper()
	for k, o := range ops {
		now := base + o.at*sec
		switch {
		case o.add != "":
			tb.Add(ap(o.add), []byte(o.callID), now)
		case o.end:
			tb.End([]byte(o.callID), now)
		case o.expire:
			tb.Expire(now)
		default:
			got, _ := tb.Lookup(ap(o.src), ap(o.dst), now)
			if string(got) != o.want {
				t.Errorf("step %d: Lookup(%s, %s) at +%ds = %q, want %q", k, o.src, o.dst, o.at, got, o.want)
			}
		}
	}
}

func TestTable(t *testing.T) {
	cfg := Config{MaxEntries: 4, MaxCallIDLen: 16, TTL: 60 * time.Second, EndTTL: 5 * time.Second}
	tests := []struct {
		name string
		ops  []op
		want Stats
	}{
		{
			name: "both directions",
			ops: []op{
				{add: "10.0.0.1:4001", callID: "call-a"},
				{add: "10.0.0.2:6001", callID: "call-a"},
				{src: "10.0.0.1:4001", dst: "10.0.0.2:6001", want: "call-a"},
				{src: "10.0.0.2:6001", dst: "10.0.0.1:4001", want: "call-a"},
				{src: "10.0.0.9:4001", dst: "10.0.0.1:4001", want: "call-a"}, // dst only (NAT)
				{src: "10.0.0.1:4003", dst: "10.0.0.2:6003", want: ""},
				{src: "[::ffff:10.0.0.1]:4001", dst: "[::1]:1", want: "call-a"}, // IPv4-mapped
			},
			want: Stats{Entries: 2, Added: 2, Hits: 4, Misses: 1, Capacity: 4},
		},
		{
			name: "ttl renewed by rtcp, expires without",
			ops: []op{
				{add: "10.0.0.1:4001", callID: "c"},
				{src: "10.0.0.1:4001", dst: "10.0.0.2:1", at: 50, want: "c"},
				{src: "10.0.0.1:4001", dst: "10.0.0.2:1", at: 100, want: "c"}, // renewed at 50
				{src: "10.0.0.1:4001", dst: "10.0.0.2:1", at: 161, want: ""},
			},
			want: Stats{Entries: 0, Added: 1, Expired: 1, Hits: 2, Misses: 1, Capacity: 4},
		},
		{
			name: "end shortens ttl and stops renewal",
			ops: []op{
				{add: "10.0.0.1:4001", callID: "c"},
				{add: "10.0.0.2:6001", callID: "c"},
				{add: "10.0.0.3:8001", callID: "other"},
				{end: true, callID: "c", at: 10},
				{src: "10.0.0.1:4001", dst: "10.0.0.7:1", at: 14, want: "c"},
				{src: "10.0.0.2:6001", dst: "10.0.0.7:1", at: 15, want: ""},
				{src: "10.0.0.3:8001", dst: "10.0.0.7:1", at: 15, want: "other"},
				{end: true, callID: "unknown", at: 15},
			},
			want: Stats{Entries: 2, Added: 3, Expired: 1, Ended: 1, Hits: 2, Misses: 1, Capacity: 4},
		},
		{
			name: "new sdp after end revives the call",
			ops: []op{
				{add: "10.0.0.1:4001", callID: "c"},
				{end: true, callID: "c", at: 1},
				{add: "10.0.0.1:4001", callID: "c", at: 2},
				{src: "10.0.0.1:4001", dst: "10.0.0.7:1", at: 30, want: "c"},
			},
			want: Stats{Entries: 1, Added: 1, Updated: 1, Ended: 1, Hits: 1, Capacity: 4},
		},
		{
			name: "endpoint moves to a new call",
			ops: []op{
				{add: "10.0.0.1:4001", callID: "old"},
				{add: "10.0.0.1:4001", callID: "new"},
				{src: "10.0.0.1:4001", dst: "10.0.0.7:1", want: "new"},
				{end: true, callID: "old"}, // no longer has endpoints
				{src: "10.0.0.1:4001", dst: "10.0.0.7:1", at: 20, want: "new"},
			},
			want: Stats{Entries: 1, Added: 1, Updated: 1, Hits: 2, Capacity: 4},
		},
		{
			name: "full table evicts the entry closest to expiry",
			ops: []op{
				{add: "10.0.0.1:1", callID: "a", at: 3},
				{add: "10.0.0.1:2", callID: "b", at: 1}, // expires first
				{add: "10.0.0.1:3", callID: "c", at: 4},
				{add: "10.0.0.1:4", callID: "d", at: 5},
				{add: "10.0.0.1:5", callID: "e", at: 6},
				{src: "10.0.0.1:2", dst: "10.0.0.7:1", at: 6, want: ""},
				{src: "10.0.0.1:1", dst: "10.0.0.7:1", at: 6, want: "a"},
				{src: "10.0.0.1:5", dst: "10.0.0.7:1", at: 6, want: "e"},
			},
			want: Stats{Entries: 4, Added: 5, Evicted: 1, Hits: 2, Misses: 1, Capacity: 4},
		},
		{
			name: "expire sweep",
			ops: []op{
				{add: "10.0.0.1:1", callID: "a"},
				{add: "10.0.0.1:2", callID: "b", at: 30},
				{expire: true, at: 70},
				{src: "10.0.0.1:2", dst: "10.0.0.7:1", at: 70, want: "b"},
			},
			want: Stats{Entries: 1, Added: 2, Expired: 1, Hits: 1, Capacity: 4},
		},
		{
			name: "ignored endpoints and ids",
			ops: []op{
				{add: "0.0.0.0:4000", callID: "hold"},
				{add: "10.0.0.1:0", callID: "disabled"},
				{add: "10.0.0.1:1", callID: "a-call-id-longer-than-16"},
				{src: "10.0.0.1:1", dst: "0.0.0.0:4000", want: ""},
			},
			want: Stats{TooLong: 1, Misses: 1, Capacity: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(t, cfg)
			run(t, tb, tt.ops)
			if diff := cmp.Diff(tt.want, tb.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
			checkInvariants(t, tb)
		})
	}
}

// checkInvariants verifies that index, lists and free slots agree.
func checkInvariants(t *testing.T, tb *Table) {
	t.Helper()
	used := 0
	for i, e := range tb.entries {
		if e.expires == 0 {
			continue
		}
		used++
		if j, ok := tb.index[e.key]; !ok || int(j) != i {
			t.Errorf("slot %d (%v) not indexed", i, e.key)
		}
	}
	if used != len(tb.index) || used+len(tb.free) != len(tb.entries) || used != tb.Len() {
		t.Errorf("used %d, index %d, free %d, Len %d, capacity %d", used, len(tb.index), len(tb.free), tb.Len(), len(tb.entries))
	}
	listed := 0
	for h, head := range tb.calls {
		prev := int32(none)
		for i := head; i != none; i = tb.entries[i].next {
			if tb.entries[i].hash != h || tb.entries[i].prev != prev {
				t.Errorf("slot %d: bad list link", i)
			}
			prev = i
			listed++
		}
	}
	if listed != used {
		t.Errorf("%d slots on call lists, %d used", listed, used)
	}
}

func TestTableChurn(t *testing.T) {
	// Many calls through a small table: the bookkeeping stays consistent.
	tb := newTable(t, Config{MaxEntries: 64, MaxCallIDLen: 32, TTL: 10 * time.Second, EndTTL: time.Second})
	for i := range 5000 {
		now := base + int64(i)*sec/10
		id := []byte(fmt.Sprintf("call-%d", i%300))
		tb.Add(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i % 7), 1}), uint16(1000+i%500)), id, now)
		if i%13 == 0 {
			tb.End(id, now)
		}
		if i%101 == 0 {
			tb.Expire(now)
		}
		tb.Lookup(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i % 7), 1}), uint16(1000+(i*7)%500)), ap("10.9.9.9:9"), now)
	}
	checkInvariants(t, tb)
	st := tb.Stats()
	if st.Entries > 64 || st.Evicted == 0 || st.Expired == 0 {
		t.Errorf("stats after churn: %+v", st)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero is defaults", Config{}, true},
		{"negative entries", Config{MaxEntries: -1}, false},
		{"huge call-id", Config{MaxCallIDLen: 70000}, false},
		{"negative ttl", Config{TTL: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New(%+v) = %v", tt.cfg, err)
			}
		})
	}
}

// observe feeds one SIP message to tb the way the agent's pipeline does:
// sip.Head finds the Call-ID, an SDP body goes to ObserveSDP, a message
// that ends the call to End.
func observe(t testing.TB, tb *Table, now int64, lines ...string) {
	t.Helper()
	raw := strings.Join(lines, "\r\n")
	var h sip.Head
	if !h.Scan([]byte(raw)) || len(h.CallID) == 0 {
		t.Fatalf("scan SIP: no start line or Call-ID\n%s", raw)
	}
	if h.HasSDP() {
		tb.ObserveSDP(h.CallID, h.Body, now)
	}
	if h.EndsCall() {
		tb.End(h.CallID, now)
	}
}

func withSDP(head []string, sdp ...string) []string {
	body := strings.Join(sdp, "\r\n") + "\r\n"
	out := append([]string{}, head...)
	out = append(out, "Content-Type: application/sdp", fmt.Sprintf("Content-Length: %d", len(body)), "", body)
	return out
}

var (
	inviteHead = []string{
		"INVITE sip:bob@10.0.0.2 SIP/2.0",
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
		"From: <sip:alice@10.0.0.1>;tag=1",
		"To: <sip:bob@10.0.0.2>",
		"Call-ID: call-1@10.0.0.1",
		"CSeq: 1 INVITE",
	}
	okHead = []string{
		"SIP/2.0 200 OK",
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
		"From: <sip:alice@10.0.0.1>;tag=1",
		"To: <sip:bob@10.0.0.2>;tag=2",
		"Call-ID: call-1@10.0.0.1",
		"CSeq: 1 INVITE",
	}
)

func TestObserveSIPMessages(t *testing.T) {
	tb := newTable(t, Config{MaxEntries: 16, TTL: time.Minute, EndTTL: 2 * time.Second})
	// Offer: audio with a=rtcp on another address, video on RTP+1, a
	// disabled stream.
	observe(t, tb, base, withSDP(inviteHead,
		"v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
		"m=audio 4000 RTP/AVP 0", "a=rtcp:4501 IN IP4 10.0.0.11",
		"m=video 4002 RTP/AVP 96",
		"m=audio 0 RTP/AVP 0")...)
	// Answer with rtcp-mux over IPv6.
	observe(t, tb, base+sec, withSDP(okHead,
		"v=0", "o=- 2 2 IN IP6 fd00::2", "s=-", "c=IN IP6 fd00::2", "t=0 0",
		"m=audio 6000 RTP/AVP 0", "a=rtcp-mux", "a=rtcp:6000")...)

	lookups := []struct{ src, dst, want string }{
		{"10.0.0.11:4501", "[fd00::2]:6000", "call-1@10.0.0.1"}, // offerer's RTCP → answerer
		{"[fd00::2]:6000", "10.0.0.11:4501", "call-1@10.0.0.1"}, // the other direction, mux port
		{"10.0.0.1:4003", "10.0.0.2:9", "call-1@10.0.0.1"},      // video RTP+1
		{"10.0.0.1:4001", "10.0.0.2:9", ""},                     // a=rtcp moved audio RTCP away
		{"10.0.0.1:1", "10.0.0.2:9", ""},                        // disabled stream port 0+1
	}
	for _, l := range lookups {
		got, _ := tb.Lookup(ap(l.src), ap(l.dst), base+2*sec)
		if string(got) != l.want {
			t.Errorf("Lookup(%s, %s) = %q, want %q", l.src, l.dst, got, l.want)
		}
	}
	if diff := cmp.Diff(Stats{Entries: 3, Added: 3, SDP: 2, Hits: 3, Misses: 2, Capacity: 16}, tb.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}

	// BYE ends the call: late RTCP still matches for EndTTL, then not.
	observe(t, tb, base+10*sec,
		"BYE sip:bob@10.0.0.2 SIP/2.0",
		"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2",
		"From: <sip:alice@10.0.0.1>;tag=1",
		"To: <sip:bob@10.0.0.2>;tag=2",
		"Call-ID: call-1@10.0.0.1",
		"CSeq: 2 BYE",
		"Content-Length: 0", "", "")
	if got, _ := tb.Lookup(ap("[fd00::2]:6000"), ap("10.0.0.1:9"), base+11*sec); string(got) != "call-1@10.0.0.1" {
		t.Errorf("late RTCP = %q", got)
	}
	if got, ok := tb.Lookup(ap("[fd00::2]:6000"), ap("10.0.0.1:9"), base+13*sec); ok {
		t.Errorf("RTCP after EndTTL = %q", got)
	}
	checkInvariants(t, tb)
}

func TestObserveSIPMessagesEnd(t *testing.T) {
	resp := func(status, cseq string) []string {
		return []string{"SIP/2.0 " + status, "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
			"From: <sip:a@10.0.0.1>;tag=1", "To: <sip:b@10.0.0.2>;tag=2", "Call-ID: c1", "CSeq: " + cseq,
			"Content-Length: 0", "", ""}
	}
	req := func(method string) []string {
		return []string{method + " sip:b@10.0.0.2 SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
			"From: <sip:a@10.0.0.1>;tag=1", "To: <sip:b@10.0.0.2>;tag=2", "Call-ID: c1", "CSeq: 2 " + method,
			"Content-Length: 0", "", ""}
	}
	tests := []struct {
		name  string
		lines []string
		ended bool
	}{
		{"BYE", req("BYE"), true},
		{"CANCEL", req("CANCEL"), true},
		{"486 to INVITE", resp("486 Busy Here", "1 INVITE"), true},
		{"487 to INVITE", resp("487 Request Terminated", "1 INVITE"), true},
		{"481 to BYE", resp("481 Call Does Not Exist", "2 BYE"), true},
		{"491 to INVITE", resp("491 Request Pending", "3 INVITE"), false},
		{"404 to OPTIONS", resp("404 Not Found", "1 OPTIONS"), false},
		{"180 to INVITE", resp("180 Ringing", "1 INVITE"), false},
		{"INFO", req("INFO"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(t, Config{MaxEntries: 4, TTL: time.Minute, EndTTL: time.Second})
			tb.Add(ap("10.0.0.1:4001"), []byte("c1"), base)
			observe(t, tb, base, tt.lines...)
			_, ok := tb.Lookup(ap("10.0.0.1:4001"), ap("10.0.0.2:1"), base+2*sec)
			if ok == tt.ended {
				t.Errorf("found after 2s = %v, want %v", ok, !tt.ended)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	tb := newTable(b, DefaultConfig())
	for i := range 10000 {
		tb.Add(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 4001), []byte(fmt.Sprintf("call-%d@example.com", i)), base)
	}
	hit := ap("10.0.3.7:4001")
	miss := ap("10.9.9.9:4001")
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := tb.Lookup(miss, hit, base); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := tb.Lookup(miss, miss, base); ok {
				b.Fatal("hit")
			}
		}
	})
}

func BenchmarkObserveSDP(b *testing.B) {
	tb := newTable(b, DefaultConfig())
	body := []byte(strings.Join([]string{"v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
		"m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=rtcp-mux", ""}, "\r\n"))
	id := []byte("call-1@10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tb.ObserveSDP(id, body, base)
	}
}

func TestExpireIncremental(t *testing.T) {
	tb := newTable(t, Config{MaxEntries: 20000, TTL: time.Second})
	for i := range 20000 {
		tb.Add(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 4001), []byte("c"), base)
	}
	var got []int
	for range 4 {
		got = append(got, tb.Expire(base+2*sec))
	}
	if diff := cmp.Diff([]int{8192, 8192, 3616, 0}, got); diff != "" {
		t.Errorf("removed per call (-want +got):\n%s", diff)
	}
	checkInvariants(t, tb)
}
