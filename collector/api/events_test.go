package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// storeHEP encodes each message as HEP3 bytes, decodes them as a
// listener does, dissects and stores them, and waits until they are
// committed: HEP in, rows out.
func storeHEP(t *testing.T, st *store.Store, msgs []*hep.Message) {
	t.Helper()
	d, err := dissect.New(dissect.Config{Now: func() time.Time { return genStart }})
	if err != nil {
		t.Fatal(err)
	}
	var row store.Row
	for _, m := range msgs {
		b, err := m.AppendTo(nil)
		if err != nil {
			t.Fatalf("encode HEP: %v", err)
		}
		var in hep.Message
		if err := in.DecodeFromBytes(b); err != nil {
			t.Fatalf("decode HEP: %v", err)
		}
		_ = d.Dissect(&in, &row) // a malformed payload is stored all the same
		if err := st.Write(&row); err != nil {
			t.Fatalf("write %s: %v", row.Table, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// TestEvents: GET /api/v1/events returns a standard table's rows by HEP
// type (here logs, type 100) in capture order with the JSON documents,
// filters by correlation id, pages by limit, and refuses SIP, a type
// without a standard table and bad numbers.
func TestEvents(t *testing.T) {
	f := &fixture{backend: testBackend(), st: openTestStore(t, testBackend())}
	a := netip.MustParseAddrPort("10.1.0.1:0")
	b := netip.MustParseAddrPort("10.1.0.2:0")
	var msgs []*hep.Message
	for i, l := range []struct{ corr, text string }{{"call-1", "first"}, {"", "second"}, {"call-1", "third"}, {"call-2", "fourth"}} {
		m := hepMessage(hep.ProtoLog, a, b, "udp", genStart.Add(time.Duration(i)*time.Second), []byte(l.text))
		if l.corr != "" {
			m.CorrelationID = []byte(l.corr)
			m.Set(hep.ChunkCorrelationID)
		}
		msgs = append(msgs, m)
	}
	storeHEP(t, f.st, msgs)
	srv, _ := server(t, f, nil)
	win := "&from=" + url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(genStart.Add(time.Minute).Format(time.RFC3339))

	type ev struct {
		Time, Corr, Message string
		Node                uint32
		Src, Dst            string
	}
	read := func(query string) (EventsResult, []ev) {
		t.Helper()
		var res EventsResult
		getJSON(t, srv.URL+"/api/v1/events?"+query+win, &res)
		var out []ev
		for _, e := range res.Events {
			var p struct{ Message string }
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				t.Fatalf("payload %s: %v", e.Payload, err)
			}
			if string(e.Header) != "{}" {
				t.Errorf("protocol_header of a log row = %s, want {}", e.Header)
			}
			out = append(out, ev{e.Time.Format(time.RFC3339), e.CorrelationID, p.Message, e.Node, e.SrcIP, e.DstIP})
		}
		return res, out
	}
	at := func(i int) string { return genStart.Add(time.Duration(i) * time.Second).Format(time.RFC3339) }
	all := []ev{
		{at(0), "call-1", "first", 2001, "10.1.0.1", "10.1.0.2"},
		{at(1), "", "second", 2001, "10.1.0.1", "10.1.0.2"},
		{at(2), "call-1", "third", 2001, "10.1.0.1", "10.1.0.2"},
		{at(3), "call-2", "fourth", 2001, "10.1.0.1", "10.1.0.2"},
	}
	for _, tt := range []struct {
		query string
		want  []ev
		more  bool
	}{
		{"type=100", all, false},
		{"type=100&correlation_id=call-1", []ev{all[0], all[2]}, false},
		{"type=100&limit=3", all[:3], true},
		{"type=100&correlation_id=nobody", nil, false},
		{"type=5", nil, false}, // standard, empty
	} {
		res, got := read(tt.query)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.query, diff)
		}
		if res.More != tt.more {
			t.Errorf("%s: more = %v, want %v", tt.query, res.More, tt.more)
		}
	}
	res, _ := read("type=100")
	if res.Name != "log" || res.Table != "hep_proto_100_default" || res.Type != 100 {
		t.Errorf("type 100 answered as %d %q in %q", res.Type, res.Name, res.Table)
	}
	for _, q := range []string{"type=1", "type=7", "type=", "type=256", "type=-1", "type=100&limit=0", "type=100&limit=1001"} {
		if code, body := get(t, srv.URL+"/api/v1/events?"+q+win); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", q, code, body)
		}
	}
}

