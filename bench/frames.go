package bench

import (
	"encoding/binary"
	"fmt"
)

// udpFrame builds an Ethernet/IPv4/UDP frame of size bytes (payload padded
// with 'x' up to size) from 10.199.0.2:sport to 10.199.0.1:dport, addressed
// to a MAC address nobody has, so a receiving stack drops it early after XDP
// has seen it.
//
//	0  dst MAC 02:00:00:00:00:99 | src MAC 02:00:00:00:00:01 | 0x0800
//	14 IPv4: 45 00 len | id 0 | ttl 64 proto 17 | 10.199.0.2 → 10.199.0.1
//	34 UDP: sport dport len csum(0)
//	42 payload
func udpFrame(size int, sport, dport uint16, payload []byte) []byte {
	p := append([]byte(nil), payload...)
	for len(p) < size-42 {
		p = append(p, 'x')
	}
	b := make([]byte, 42, 42+len(p))
	copy(b, []byte{2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 1, 8, 0})
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(p)))
	ip[8] = 64
	ip[9] = 17
	copy(ip[12:], []byte{10, 199, 0, 2})
	copy(ip[16:], []byte{10, 199, 0, 1})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := b[34:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(p)))
	return append(b, p...)
}

// sipFrame is a 600-byte-class SIP OPTIONS frame to port 5060.
func sipFrame(size, seq int) []byte {
	msg := fmt.Sprintf("OPTIONS sip:bench@10.199.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.199.0.2:5060;branch=z9hG4bK%d\r\n"+
		"From: <sip:probe@10.199.0.2>;tag=%d\r\nTo: <sip:bench@10.199.0.1>\r\nCall-ID: %d@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", seq, seq, seq)
	return udpFrame(size, 5060, 5060, []byte(msg))
}

// rtpFrame is a 214-byte RTP (G.711, 160 bytes of audio) frame between
// ports 30000 and 30002: traffic the capture filter must not match.
func rtpFrame() []byte {
	return udpFrame(214, 30000, 30002, []byte{0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 1, 2, 3, 4})
}
