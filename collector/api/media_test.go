package api

import (
	"context"
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

// mediaReport is the agent's HEP type 34 JSON for a stream of n packets of
// which lost were lost (in runs of one), from src to dst.
func mediaReport(callID string, src, dst netip.AddrPort, n, lost int, typ string, at time.Time) []byte {
	p := rtp.NewParams(8000, 0)
	var s rtp.State
	var h rtp.Header
	for i := 0; i < n; i++ {
		if lost > 0 && i%10 == 5 && i/10 < lost {
			continue
		}
		h = rtp.Header{Seq: uint16(i), Timestamp: uint32(i) * 160, SSRC: 77}
		s.Update(&p, &h, 172, uint64(at.UnixNano())+uint64(i)*20e6)
	}
	r := rtp.Report{CallID: []byte(callID), Type: typ, TimeNs: at.UnixNano(), Src: src, Dst: dst, SSRC: 77,
		Codec: []byte("PCMU"), Params: p, State: s, Model: rtp.DefaultEModel()}
	var rp rtp.Reporter
	rp.Next(&r, rtp.CodecG711)
	return r.AppendJSON(nil, 0)
}

// storeMediaReports stores a HANGUP report for a stream of the fixture's
// a-leg (no loss) and one of its c-leg (10 of 100 lost), 1 ms after the
// b-leg's first message, and returns that time and the two endpoints.
func storeMediaReports(t testing.TB, f *fixture) (first time.Time, a, b netip.AddrPort) {
	t.Helper()
	for _, m := range f.sip {
		if m.CallID == f.bLeg {
			first = m.TS
			break
		}
	}
	a = netip.MustParseAddrPort("10.0.0.20:40000")
	b = netip.MustParseAddrPort("10.0.0.40:30000")
	d, err := dissect.New(dissect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var row store.Row
	for _, r := range []struct {
		leg      string
		src, dst netip.AddrPort
		lost     int
	}{{f.aLeg, a, b, 0}, {f.cLeg, b, a, 10}} {
		m := hepMessage(hep.ProtoMOSFull, r.src, r.dst, "udp", first.Add(time.Millisecond),
			mediaReport(r.leg, r.src, r.dst, 100, r.lost, rtp.TypeHangup, first.Add(time.Millisecond)))
		m.CorrelationID = []byte(r.leg)
		m.Set(hep.ChunkCorrelationID)
		if err := d.Dissect(m, &row); err != nil {
			t.Fatalf("dissect report: %v", err)
		}
		if row.Table != "hep_proto_34_default" {
			t.Fatalf("report routed to %s", row.Table)
		}
		if err := f.st.Write(&row); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return first, a, b
}

// TestMediaInFlowAndLowMOS: reports stored for two legs of the B2BUA
// chain come back with the a-leg's flow (the legs are linked); the search
// for MOS below 4 finds the leg whose stream lost 10 %, not the clean one
// (each backend).
func TestMediaInFlowAndLowMOS(t *testing.T) {
	f := newFixture(t)
	first, a, b := storeMediaReports(t, f)
	srv, _ := server(t, f, nil)
	base := srv.URL + "/api/v1"
	var fl Flow
	getJSON(t, base+"/calls/"+url.PathEscape(f.aLeg)+"/flow", &fl)
	type view struct {
		Corr         string
		Src          string
		Packets, Exp int64
		Lost         int64
		Codec, Type  string
		LowMOS       bool
	}
	var got []view
	for _, e := range fl.Media {
		got = append(got, view{e.CorrelationID, netip.AddrPortFrom(netip.MustParseAddr(e.SrcIP), uint16(e.SrcPort)).String(),
			e.Packets, e.Expected, e.Lost, e.Codec, e.Type, e.MOS < 4})
	}
	want := []view{
		{f.aLeg, a.String(), 100, 100, 0, "PCMU", "HANGUP", false},
		{f.cLeg, b.String(), 90, 100, 10, "PCMU", "HANGUP", true},
	}
	if len(got) == 2 && got[0].Corr != f.aLeg {
		got[0], got[1] = got[1], got[0]
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("flow media (-want +got)\n%s", d)
	}

	var low struct {
		Calls []LowMOSCall `json:"calls"`
	}
	getJSON(t, base+"/media/lowmos?mos=4&from="+url.QueryEscape(first.Add(-time.Hour).Format(time.RFC3339))+
		"&to="+url.QueryEscape(first.Add(time.Hour).Format(time.RFC3339)), &low)
	if len(low.Calls) != 1 || low.Calls[0].CallID != f.cLeg || low.Calls[0].MinMOS >= 4 || low.Calls[0].Reports != 1 {
		t.Errorf("low-MOS calls %+v, want only %s", low.Calls, f.cLeg)
	}
	if code, body := get(t, base+"/media/lowmos?mos=9"); code != 400 {
		t.Errorf("mos=9: %d %s", code, body)
	}
}