// TestISUPEvents: ISUP JSON (HEP type 54) of one circuit, both directions,
// from IAM to RLC, plus one without its CIC, sent as HEP bytes, dissected
// and stored, comes back from GET /api/v1/events?type=54 in capture order
// with the JSON as sent and the decoder's protocol_header (one callid for
// the circuit's messages of either direction), on the test backend.
func TestISUPEvents(t *testing.T) {
	f := &fixture{backend: testBackend(), st: openTestStore(t, testBackend())}
	a := netip.MustParseAddrPort("10.2.0.1:2905") // M3UA (SCTP port 2905)
	b := netip.MustParseAddrPort("10.2.0.2:2905")
	type msg struct {
		fwd  bool
		json string
	}
	sent := []msg{
		{true, `{"opc":2062,"dpc":1234,"cic":17,"msg_name":"IAM","called_number":{"ton":3,"npi":1,"num":"4930123456"},"calling_number":{"ton":3,"npi":1,"num":"4989654321"}}`},
		{false, `{"opc":1234,"dpc":2062,"cic":17,"msg_name":"ACM"}`},
		{false, `{"opc":1234,"dpc":2062,"cic":17,"msg_name":"ANM"}`},
		{true, `{"opc":2062,"dpc":1234,"cic":17,"msg_name":"REL","cause":16}`},
		{false, `{"opc":1234,"dpc":2062,"cic":17,"msg_name":"RLC"}`},
		{true, `{"opc":2062,"dpc":1234,"msg_name":"GRS"}`},
	}
	var msgs []*hep.Message
	for i, s := range sent {
		src, dst := a, b
		if !s.fwd {
			src, dst = b, a
		}
		m := hepMessage(hep.ProtoM3UAJSON, src, dst, "udp", genStart.Add(time.Duration(i)*100*time.Millisecond), []byte(s.json))
		m.IPProto = 132 // SCTP
		msgs = append(msgs, m)
	}
	storeHEP(t, f.st, msgs)
	srv, _ := server(t, f, nil)
	var res EventsResult
	getJSON(t, srv.URL+"/api/v1/events?type=54&from="+url.QueryEscape(genStart.Add(-time.Minute).Format(time.RFC3339))+
		"&to="+url.QueryEscape(genStart.Add(time.Minute).Format(time.RFC3339)), &res)
	if res.Table != "hep_proto_54_default" || res.Name != "m3ua_json" {
		t.Errorf("answered from %q as %q", res.Table, res.Name)
	}
	type got struct {
		Src, Callid, Msg, Called, Error string
		Payload                         string
	}
	var gotRows []got
	for _, e := range res.Events {
		var h struct {
			Callid, Msg_name, Called_number, Error string
		}
		if err := json.Unmarshal(e.Header, &h); err != nil {
			t.Fatalf("protocol_header %s: %v", e.Header, err)
		}
		var p any // the payload is the JSON as sent (key order aside on MySQL 8)
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatalf("payload %s: %v", e.Payload, err)
		}
		pj, _ := json.Marshal(p)
		gotRows = append(gotRows, got{e.SrcIP + ":" + strconv.Itoa(e.SrcPort), h.Callid, h.Msg_name, h.Called_number, h.Error, string(pj)})
	}
	var want []got
	for i, s := range sent {
		src := "10.2.0.1:2905"
		if !s.fwd {
			src = "10.2.0.2:2905"
		}
		var p any
		if err := json.Unmarshal([]byte(s.json), &p); err != nil {
			t.Fatal(err)
		}
		pj, _ := json.Marshal(p)
		w := got{src, "1234:2062:17", []string{"IAM", "ACM", "ANM", "REL", "RLC", "GRS"}[i], "", "", string(pj)}
		if i == 0 {
			w.Called = "4930123456"
		}
		if i == 5 {
			w.Callid, w.Error = "", "isup: opc, dpc and cic must be present"
		}
		want = append(want, w)
	}
	if diff := cmp.Diff(want, gotRows); diff != "" {
		t.Errorf("ISUP events (-want +got):\n%s", diff)
	}
}
