package hep

import "encoding/binary"

// Acknowledged delivery between xhep-agent and xhep-collector rides in HEP3
// vendor chunks, so any HEP receiver can read the same stream: a receiver
// that does not know vendor VendorXHEP skips its chunks by their length.
// Other receivers (heplify-server, Kamailio sipcapture) switch on the chunk
// type without looking at the vendor id, so the types are far outside the
// generic range (0x0001..0x0029 and what HOMER adds) to keep them from
// being read as generic chunks.
//
// Sequence chunk, agent → collector, the first chunk of every message on an
// acknowledged stream (right after the 6-byte "HEP3"+length header, so the
// agent stamps and reads it at a fixed offset; a receiver may find it
// anywhere):
//
//	0        2        4        6                14               22
//	+--------+--------+--------+----------------+----------------+
//	| 0x7868 | 0x7801 | 0x0016 | stream id      | sequence       |
//	+--------+--------+--------+----------------+----------------+
//	vendor   type     length   uint64 BE        uint64 BE
//
// The stream id names one producer's numbering (one agent lane in one
// process run); sequence numbers start at 1 and grow by one per message
// in the order the producer sends them, so resends carry the numbers they
// had the first time.
//
// Ack message, collector → agent, on the same TCP/TLS connection: a whole
// HEP3 message holding nothing but ack chunks, one per stream:
//
//	"HEP3" | length | ack chunk | ack chunk | ...
//
//	0        2        4        6                14               22
//	+--------+--------+--------+----------------+----------------+
//	| 0x7868 | 0x7802 | 0x0016 | stream id      | acknowledged   |
//	+--------+--------+--------+----------------+----------------+
//
// An ack is cumulative: every message of the stream with a sequence up to
// and including "acknowledged" is durable at the collector (committed to
// its database or written to its journal) and will not be stored twice.
// The collector sends an ack for a stream as soon as it sees the stream's
// first message on a connection (with what it already holds, possibly 0):
// that first answer is how the agent learns that the peer acknowledges.
const (
	VendorXHEP   uint16 = 0x7868 // "xh"
	ChunkXHEPSeq uint16 = 0x7801 // stream id + sequence, agent → collector
	ChunkXHEPAck uint16 = 0x7802 // stream id + cumulative ack, collector → agent

	// SeqChunkLen is the size of a sequence (or ack) chunk on the wire.
	SeqChunkLen = chunkHeaderLen + 16
)

// Ack is one stream's cumulative acknowledgement.
type Ack struct {
	Stream uint64
	Seq    uint64
}

// AppendSeq appends msg, one HEP3 message, to dst with a sequence chunk
// for (stream, seq) inserted as its first chunk and the length field
// updated. It does not allocate when dst has room. It returns false (and
// dst unchanged) when msg is not a well-formed HEP3 header with a length
// matching len(msg), or when the result would exceed [MaxMessageLen].
func AppendSeq(dst, msg []byte, stream, seq uint64) ([]byte, bool) {
	if len(msg) < hep3HeaderLen || string(msg[:4]) != "HEP3" ||
		int(binary.BigEndian.Uint16(msg[4:6])) != len(msg) || len(msg)+SeqChunkLen > MaxMessageLen {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, msg[:hep3HeaderLen]...)
	dst = appendSeqChunk(dst, ChunkXHEPSeq, stream, seq)
	dst = append(dst, msg[hep3HeaderLen:]...)
	binary.BigEndian.PutUint16(dst[start+4:], uint16(len(msg)+SeqChunkLen))
	return dst, true
}

func appendSeqChunk(b []byte, typ uint16, stream, seq uint64) []byte {
	v := VendorXHEP
	b = append(b, byte(v>>8), byte(v), byte(typ>>8), byte(typ), 0, SeqChunkLen)
	b = binary.BigEndian.AppendUint64(b, stream)
	return binary.BigEndian.AppendUint64(b, seq)
}

// SeqOf returns the sequence chunk of msg, one HEP3 message: first at the
// fixed place the agent puts it, else by walking the chunks. ok is false
// when msg carries none (any other sender) or is malformed.
func SeqOf(msg []byte) (stream, seq uint64, ok bool) {
	if len(msg) < hep3HeaderLen || string(msg[:4]) != "HEP3" {
		return 0, 0, false
	}
	total := min(int(binary.BigEndian.Uint16(msg[4:6])), len(msg))
	for off := hep3HeaderLen; off+chunkHeaderLen <= total; {
		clen := int(binary.BigEndian.Uint16(msg[off+4:]))
		if clen < chunkHeaderLen || off+clen > total {
			return 0, 0, false
		}
		if binary.BigEndian.Uint16(msg[off:]) == VendorXHEP && binary.BigEndian.Uint16(msg[off+2:]) == ChunkXHEPSeq && clen == SeqChunkLen {
			d := msg[off+chunkHeaderLen:]
			return binary.BigEndian.Uint64(d), binary.BigEndian.Uint64(d[8:]), true
		}
		off += clen
	}
	return 0, 0, false
}

// AppendAcks appends one ack message holding acks to dst. At most
// (MaxMessageLen-6)/22 acks fit one message; the rest are left out, so
// callers send a few at a time.
func AppendAcks(dst []byte, acks []Ack) []byte {
	n := min(len(acks), (MaxMessageLen-hep3HeaderLen)/SeqChunkLen)
	dst = append(dst, 'H', 'E', 'P', '3')
	dst = binary.BigEndian.AppendUint16(dst, uint16(hep3HeaderLen+n*SeqChunkLen))
	for _, a := range acks[:n] {
		dst = appendSeqChunk(dst, ChunkXHEPAck, a.Stream, a.Seq)
	}
	return dst
}

// ParseAcks appends the ack chunks of msg (one HEP3 message, as a
// [Framer] returns it) to dst. Other chunks are skipped; a malformed
// message yields what was read before the fault.
func ParseAcks(dst []Ack, msg []byte) []Ack {
	if len(msg) < hep3HeaderLen || string(msg[:4]) != "HEP3" {
		return dst
	}
	total := min(int(binary.BigEndian.Uint16(msg[4:6])), len(msg))
	for off := hep3HeaderLen; off+chunkHeaderLen <= total; {
		clen := int(binary.BigEndian.Uint16(msg[off+4:]))
		if clen < chunkHeaderLen || off+clen > total {
			return dst
		}
		if binary.BigEndian.Uint16(msg[off:]) == VendorXHEP && binary.BigEndian.Uint16(msg[off+2:]) == ChunkXHEPAck && clen == SeqChunkLen {
			d := msg[off+chunkHeaderLen:]
			dst = append(dst, Ack{Stream: binary.BigEndian.Uint64(d), Seq: binary.BigEndian.Uint64(d[8:])})
		}
		off += clen
	}
	return dst
}
