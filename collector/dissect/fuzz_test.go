package dissect

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// FuzzDissect feeds arbitrary HEP payloads of every routed type through
// Dissect: it must not panic, must fill a table, and every JSON document
// it writes must be valid UTF-8 JSON (what MariaDB's JSON_VALID accepts).
// The seed corpus is in testdata/fuzz/FuzzDissect.
func FuzzDissect(f *testing.F) {
	f.Add(uint8(hep.ProtoSIP), invite)
	f.Add(uint8(hep.ProtoLog), []byte("log line \xff"))
	f.Add(uint8(0x3c), []byte(`{"a":[1,2,{"b":"c"}]}`))
	f.Add(uint8(hep.ProtoRTCP), []byte{0x80, 0xc8, 0x00, 0x06, 1, 2, 3, 4})
	f.Add(uint8(hep.ProtoDNS), []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0})
	d, err := New(Config{ALegHeaders: []string{"X-CID|x-b2b-.*"}})
	if err != nil {
		f.Fatal(err)
	}
	var row store.Row
	f.Fuzz(func(t *testing.T, proto uint8, payload []byte) {
		m := hep.Message{Version: 3, IPFamily: 2, Proto: hep.ProtoType(proto), Payload: payload,
			NodeName: payload[:min(len(payload), 8)], CorrelationID: payload[:min(len(payload), 16)]}
		m.Set(hep.ChunkTsSec)
		m.Set(hep.ChunkNodeName)
		err := d.Dissect(&m, &row)
		if err != nil && Reason(err) == "other" {
			t.Fatalf("Dissect returned an error that is not a PayloadError: %v", err)
		}
		if row.Table == "" {
			t.Fatal("no table")
		}
		for name, doc := range map[string][]byte{"hep_header": row.HepHeader, "protocol_header": row.ProtocolHeader, "payload": row.Payload} {
			if !json.Valid(doc) || !utf8.Valid(doc) {
				t.Fatalf("%s is not valid UTF-8 JSON: %q", name, doc)
			}
		}
	})
}
