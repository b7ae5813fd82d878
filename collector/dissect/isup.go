package dissect

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/jsonw"
)

// ISUP as JSON, HEP type 54 (0x36): SS7 ISUP messages (ITU-T Q.763)
// decoded to JSON by an SS7/SIGTRAN capture agent, as heplify-server
// stores them in hep_proto_54_default. The fields read are those
// heplify-server indexes (its database/postgres.go IsupPaths):
//
//	{"opc": 1234, "dpc": 5678, "cic": 17, "msg_name": "IAM",
//	 "called_number": {"num": "4930123456", ...},
//	 "calling_number": {"num": "4989654321", ...}, ...}
//
// opc and dpc are the originating and destination point codes (14 or 24
// bits), cic the circuit identification code. The row keeps the JSON as
// sent as its payload; protocol_header is
//
//	{"callid":"<lower pc>:<higher pc>:<cic>","cic":N,"opc":N,"dpc":N,
//	 "msg_name":S,"called_number":S,"calling_number":S}
//
// where callid (heplify-server's sid for ISUP) is the same for both
// directions of a circuit, so a call's IAM, ACM, ANM, REL and RLC share
// it. Missing point codes or CIC, or numbers out of range, store the row
// with what did decode and "error" in protocol_header ([*PayloadError]
// reason isup_malformed); JSON that does not parse is stored as any bad
// JSON type is (json_invalid). Decoding uses encoding/json and
// allocates, as the JSON forms of RTCP and DNS do.
type isupJSON struct {
	OPC     *uint32 `json:"opc"`
	DPC     *uint32 `json:"dpc"`
	CIC     *uint32 `json:"cic"`
	MsgName string  `json:"msg_name"`
	Called  struct {
		Num string `json:"num"`
	} `json:"called_number"`
	Calling struct {
		Num string `json:"num"`
	} `json:"calling_number"`
}

var errISUPFields = errors.New("isup: opc, dpc and cic must be present")

// isupRow dissects an ISUP JSON payload (type 54).
func (d *Dissector) isupRow(m *hep.Message, row *store.Row) error {
	if err := d.jsonRow(m, row); err != nil {
		return err // not JSON: stored as the JSON types are, with "error"
	}
	var j isupJSON
	err := json.Unmarshal(m.Payload, &j)
	if err == nil && (j.OPC == nil || j.DPC == nil || j.CIC == nil) {
		err = errISUPFields
	}
	b := append(row.ProtocolHeader[:0], '{')
	if err == nil { // a value that did not decode leaves its field zero: no circuit then
		lo, hi := min(*j.OPC, *j.DPC), max(*j.OPC, *j.DPC)
		b = jsonw.AppendUint(b, `"callid":"`, uint64(lo))
		b = jsonw.AppendUint(b, `:`, uint64(hi))
		b = jsonw.AppendUint(b, `:`, uint64(*j.CIC))
		b = jsonw.AppendUint(b, `","cic":`, uint64(*j.CIC))
		b = jsonw.AppendUint(b, `,"opc":`, uint64(*j.OPC))
		b = jsonw.AppendUint(b, `,"dpc":`, uint64(*j.DPC))
		b = append(b, ',')
	}
	b = append(b, `"msg_name":`...)
	b = appendStringS(b, j.MsgName)
	b = append(b, `,"called_number":`...)
	b = appendStringS(b, j.Called.Num)
	b = append(b, `,"calling_number":`...)
	b = appendStringS(b, j.Calling.Num)
	b = append(b, '}')
	if err != nil {
		b = appendErrorMember(b, err)
		row.ProtocolHeader = b
		return &PayloadError{Proto: m.Proto, Reason: "isup_malformed", Err: fmt.Errorf("isup: %w", err)}
	}
	row.ProtocolHeader = b
	return nil
}
