package hep

import (
	"strconv"
	"time"
)

var protoNames = [...]string{
	ProtoReserved: "reserved",
	ProtoSIP:      "sip",
	ProtoXMPP:     "xmpp",
	ProtoSDP:      "sdp",
	ProtoRTP:      "rtp",
	ProtoRTCP:     "rtcp",
	ProtoMGCP:     "mgcp",
	ProtoMEGACO:   "megaco",
	ProtoM2UA:     "m2ua",
	ProtoM3UA:     "m3ua",
	ProtoIAX:      "iax",
	ProtoH3222:    "h3222",
	ProtoH321:     "h321",
	ProtoM2PA:     "m2pa",
	ProtoMOSFull:  "mos_full",
	ProtoMOSShort: "mos_short",
	ProtoSIPJSON:  "sip_json",
	ProtoDNS:      "dns",
	ProtoM3UAJSON: "m3ua_json",
	ProtoRTSP:     "rtsp",
	ProtoDiameter: "diameter",
	ProtoGSMMAP:   "gsm_map",
	ProtoRTCPPion: "rtcp_pion",
	ProtoCDR:      "cdr",
	ProtoVerto:    "verto",
	ProtoLog:      "log",
}

// String returns the protocol's lower-case name ("sip", "rtcp", "dns",
// "log", ...) or "proto_N" for a type without a name.
func (p ProtoType) String() string {
	if int(p) < len(protoNames) && protoNames[p] != "" {
		return protoNames[p]
	}
	return "proto_" + strconv.Itoa(int(p))
}

// Time returns the capture time from chunks 0x09 and 0x0a, in UTC.
func (m *Message) Time() time.Time {
	return time.Unix(int64(m.TsSec), int64(m.TsUsec)*1000).UTC()
}
