package dissect

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/dns"
	"github.com/xhep/xhep/hep/jsonw"
	"github.com/xhep/xhep/hep/proto"
	"github.com/xhep/xhep/hep/rtcp"
	"github.com/xhep/xhep/hep/sip"
)

// DefaultALegHeaders is the A-leg header list when [Config.ALegHeaders] is
// empty.
var DefaultALegHeaders = []string{"X-CID"}

// Config configures a [Dissector].
type Config struct {
	// ALegHeaders names the SIP headers whose value is the Call-ID of the
	// A leg (stored as callid_aleg): the first header that matches wins.
	// An entry is a header name compared case-insensitively, or, when it
	// holds a regular-expression metacharacter, a regular expression that
	// must match the whole name, case-insensitively ("X-CID|X-Leg-ID",
	// "x-b2b-.*"). Empty means ["X-CID"].
	ALegHeaders []string
	// SearchHeaders names SIP headers (--search-header, e.g. X-Account)
	// whose first value goes into protocol_header under its column name
	// (see [backend.SearchHeaders]), so that the backends can index it.
	SearchHeaders []string
	// MaxNameCache bounds the per-Dissector cache of header names already
	// tested against the regular expressions (default 4096).
	MaxNameCache int
	// MaxFuture bounds how far a capture time may be ahead of this host's
	// clock (a sender with a bad clock, a year 2090). A message further
	// ahead is stored at the receive time; hep_header keeps its capture
	// time (timeSeconds, timeUseconds) and says how many seconds it was
	// ahead (timeAhead). 0 means DefaultMaxFuture, negative no bound.
	MaxFuture time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultMaxFuture is Config.MaxFuture's default.
const DefaultMaxFuture = time.Hour

// ErrMalformed is wrapped by every [*PayloadError].
var ErrMalformed = errors.New("malformed payload")

// PayloadError reports a payload that could not be dissected, or only in
// part. The Row is filled all the same (with {"error": ...} in its
// payload and the raw bytes) and must be stored: nothing is dropped.
type PayloadError struct {
	Proto  hep.ProtoType
	Reason string // short metric label: "sip_malformed", "json_invalid", ...
	Err    error  // the decoder's error
}

func (e *PayloadError) Error() string {
	return fmt.Sprintf("dissect %s payload: %s: %v", e.Proto, e.Reason, e.Err)
}

func (e *PayloadError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// Reason returns the metric label of an error from Dissect ("" for nil).
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var pe *PayloadError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return "other"
}

// Dissector turns decoded HEP messages into store rows. It keeps decoder
// state and scratch buffers between calls, so it is not safe for
// concurrent use: use one per goroutine.
type Dissector struct {
	alegPlain []string
	alegRe    *regexp.Regexp
	nameCache map[string]bool
	maxCache  int
	search    []searchHeader // Config.SearchHeaders

	maxFuture time.Duration
	now       func() time.Time
	// futureBound is the clock at its last reading plus maxFuture: a
	// capture time below it is never too far ahead, so the clock is read
	// again only for one above it.
	futureBound time.Time
	ahead       time.Duration // of the last Dissect's capture time, when clamped

	msg    sip.Message
	sdp    sip.SDP
	sipOK  bool // msg holds the last Dissect's SIP message
	rtcp   rtcp.Packet
	rtcpOK bool
	dns    dns.Msg
	w      jw
	errBuf []byte
}

// New returns a Dissector for cfg; it fails on a bad regular expression.
func New(cfg Config) (*Dissector, error) {
	d := &Dissector{maxCache: cfg.MaxNameCache, nameCache: make(map[string]bool), maxFuture: cfg.MaxFuture, now: cfg.Now}
	if d.maxFuture == 0 {
		d.maxFuture = DefaultMaxFuture
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.maxCache <= 0 {
		d.maxCache = 4096
	}
	names := cfg.ALegHeaders
	if len(names) == 0 {
		names = DefaultALegHeaders
	}
	var res []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if strings.ContainsAny(n, `\.+*?()|[]{}^$`) {
			if _, err := regexp.Compile(n); err != nil {
				return nil, fmt.Errorf("a-leg header %q: %w", n, err)
			}
			res = append(res, "(?:"+n+")")
			continue
		}
		d.alegPlain = append(d.alegPlain, n)
	}
	if len(res) > 0 {
		re, err := regexp.Compile("(?i)^(?:" + strings.Join(res, "|") + ")$")
		if err != nil {
			return nil, fmt.Errorf("a-leg headers: %w", err)
		}
		d.alegRe = re
	}
	if err := d.setSearchHeaders(cfg.SearchHeaders); err != nil {
		return nil, err
	}
	return d, nil
}

// Clone returns a new Dissector with the same configuration (the compiled
// expressions are shared, they are safe for concurrent use) and its own
// scratch state, for another goroutine.
func (d *Dissector) Clone() *Dissector {
	return &Dissector{
		alegPlain: d.alegPlain,
		alegRe:    d.alegRe,
		nameCache: make(map[string]bool),
		maxCache:  d.maxCache,
		search:    d.search,
		maxFuture: d.maxFuture,
		now:       d.now,
	}
}

// Clamped reports whether the last Dissect stored the row at the receive
// time because its capture time was more than Config.MaxFuture ahead.
func (d *Dissector) Clamped() bool { return d.ahead > 0 }

// clampFuture moves a capture time too far ahead to the receive time and
// records by how much it was ahead.
func (d *Dissector) clampFuture(row *store.Row) {
	d.ahead = 0
	if d.maxFuture < 0 || !row.CreateDate.After(d.futureBound) {
		return
	}
	now := d.now().UTC()
	d.futureBound = now.Add(d.maxFuture)
	if row.CreateDate.After(d.futureBound) {
		d.ahead = row.CreateDate.Sub(now)
		row.CreateDate = now.Truncate(time.Microsecond)
	}
}

// SIP returns the SIP message decoded by the last Dissect, or nil when it
// was not SIP or its start line did not decode. It is valid until the next
// Dissect and aliases that call's input.
func (d *Dissector) SIP() *sip.Message {
	if !d.sipOK {
		return nil
	}
	return &d.msg
}

// Dissect fills row from m: table, capture time, node id, the three JSON
// documents (reusing the row's buffers) and Raw, which aliases m.Payload.
// The row is valid until m's input or the row is reused; store.Store.Write
// copies it.
//
// Routing reads the type's descriptor (package hep/proto): its decoder
// (bound in [rowFuncs]) for PayloadDecoded types — SIP into call,
// registration or default by CSeq method; RTCP, DNS, logs into their
// default table —, the JSON as sent for PayloadJSON types (RTP quality
// reports 34, the JSON event types 0x32-0x3d), and for any other type
// {"length": n} with the bytes in raw. A payload that does not decode
// returns a [*PayloadError] and the row still holds everything that could
// be said.
func (d *Dissector) Dissect(m *hep.Message, row *store.Row) error {
	d.sipOK, d.rtcpOK = false, false
	row.GID = m.NodeID
	if m.Has(hep.ChunkTsSec) {
		row.CreateDate = m.Time()
		d.clampFuture(row)
	} else {
		row.CreateDate = time.Now().UTC().Truncate(time.Microsecond)
		d.ahead = 0
	}
	row.Raw = m.Payload

	desc := proto.Of(m.Proto)
	class, err := rowFuncs[m.Proto](d, m, row)
	row.Table = desc.Table(class)
	d.hepHeader(m, row)
	return err
}

// hepHeader writes the HEP envelope with HOMER 7's key names (the contract
// in package store).
func (d *Dissector) hepHeader(m *hep.Message, row *store.Row) {
	b := row.HepHeader[:0]
	b = jsonw.AppendUint(b, `{"protocolFamily":`, uint64(m.IPFamily))
	b = jsonw.AppendUint(b, `,"protocol":`, uint64(m.IPProto))
	b = appendA(b, `,"srcIp":`, m.SrcIP)
	b = appendA(b, `,"dstIp":`, m.DstIP)
	b = jsonw.AppendUint(b, `,"srcPort":`, uint64(m.SrcPort))
	b = jsonw.AppendUint(b, `,"dstPort":`, uint64(m.DstPort))
	b = jsonw.AppendUint(b, `,"timeSeconds":`, uint64(m.TsSec))
	b = jsonw.AppendUint(b, `,"timeUseconds":`, uint64(m.TsUsec))
	b = jsonw.AppendUint(b, `,"payloadType":`, uint64(m.Proto))
	b = jsonw.AppendUint(b, `,"captureId":`, uint64(m.NodeID))
	if m.Has(hep.ChunkNodeName) {
		b = appendS(b, `,"captureName":`, m.NodeName)
	}
	b = appendSNE(b, `,"correlation_id":`, m.CorrelationID)
	if m.Has(hep.ChunkVLAN) {
		b = jsonw.AppendUint(b, `,"vlan":`, uint64(m.VLAN))
	}
	if m.Has(hep.ChunkMOS) {
		b = jsonw.AppendUint(b, `,"mos":`, uint64(m.MOS))
	}
	b = appendSNE(b, `,"transaction_type":`, m.TransactionType)
	b = jsonw.AppendUint(b, `,"hepVersion":`, uint64(m.Version))
	if m.Compress {
		b = append(b, `,"compressed":true`...)
	}
	if d.ahead > 0 {
		b = jsonw.AppendUint(b, `,"timeAhead":`, uint64(d.ahead/time.Second))
	}
	row.HepHeader = append(b, '}')
}

// emptyObject writes {} into buf.
func emptyObject(buf []byte) []byte { return append(buf[:0], '{', '}') }

// errorPayload writes {"error": msg, "length": n} into row.Payload.
func (d *Dissector) errorPayload(row *store.Row, err error, n int) {
	w := &d.w
	w.reset(row.Payload)
	w.open()
	d.errBuf = append(d.errBuf[:0], err.Error()...)
	w.str("error", d.errBuf)
	w.int("length", int64(n))
	w.close()
	row.Payload = w.b
}

// appendErrorMember adds "error": err's text as the last member of the
// JSON object obj (it replaces the closing brace), for a payload that
// decoded in part.
func appendErrorMember(obj []byte, err error) []byte {
	obj = append(obj[:len(obj)-1], `,"error":`...)
	obj = appendStringS(obj, err.Error())
	return append(obj, '}')
}

// logRow stores a log line (type 100) as {"message": text}.
func (d *Dissector) logRow(m *hep.Message, row *store.Row) {
	row.ProtocolHeader = emptyObject(row.ProtocolHeader)
	w := &d.w
	w.reset(row.Payload)
	w.open()
	w.str("message", m.Payload)
	w.close()
	row.Payload = w.b
}

// rawRow stores a payload of a type without a dissector.
func (d *Dissector) rawRow(m *hep.Message, row *store.Row) {
	row.ProtocolHeader = emptyObject(row.ProtocolHeader)
	w := &d.w
	w.reset(row.Payload)
	w.open()
	w.int("length", int64(len(m.Payload)))
	w.close()
	row.Payload = w.b
}

// errInvalidUTF8 marks JSON text that is valid JSON but not UTF-8.
var errInvalidUTF8 = errors.New("JSON text is not valid UTF-8")

// errNotJSON marks a JSON-type payload that is not valid JSON.
var errNotJSON = errors.New("payload is not valid JSON")

// jsonRow stores the JSON event types (Janus, mediasoup, CDR, ...) as
// they are when they are valid JSON in UTF-8.
func (d *Dissector) jsonRow(m *hep.Message, row *store.Row) error {
	row.ProtocolHeader = emptyObject(row.ProtocolHeader)
	if !json.Valid(m.Payload) {
		d.errorPayload(row, errNotJSON, len(m.Payload))
		return &PayloadError{Proto: m.Proto, Reason: "json_invalid", Err: errNotJSON}
	}
	if !utf8.Valid(m.Payload) {
		d.errorPayload(row, errInvalidUTF8, len(m.Payload))
		return &PayloadError{Proto: m.Proto, Reason: "json_invalid_utf8", Err: errInvalidUTF8}
	}
	row.Payload = append(row.Payload[:0], m.Payload...)
	return nil
}
