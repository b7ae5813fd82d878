package media

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/hep/rtp"
)

const sdpBody = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
	"m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

func rtpPkt(pt uint8, seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 12+160)
	b[0], b[1] = 0x80, pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

func collect(rs *[]map[string]any) func(*Report) {
	return func(r *Report) {
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			panic(err)
		}
		m["_callid"] = string(r.CallID)
		*rs = append(*rs, m)
	}
}

// TestTrackerUserspace: one call's SDP, 250 packets towards the announced
// endpoint with 5 lost, a packet to an unknown port and one with a PT
// that was not announced; periodic reports every 5 s of capture time and
// the final report after BYE.
func TestTrackerUserspace(t *testing.T) {
	tr, err := New(Config{Interval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC).UnixNano()
	tr.ObserveSDP([]byte("call-1@x"), []byte(sdpBody), t0)
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	dst := netip.MustParseAddrPort("192.0.2.10:30000")
	var got []map[string]any
	lost := map[int]bool{17: true, 18: true, 100: true, 101: true, 102: true}
	for i := 0; i < 250; i++ {
		ts := t0 + int64(i)*20e6
		if !lost[i] {
			tr.Packet(src, dst, rtpPkt(0, uint16(i), uint32(i)*160, 99), ts)
		}
		if i%50 == 49 { // once a second
			tr.Tick(ts, 0, false, collect(&got))
		}
	}
	tr.Packet(src, netip.MustParseAddrPort("192.0.2.10:30002"), rtpPkt(0, 1, 0, 99), t0)
	tr.Packet(src, dst, rtpPkt(8, 1, 0, 99), t0) // PCMA was not announced
	tr.End([]byte("call-1@x"), t0+6e9)
	tr.Tick(t0+6e9, 0, false, collect(&got))
	// periodic at 1.98, 2.98, 3.98, 4.98 s, then the final one
	if len(got) != 5 {
		t.Fatalf("%d reports, want 4 periodic and the final one: %v", len(got), got)
	}
	type view struct {
		Call, Type       string
		Total, Exp, Lost float64
		Codec            string
		Dst              string
		Bursts           []any
	}
	v := func(m map[string]any) view {
		return view{m["_callid"].(string), m["TYPE"].(string), m["TOTAL_PK"].(float64), m["EXPECTED_PK"].(float64),
			m["PACKET_LOSS"].(float64), m["CODEC_NAME"].(string), m["DST_IP"].(string), m["LOSS_BURSTS"].([]any)}
	}
	b := func(one, two, three float64) []any { return []any{one, two, three, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0} }
	want := []view{
		{"call-1@x", "PERIODIC", 98, 100, 2, "PCMU", "192.0.2.10", b(0, 1, 0)},
		{"call-1@x", "HANGUP", 245, 250, 5, "PCMU", "192.0.2.10", b(0, 1, 1)},
	}
	if d := cmp.Diff(want, []view{v(got[0]), v(got[4])}); d != "" {
		t.Errorf("reports (-want +got)\n%s", d)
	}
	st := tr.Stats()
	if st.NotRTP != 1 || st.Packets != 245 || st.Streams != 0 || st.Reports != 5 {
		t.Errorf("stats %+v", st)
	}
	// the first interval had 2 of 100 lost: its MOS is below the clean 4.41
	if mos := got[0]["MOS"].(float64); mos >= 4.40 {
		t.Errorf("MOS %.3f with 4%% loss", mos)
	}
}

func TestTrackerIdleAndBounds(t *testing.T) {
	tr, err := New(Config{MaxStreams: 2, Idle: 2 * time.Second, Interval: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.ObserveSDP([]byte("c2"), []byte(sdpBody), 0)
	dst := netip.MustParseAddrPort("192.0.2.10:30000")
	for ssrc := uint32(1); ssrc <= 3; ssrc++ {
		tr.Packet(netip.MustParseAddrPort("198.51.100.7:40000"), dst, rtpPkt(0, 1, 0, ssrc), 1e9)
	}
	var got []map[string]any
	tr.Tick(2e9, 0, false, collect(&got)) // periodic: both streams
	tr.Tick(4e9, 0, false, collect(&got)) // idle since 1 s for 3 s: TIMEOUT
	types := []string{}
	for _, m := range got {
		types = append(types, m["TYPE"].(string)+"/"+ssrcChg(m))
	}
	if d := cmp.Diff([]string{"PERIODIC/1", "PERIODIC/1", "TIMEOUT/1", "TIMEOUT/1"}, types); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if st := tr.Stats(); st.StreamsRefused != 1 {
		t.Errorf("stats %+v: want the third SSRC refused", st)
	}
	if _, err := New(Config{MaxStreams: -1}, nil); err == nil {
		t.Error("negative bound accepted")
	}
}

func ssrcChg(m map[string]any) string {
	if m["SSRC_CHG"].(float64) == 1 {
		return "1"
	}
	return "?"
}

// TestTrackerSameCallAgain: the 200 OK (or a re-INVITE) repeating an
// endpoint of the same call does not end its streams; another call taking
// the endpoint does; media after BYE is not counted.
func TestTrackerSameCallAgain(t *testing.T) {
	tr, err := New(Config{Interval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	dst := netip.MustParseAddrPort("192.0.2.10:30000")
	tr.ObserveSDP([]byte("c1"), []byte(sdpBody), 1e9)
	for i := 0; i < 10; i++ {
		tr.Packet(src, dst, rtpPkt(0, uint16(i), uint32(i)*160, 5), 1e9+int64(i)*20e6)
	}
	tr.ObserveSDP([]byte("c1"), []byte(sdpBody), 2e9) // re-INVITE
	var got []map[string]any
	tr.Tick(2e9, 0, false, collect(&got))
	if len(got) != 0 {
		t.Fatalf("the same call's SDP again ended its stream: %v", got)
	}
	tr.ObserveSDP([]byte("c2"), []byte(sdpBody), 3e9) // another call on the same endpoint
	tr.Tick(3e9, 0, false, collect(&got))
	if len(got) != 1 || got[0]["TYPE"] != "HANGUP" || got[0]["_callid"] != "c1" || got[0]["TOTAL_PK"] != 10.0 {
		t.Fatalf("reports %v, want c1's final one with 10 packets", got)
	}
	tr.End([]byte("c2"), 4e9)
	tr.Packet(src, dst, rtpPkt(0, 50, 8000, 6), 4e9+1)
	if st := tr.Stats(); st.Streams != 0 || st.Packets != 10 {
		t.Errorf("after BYE: %+v", st)
	}
}

// TestTrackerPerPTClock: an m= line with Opus at 48 kHz, PCMA and
// telephone-event at 8 kHz; the stream switches from Opus to PCMA (a
// re-INVITE): the report names the codec and clock of the latest payload
// type, counts the change, and a 20 ms steady PCMA stream has no jitter
// (with one 48 kHz clock for all it would read 6× too slow a clock).
func TestTrackerPerPTClock(t *testing.T) {
	tr, err := New(Config{Interval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n" +
		"m=audio 30000 RTP/AVP 111 8 101\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n"
	tr.ObserveSDP([]byte("c1"), []byte(body), 0)
	src := netip.MustParseAddrPort("198.51.100.7:40000")
	dst := netip.MustParseAddrPort("192.0.2.10:30000")
	for i := 0; i < 100; i++ {
		pt, ts := uint8(111), uint32(i)*960
		if i >= 50 {
			pt, ts = 8, 1234+uint32(i-50)*160
		}
		tr.Packet(src, dst, rtpPkt(pt, uint16(i), ts, 5), 1e9+int64(i)*20e6)
	}
	var got []map[string]any
	tr.Tick(4e9, 0, true, collect(&got))
	if len(got) != 1 {
		t.Fatalf("%d reports", len(got))
	}
	type view struct {
		Codec            string
		PT, Clock, PTChg float64
		Jitter, MaxJ     float64
	}
	m := got[0]
	v := view{m["CODEC_NAME"].(string), m["CODEC_PT"].(float64), m["CLOCK"].(float64), m["PT_CHANGES"].(float64),
		m["JITTER"].(float64), m["MAX_JITTER"].(float64)}
	if d := cmp.Diff(view{"PCMA", 8, 8000, 1, 0, 0}, v); d != "" {
		t.Errorf("report (-want +got)\n%s", d)
	}
}

// TestConfig: zero fields take DefaultConfig's values; out-of-range ones
// are refused with ErrConfig.
func TestConfig(t *testing.T) {
	tr, err := New(Config{MaxStreams: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.MaxStreams = 7
	if d := cmp.Diff(want, tr.cfg); d != "" {
		t.Errorf("defaults (-want +got)\n%s", d)
	}
	for _, c := range []Config{
		{MaxStreams: -1}, {MaxEndpoints: -1}, {MaxStreams: 1<<24 + 1}, {Idle: -time.Second},
		{TTL: -1}, {EndTTL: -1}, {Interval: -1}, {Model: rtp.EModel{Base: 93.2, JitterBuffer: 1001}},
	} {
		if _, err := New(c, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", c, err)
		}
	}
}
