package api

import (
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// The tables the API reads, by name from hep/proto's registry (the one
// place table names are built). All are standard tables: the store
// creates them at Open, so a query never meets a missing table.
var (
	// sipTables are searched by /messages; /calls reads only the call
	// table.
	sipTables         = proto.Of(hep.ProtoSIP).Tables()
	callTable         = proto.Table(hep.ProtoSIP, proto.Call)
	registrationTable = proto.Table(hep.ProtoSIP, proto.Registration)
	rtcpTable         = proto.Table(hep.ProtoRTCP, proto.Default)
	dnsTable          = proto.Table(hep.ProtoDNS, proto.Default)
	logTable          = proto.Table(hep.ProtoLog, proto.Default)
	// mediaTable holds the HEP type 34 RTP quality reports (a database
	// made before it was standard answers nothing until one arrives).
	mediaTable = proto.Table(hep.ProtoMOSFull, proto.Default)
)
