package hep_test

import (
	"fmt"
	"net/netip"

	"github.com/xhep/xhep/hep"
)

func Example() {
	out := hep.Message{
		IPFamily: 2, IPProto: 17,
		SrcIP: netip.MustParseAddr("192.0.2.1"), DstIP: netip.MustParseAddr("192.0.2.2"),
		SrcPort: 5060, DstPort: 5060, TsSec: 1700000000,
		Proto: hep.ProtoSIP, NodeID: 2001, AuthKey: []byte("myHep"),
		Payload: []byte("OPTIONS sip:192.0.2.2 SIP/2.0\r\n\r\n"),
	}
	out.Set(hep.ChunkVLAN) // write VLAN id 0 too
	b, err := out.AppendTo(nil)
	if err != nil {
		panic(err)
	}

	var in hep.Message
	if err := in.DecodeFromBytes(b); err != nil {
		fmt.Println(hep.ErrorReason(err), err)
		return
	}
	fmt.Println(in.Version, in.Proto, in.SrcIP, in.DstPort, in.Has(hep.ChunkVLAN), in.Time())

	err = in.DecodeFromBytes(b[:len(b)-1])
	fmt.Println(hep.ErrorReason(err))
	// Output:
	// 3 sip 192.0.2.1 5060 true 2023-11-14 22:13:20 +0000 UTC
	// bad_length
}
