package rtp

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the length of the RTP fixed header without CSRCs.
const HeaderLen = 12

// Errors of [Header.DecodeFromBytes].
var (
	ErrShort   = errors.New("rtp: packet shorter than its header")
	ErrVersion = errors.New("rtp: version is not 2")
	ErrRTCP    = errors.New("rtp: RTCP packet type (rtcp-mux)")
)

// Header is the RTP fixed header. See the package documentation for the
// layout.
type Header struct {
	Marker     bool
	Padding    bool
	Extension  bool
	CSRCCount  uint8
	PT         uint8
	Seq        uint16
	Timestamp  uint32
	SSRC       uint32
	PayloadOff int // offset of the payload: 12 + 4×CC (+ the extension)
}

// DecodeFromBytes reads the header from b. It resets h. b is not kept.
func (h *Header) DecodeFromBytes(b []byte) error {
	*h = Header{}
	if len(b) < HeaderLen {
		return ErrShort
	}
	if b[0]>>6 != 2 {
		return ErrVersion
	}
	h.Padding = b[0]&0x20 != 0
	h.Extension = b[0]&0x10 != 0
	h.CSRCCount = b[0] & 0x0f
	h.Marker = b[1]&0x80 != 0
	h.PT = b[1] & 0x7f
	if h.PT >= 72 && h.PT <= 76 {
		return ErrRTCP
	}
	h.Seq = binary.BigEndian.Uint16(b[2:4])
	h.Timestamp = binary.BigEndian.Uint32(b[4:8])
	h.SSRC = binary.BigEndian.Uint32(b[8:12])
	off := HeaderLen + 4*int(h.CSRCCount)
	if h.Extension {
		if len(b) < off+4 {
			return ErrShort
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:off+4]))
	}
	if len(b) < off {
		return ErrShort
	}
	h.PayloadOff = off
	return nil
}
