package rtcp

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAppendBinaryRoundTrip: a packet rebuilt from its JSON (as heplify
// and xhep-agent send RTCP) decodes to the same reports, sender info,
// SDES and BYE as the binary original, and is byte-identical to it when
// the original has only SR/RR, SDES (one chunk) and BYE.
func TestAppendBinaryRoundTrip(t *testing.T) {
	orig := []byte{
		// SR, RC=2, length 18 words: SSRC 0x11223344, sender info, 2 blocks
		0x82, 200, 0x00, 0x12, 0x11, 0x22, 0x33, 0x44,
		0xe9, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x3e, 0x80,
		0xaa, 0xbb, 0xcc, 0xdd, 0x40, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78, 0x00, 0x01, 0x00, 0x00,
		0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		// SDES, 1 chunk: SSRC, CNAME "ab@x" (type 1, len 4), end, pad: 3 words
		0x81, 202, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44, 0x01, 0x04, 'a', 'b', '@', 'x', 0x00, 0x00,
		// BYE, 1 SSRC
		0x81, 203, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
	}
	if !Valid(orig) {
		t.Fatal("test packet is not valid RTCP")
	}
	var p Packet
	if err := p.DecodeFromBytes(orig); err != nil {
		t.Fatal(err)
	}
	if got := p.AppendBinary(nil); !bytes.Equal(got, orig) {
		t.Errorf("binary -> binary:\n got %x\nwant %x", got, orig)
	}
	js := p.AppendJSON(nil)
	var q Packet
	if err := q.DecodeJSON(js); err != nil {
		t.Fatalf("decode own JSON %s: %v", js, err)
	}
	rebuilt := q.AppendBinary(nil)
	if !Valid(rebuilt) {
		t.Fatalf("rebuilt packet is not valid: %x", rebuilt)
	}
	var r Packet
	if err := r.DecodeFromBytes(rebuilt); err != nil {
		t.Fatal(err)
	}
	type view struct {
		Type, RC  uint8
		SSRC      uint32
		HasSender bool
		Sender    SenderInfo
		Blocks    []ReportBlock
		SDES      []SDESItem
		BYE       []uint32
	}
	v := func(p *Packet) view {
		return view{p.Type, p.ReportCount, p.SSRC, p.HasSender, p.Sender, p.ReportBlocks, p.SDES, p.BYE}
	}
	if diff := cmp.Diff(v(&p), v(&r)); diff != "" {
		t.Errorf("binary -> JSON -> binary (-orig +rebuilt):\n%s", diff)
	}
	// An RR without blocks (as a JSON sender may write one) is 8 bytes.
	rr := (&Packet{Type: TypeRR, SSRC: 7}).AppendBinary(nil)
	if !bytes.Equal(rr, []byte{0x80, 201, 0, 1, 0, 0, 0, 7}) {
		t.Errorf("empty RR: %x", rr)
	}
}
