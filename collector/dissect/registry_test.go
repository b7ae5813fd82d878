package dissect

import (
	"testing"

	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// TestBind: every descriptor's payload kind gets its row function, and a
// descriptor and the decoders map that disagree are refused (init panics
// on the real pair).
func TestBind(t *testing.T) {
	if _, err := bind(proto.Of, decoders); err != nil {
		t.Fatalf("the registry and the decoders disagree: %v", err)
	}
	// A type the registry says is decoded, without a decoder.
	decodedLog := func(p hep.ProtoType) *proto.Desc {
		if p == 200 {
			return &proto.Desc{Type: 200, Payload: proto.PayloadDecoded}
		}
		return proto.Of(p)
	}
	if _, err := bind(decodedLog, decoders); err == nil || err.Error() != "dissect: HEP type 200 (proto_200) is PayloadDecoded in hep/proto but has no decoder" {
		t.Errorf("decoded type without a decoder: %v", err)
	}
	// A decoder for a type the registry stores raw.
	extra := map[hep.ProtoType]rowFunc{}
	for k, v := range decoders {
		extra[k] = v
	}
	extra[hep.ProtoMGCP] = decoders[hep.ProtoLog]
	if _, err := bind(proto.Of, extra); err == nil || err.Error() != "dissect: HEP type 6 (mgcp) has a decoder but is not PayloadDecoded in hep/proto" {
		t.Errorf("decoder for a raw type: %v", err)
	}
}
