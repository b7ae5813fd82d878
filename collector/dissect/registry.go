package dissect

import (
	"fmt"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// rowFunc writes a row's protocol_header and payload for one HEP type and
// returns the table class (proto.Default unless the type is split).
type rowFunc func(d *Dissector, m *hep.Message, row *store.Row) (proto.TableClass, error)

// decoders binds each descriptor with proto.PayloadDecoded (hep/proto's
// registry) to its decoder: the collector half of the descriptor.
var decoders = map[hep.ProtoType]rowFunc{
	hep.ProtoSIP:      (*Dissector).sipRow,
	hep.ProtoRTCP:     defaultClass((*Dissector).rtcpRow),
	hep.ProtoDNS:      defaultClass((*Dissector).dnsRow),
	hep.ProtoLog:      defaultClass(func(d *Dissector, m *hep.Message, row *store.Row) error { d.logRow(m, row); return nil }),
	hep.ProtoM3UAJSON: defaultClass((*Dissector).isupRow),
}

// rowFuncs is the row function of every HEP type, from its descriptor.
var rowFuncs [256]rowFunc

func init() {
	var err error
	if rowFuncs, err = bind(proto.Of, decoders); err != nil {
		panic(err)
	}
}

// bind gives every HEP type its row function: its decoder for a
// PayloadDecoded descriptor, jsonRow for PayloadJSON, rawRow otherwise.
// A PayloadDecoded type without a decoder, or a decoder for a type whose
// descriptor does not say PayloadDecoded, is an error: descriptor and
// decoder must agree.
func bind(of func(hep.ProtoType) *proto.Desc, dec map[hep.ProtoType]rowFunc) ([256]rowFunc, error) {
	var out [256]rowFunc
	for t := range out {
		desc := of(hep.ProtoType(t))
		f, bound := dec[hep.ProtoType(t)]
		switch desc.Payload {
		case proto.PayloadDecoded:
			if !bound {
				return out, fmt.Errorf("dissect: HEP type %d (%s) is PayloadDecoded in hep/proto but has no decoder", t, desc.Type)
			}
			out[t] = f
			continue
		case proto.PayloadJSON:
			out[t] = defaultClass((*Dissector).jsonRow)
		default:
			out[t] = defaultClass(func(d *Dissector, m *hep.Message, row *store.Row) error { d.rawRow(m, row); return nil })
		}
		if bound {
			return out, fmt.Errorf("dissect: HEP type %d (%s) has a decoder but is not PayloadDecoded in hep/proto", t, desc.Type)
		}
	}
	return out, nil
}

// defaultClass adapts a decoder of a type stored in its default table.
func defaultClass(f func(d *Dissector, m *hep.Message, row *store.Row) error) rowFunc {
	return func(d *Dissector, m *hep.Message, row *store.Row) (proto.TableClass, error) {
		return proto.Default, f(d, m, row)
	}
}
