package collector

import (
	"encoding/base64"
	"io"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/xhep/xhep/collector/dissect"
	"github.com/xhep/xhep/collector/store"
)

// printer writes rows as JSON lines, exactly what would be stored:
//
//	{"table":"hep_proto_1_call","create_date":"2016-08-11 12:34:56.123456","gid":2001,
//	 "hep_header":{...},"protocol_header":{...},"payload":{...},"raw":"INVITE ..."}
//
// create_date is in the DATETIME(6) form the database stores (UTC). raw is
// a JSON string when the payload is valid UTF-8, else "raw_base64" holds
// the bytes in standard base64. Safe for concurrent use.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func newPrinter(w io.Writer) *printer { return &printer{w: w} }

// Write implements rowWriter.
func (p *printer) Write(r *store.Row) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := append(p.buf[:0], `{"table":`...)
	b = strconv.AppendQuote(b, r.Table)
	b = append(b, `,"create_date":"`...)
	b = r.CreateDate.UTC().AppendFormat(b, "2006-01-02 15:04:05.000000")
	b = append(b, `","gid":`...)
	b = strconv.AppendUint(b, uint64(r.GID), 10)
	b = append(b, `,"hep_header":`...)
	b = append(b, r.HepHeader...)
	b = append(b, `,"protocol_header":`...)
	b = append(b, r.ProtocolHeader...)
	b = append(b, `,"payload":`...)
	b = append(b, r.Payload...)
	if utf8.Valid(r.Raw) {
		b = append(b, `,"raw":`...)
		b = dissect.AppendJSONString(b, r.Raw)
	} else {
		b = append(b, `,"raw_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Raw)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	p.buf = b
	_, err := p.w.Write(b)
	return err
}
