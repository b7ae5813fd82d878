package bpf

import (
	"encoding/binary"
	"errors"
)

// EventHeaderLen is the size of the header in front of every frame in the
// ring buffer.
const EventHeaderLen = 24

// MaxSnaplen is the largest snap length the programs copy.
const MaxSnaplen = 9216

// Match classes, the bits of [EventHeader].Class.
const (
	ClassSIP        = 1  // SIP port
	ClassSIPContent = 2  // SIP request or status line on another port
	ClassRTCP       = 4  // RTCP heuristic
	ClassDNS        = 8  // DNS port
	ClassFlow       = 16 // later segment of a flow matched by content
	ClassFragment   = 32 // later fragment of a matched datagram
	// ClassFragmentEarly: a UDP fragment that arrived before its
	// datagram's first fragment, or that first fragment completing it.
	ClassFragmentEarly = 64
)

// ErrShortEvent is returned by [ParseEvent] for a record too short for its
// header or for the captured length it claims.
var ErrShortEvent = errors.New("short ring buffer record")

// EventHeader is the header of a ring buffer record (struct event in
// filter.h). On the ring, in host (little-endian) order:
//
//	offset 0   u64 ts        CLOCK_MONOTONIC, nanoseconds
//	offset 8   u32 ifindex   interface the frame was seen on
//	offset 12  u32 orig_len  frame length on the wire
//	offset 16  u32 cap_len   bytes of the frame that follow the header
//	offset 20  u8  egress    1 when captured by the TC egress program
//	offset 21  u8  class     match class bits (Class*)
//	offset 22  u16 padding
//	offset 24  cap_len bytes of the frame, then padding up to the
//	           record's size class
type EventHeader struct {
	MonoNS  uint64 // CLOCK_MONOTONIC
	IfIndex uint32
	OrigLen uint32
	CapLen  uint32
	Egress  bool
	Class   uint8
}

// ParseEvent decodes a ring buffer record in place: it returns the header
// and the frame bytes, which alias rec.
func ParseEvent(rec []byte) (EventHeader, []byte, error) {
	if len(rec) < EventHeaderLen {
		return EventHeader{}, nil, ErrShortEvent
	}
	h := EventHeader{
		MonoNS:  binary.LittleEndian.Uint64(rec[0:8]),
		IfIndex: binary.LittleEndian.Uint32(rec[8:12]),
		OrigLen: binary.LittleEndian.Uint32(rec[12:16]),
		CapLen:  binary.LittleEndian.Uint32(rec[16:20]),
		Egress:  rec[20] != 0,
		Class:   rec[21],
	}
	if uint64(h.CapLen) > uint64(len(rec)-EventHeaderLen) || h.CapLen > h.OrigLen {
		return EventHeader{}, nil, ErrShortEvent
	}
	return h, rec[EventHeaderLen : EventHeaderLen+int(h.CapLen)], nil
}
