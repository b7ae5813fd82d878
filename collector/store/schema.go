package store

import (
	"errors"

	"github.com/xhep/xhep/collector/store/backend"
	"github.com/xhep/xhep/hep/proto"
)

// Standard tables, created at Open: those of the Standard entries of
// hep/proto's registry (SIP's three, RTCP, DNS, logs, RTP quality reports,
// ISUP).
var standardTables = proto.StandardTables()

// ErrInvalidTable is returned by [Store.Write] for a Row whose Table is
// not hep_proto_<0-999>_<call|registration|default>.
var ErrInvalidTable = errors.New("invalid table name")

// validTable reports whether name matches
// ^hep_proto_[0-9]{1,3}_(call|registration|default)$.
func validTable(name string) bool { return backend.ValidTable(name) }

// classOf returns the retention class of a valid table name.
func classOf(table string) string { return backend.ClassOf(table) }
