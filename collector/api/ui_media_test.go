package api

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/rtp"
)

// mediaReports is the agent's HEP type 34 JSON for one stream over time:
// a PERIODIC report every 5 s and a HANGUP at the end, from a stream of
// 250 packets per 5 s that loses lossEvery-th packet (0: none) from the
// second interval on; packets arrive 0–9 ms late in a cycle of four (jitter).
func mediaReports(callID string, src, dst netip.AddrPort, ssrc uint32, lossEvery int, at time.Time) (out [][]byte, times []time.Time) {
	p := rtp.NewParams(8000, 0)
	var s rtp.State
	var rp rtp.Reporter
	seq := 0
	for k := 0; k < 4; k++ {
		for i := 0; i < 250; i++ {
			n := seq
			seq++
			if k > 0 && lossEvery > 0 && n%lossEvery == 0 {
				continue
			}
			h := rtp.Header{Seq: uint16(n), Timestamp: uint32(n) * 160, SSRC: ssrc}
			s.Update(&p, &h, 172, uint64(at.UnixNano())+uint64(n)*20e6+uint64(n%4)*3e6) // arrival jitter
		}
		ts := at.Add(time.Duration(k+1) * 5 * time.Second)
		typ := rtp.TypePeriodic
		if k == 3 {
			typ = rtp.TypeHangup
		}
		r := rtp.Report{CallID: []byte(callID), Type: typ, TimeNs: ts.UnixNano(), Src: src, Dst: dst, SSRC: ssrc,
			Codec: []byte("PCMU"), Params: p, State: s, Model: rtp.DefaultEModel()}
		rp.Next(&r, rtp.CodecG711)
		out = append(out, r.AppendJSON(nil, 0))
		times = append(times, ts)
	}
	return out, times
}

func addrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestUIMediaTable stores RTP quality reports for three streams of the
// B2BUA call (a-leg stream with the SSRC an RTCP stream reports on, one
// with another RTCP stream's endpoints but another SSRC, and a c-leg
// stream with loss and no RTCP) and checks the call view's media table
// against the stored reports: per stream the last report's packets,
// lost %, MOS; the RTCP row under exactly the two matched streams; one
// MOS and one loss chart per stream with a point per report (each
// backend).
func TestUIMediaTable(t *testing.T) {
	f := newFixture(t)
	srv, _ := server(t, f, nil)
	flowURL := srv.URL + "/api/v1/calls/" + url.PathEscape(f.aLeg) + "/flow"
	var fl Flow
	getJSON(t, flowURL, &fl)
	ctx := browser(t)
	if len(fl.Streams) < 2 {
		t.Fatalf("fixture has %d RTCP streams, the test needs 2", len(fl.Streams))
	}
	var first time.Time
	for _, m := range f.sip {
		if m.CallID == f.aLeg {
			first = m.TS
			break
		}
	}
	s0, s1 := fl.Streams[0], fl.Streams[1]
	type stream struct {
		leg      string
		src, dst netip.AddrPort
		ssrc     uint32
		loss     int
		rtcp     bool
	}
	// shift moves a port so the endpoint rule cannot match (RTCP port
	// is neither the RTP port nor port + 1): only the SSRC rule can.
	shift := func(ap netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(ap.Addr(), ap.Port()+10) }
	other := uint32(0x4242)
	if s1.SourceSSRC == other || s0.SourceSSRC == other {
		t.Fatal("fixture SSRC clash")
	}
	streams := []stream{
		{f.aLeg, addrPort(t, s0.Dst), shift(addrPort(t, s0.Src)), s0.SourceSSRC, 50, true}, // same SSRC, other ports
		{f.aLeg, addrPort(t, s1.Dst), addrPort(t, s1.Src), other, 0, true},                 // same endpoints
		{f.cLeg, netip.MustParseAddrPort("10.0.0.40:30000"), netip.MustParseAddrPort("10.0.0.20:40000"), 77, 10, false},
	}
	d, err := dissect.New(dissect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var row store.Row
	for _, s := range streams {
		reps, times := mediaReports(s.leg, s.src, s.dst, s.ssrc, s.loss, first)
		for i, js := range reps {
			m := hepMessage(hep.ProtoMOSFull, s.src, s.dst, "udp", times[i], js)
			m.CorrelationID = []byte(s.leg)
			m.Set(hep.ChunkCorrelationID)
			if err := d.Dissect(m, &row); err != nil {
				t.Fatalf("dissect report: %v", err)
			}
			if err := f.st.Write(&row); err != nil {
				t.Fatal(err)
			}
		}
	}
	fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.st.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	fl = Flow{}
	getJSON(t, flowURL, &fl)

	// Expected rows from the stored reports: the last report per stream,
	// an RTCP row after the matched ones.
	var want []string
	var wantPts []int
	for _, s := range streams {
		var last *MediaEntry
		n := 0
		for i, m := range fl.Media {
			if m.CorrelationID == s.leg && m.SSRC == int64(s.ssrc) && m.SrcIP == s.src.Addr().String() && m.SrcPort == int(s.src.Port()) {
				last = &fl.Media[i]
				n++
			}
		}
		if last == nil || n != 4 {
			t.Fatalf("stream %v: %d stored reports, want 4", s, n)
		}
		want = append(want, fmt.Sprintf("RTP|%s → %s|PCMU|%d / %d|%.2f %%|%.2f (mean %.2f)|%s", s.src, s.dst, last.Packets, last.Expected, last.LostPct, last.MOS, last.MeanMOS, last.Type))
		if s.rtcp {
			want = append(want, "RTCP")
		}
		wantPts = append(wantPts, n)
	}
	if fl.Media[len(fl.Media)-1].LostPct == 0 {
		t.Error("the c-leg stream lost nothing: lost % is untested")
	}

	do(t, ctx, "open call", navigate(srv.URL+"/#"+url.Values{"call": {f.aLeg}}.Encode()))
	waitFor(t, ctx, `document.querySelector("#media tbody tr[data-src]")`)
	got := eval[[]string](t, ctx, `[...document.querySelectorAll("#media tbody tr")].map(r => r.dataset.src === "RTCP" ? "RTCP" :
		[3, 1, 4, 5, 6, 9].map(i => r.cells[i].textContent).join("|") + "|" + r.cells[10].textContent.split(" ")[0])`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("media table (-want +got):\n%s", diff)
	}
	// The RTCP row shows the matched RTCP stream's figures.
	wantR := []string{}
	for _, s := range []Stream{s0, s1} {
		lost := s.Points[len(s.Points)-1].PacketsLost
		wantR = append(wantR, fmt.Sprintf("%d lost|%d report(s)", lost, len(s.Points)))
	}
	gotR := eval[[]string](t, ctx, `[...document.querySelectorAll("#media tbody tr[data-src=RTCP]")].map(r => r.cells[5].textContent + "|" + r.cells[10].textContent)`)
	if diff := cmp.Diff(wantR, gotR); diff != "" {
		t.Errorf("RTCP rows (-want +got):\n%s", diff)
	}
	gotPts := eval[[]int](t, ctx, `[...document.querySelectorAll("#mediacharts .mediastream")].map(d => d.querySelector("svg[data-title=MOS]").querySelectorAll("circle").length)`)
	if diff := cmp.Diff(wantPts, gotPts); diff != "" {
		t.Errorf("MOS chart points per stream (-want +got):\n%s", diff)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#mediacharts svg[data-title=Lost]").length`); n != len(streams) {
		t.Errorf("%d loss charts, want %d", n, len(streams))
	}
	eval[bool](t, ctx, `(document.querySelector("#media").previousElementSibling.previousElementSibling.scrollIntoView(), true)`)
	screenshot(t, ctx, "media.png")
}
