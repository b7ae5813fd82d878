package dns

import (
	"encoding/json"
	"testing"

	"github.com/xhep/xhep/hep/internal/pcaptest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/.

func FuzzDecode(f *testing.F) {
	f.Add(pcaptest.Unhex(f, srvDump))
	var m, j Msg
	other := pcaptest.Unhex(f, anyDump)
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = m.DecodeFromBytes(other)
		err := m.DecodeFromBytes(b)
		var fresh Msg
		if err2 := fresh.DecodeFromBytes(b); err2 != err || string(fresh.AppendJSON(nil)) != string(m.AppendJSON(nil)) {
			t.Fatalf("reused message decodes differently: %v vs %v", err, err2)
		}
		for _, s := range [][]RR{m.Answers, m.Authority, m.Additional} {
			if len(s) > MaxRecords {
				t.Fatalf("%d records", len(s))
			}
		}
		out := m.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
		if err := j.DecodeJSON(out); err != nil {
			t.Fatalf("DecodeJSON(%s): %v", out, err)
		}
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"id":1,"rescode":3,"questions":[{"name":"a.example","type":1,"class":1}]}`))
	var m Msg
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := m.DecodeJSON(b); err != nil {
			return
		}
		if out := m.AppendJSON(nil); !json.Valid(out) {
			t.Fatalf("invalid JSON %s", out)
		}
	})
}
