package packet

import "net/netip"

// tcpTable follows TCP stream directions.
type tcpTable struct {
	d       *Decoder
	streams map[streamKey]*stream
	bytes   int
}

type streamKey struct{ src, dst netip.AddrPort }

type stream struct{}

func newTCPTable(d *Decoder) *tcpTable {
	return &tcpTable{d: d, streams: make(map[streamKey]*stream)}
}

// tcpSegment decodes a TCP header (RFC 9293):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options (Data Offset > 5)                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
func (d *Decoder) tcpSegment(src, dst netip.Addr, b []byte, emit func(*Message)) {
	if len(b) < 20 {
		d.bad(ReasonTruncated)
		return
	}
	off := int(b[12]>>4) * 4
	if off < 20 {
		d.bad(ReasonBadTCP)
		return
	}
	if off > len(b) {
		d.bad(ReasonTruncated)
		return
	}
	d.st.TCP++
}

func (d *Decoder) Expire(now int64, emit func(*Message)) {
	d.frag.expire(now)
}
