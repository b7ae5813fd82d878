package hep

import (
	"errors"
	"fmt"
)

// Sentinel errors; decode errors arrive wrapped in a [*DecodeError], so test
// them with errors.Is.
var (
	ErrShort           = errors.New("hep: message too short")
	ErrNotHEP          = errors.New("hep: not a HEP message")
	ErrVersion         = errors.New("hep: unsupported HEP version")
	ErrLength          = errors.New("hep: declared length does not match the buffer")
	ErrChunkLength     = errors.New("hep: chunk length below 6 or past the end of the message")
	ErrChunkSize       = errors.New("hep: fixed-size chunk of the wrong size")
	ErrFamily          = errors.New("hep: unsupported address family")
	ErrPayloadTooLarge = errors.New("hep: message larger than 65535 bytes")
	ErrDecompress      = errors.New("hep: cannot decompress payload")
	// ErrV12Header: a HEP v1/v2 header whose header length or IP protocol
	// no sender writes, or whose payload cannot start a SIP message (v1/v2
	// carry only SIP): random bytes, not HEP.
	ErrV12Header = errors.New("hep: implausible HEP v1/v2 header")
	// ErrV12Time: a HEP v2 time before 2000, more than a year ahead, or
	// with 1,000,000 microseconds or more.
	ErrV12Time = errors.New("hep: implausible HEP v2 time")
)

// DecodeError says where in the input decoding stopped and why.
type DecodeError struct {
	Offset int    // byte offset into the input of the header or chunk at fault
	Chunk  uint16 // chunk type at fault, 0 for the message header
	Err    error  // one of the Err* sentinels, possibly wrapping a cause
}

func (e *DecodeError) Error() string {
	if e.Chunk != 0 {
		return fmt.Sprintf("decode HEP at offset %d (chunk 0x%04x): %v", e.Offset, e.Chunk, e.Err)
	}
	return fmt.Sprintf("decode HEP at offset %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(off int, chunk uint16, err error) error {
	return &DecodeError{Offset: off, Chunk: chunk, Err: err}
}

// ErrorReason maps an error from this package to a short, stable label for
// metrics: "short", "not_hep", "version", "bad_length", "bad_chunk_length",
// "bad_chunk_size", "bad_family", "too_large", "decompress", "bad_v12_header",
// "bad_v12_time"; "other" for
// anything else and "" for nil.
func ErrorReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrShort):
		return "short"
	case errors.Is(err, ErrNotHEP):
		return "not_hep"
	case errors.Is(err, ErrVersion):
		return "version"
	case errors.Is(err, ErrLength):
		return "bad_length"
	case errors.Is(err, ErrChunkLength):
		return "bad_chunk_length"
	case errors.Is(err, ErrChunkSize):
		return "bad_chunk_size"
	case errors.Is(err, ErrFamily):
		return "bad_family"
	case errors.Is(err, ErrPayloadTooLarge):
		return "too_large"
	case errors.Is(err, ErrDecompress):
		return "decompress"
	case errors.Is(err, ErrV12Header):
		return "bad_v12_header"
	case errors.Is(err, ErrV12Time):
		return "bad_v12_time"
	}
	return "other"
}
