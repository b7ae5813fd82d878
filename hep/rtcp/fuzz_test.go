package rtcp

import (
	"encoding/json"
	"testing"

	"github.com/xhep/xhep/hep/internal/pcaptest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzDecode(f *testing.F) {
	f.Add(pcaptest.Unhex(f, srSDESDump))
	var p, q Packet
	other := pcaptest.Unhex(f, srSDESDump)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = p.DecodeFromBytes(other)
		err := p.DecodeFromBytes(b)
		var fresh Packet
		if err2 := fresh.DecodeFromBytes(b); err2 != err || string(fresh.AppendJSON(nil)) != string(p.AppendJSON(nil)) {
			t.Fatalf("reused packet decodes differently: %v vs %v", err, err2)
		}
		if err == nil && !Valid(b) {
			t.Fatalf("decoded without error but not Valid: % x", b)
		}
		_ = p.Quality()
		out := p.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
		if p.Type < TypeSR {
			return // nothing decoded
		}
		if err := q.DecodeJSON(out); err != nil {
			t.Fatalf("DecodeJSON(%s): %v", out, err)
		}
		if again := q.AppendJSON(nil); string(again) != string(out) {
			t.Fatalf("JSON round trip:\n got %s\nwant %s", again, out)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"type":200,"ssrc":1,"report_blocks":[{"lsr":-1}]}`))
	var p Packet
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := p.DecodeJSON(b); err != nil {
			return
		}
		_ = p.Quality()
		if out := p.AppendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
	})
}
