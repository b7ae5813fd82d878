package dissect

import (
	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/hep/ascii"
	"github.com/xhep/xhep/hep/sip"
)

// searchHeader is one Config.SearchHeaders entry.
type searchHeader struct {
	name string // header name, compared case-insensitively
	pre  string // `,"hdr_x_account":` before its value in protocol_header
}

func (d *Dissector) setSearchHeaders(names []string) error {
	hs, err := backend.SearchHeaders(names)
	if err != nil {
		return err
	}
	for _, h := range hs {
		d.search = append(d.search, searchHeader{name: h.Name, pre: `,"` + h.Column + `":`})
	}
	return nil
}

// appendSearchHeaders appends the first value of each search header the
// message has (none: no key, so an absent header is NULL in the database,
// not "").
func (d *Dissector) appendSearchHeaders(b []byte, s *sip.Message) []byte {
	for _, sh := range d.search {
		for _, h := range s.Headers {
			if ascii.EqualFold(h.Name, sh.name) {
				b = appendSNE(b, sh.pre, h.Value)
				break
			}
		}
	}
	return b
}
