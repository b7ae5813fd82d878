package store

import (
	"errors"
	"strconv"

	"github.com/xhep/xhep/collector/store/backend"
)

// Standard tables, created at Open.
var standardTables = []string{
	"hep_proto_1_call",
	"hep_proto_1_registration",
	"hep_proto_1_default",
	"hep_proto_5_default",
	"hep_proto_53_default",
	"hep_proto_100_default",
	"hep_proto_34_default", // RTP quality reports (agent --rtp-stats); the API's flow reads it
}

// ErrInvalidTable is returned by [Store.Write] for a Row whose Table is
// not hep_proto_<0-999>_<call|registration|default>.
var ErrInvalidTable = errors.New("invalid table name")

// TableFor returns the table for HEP protocol type proto and class ("call",
// "registration" or anything else for "default"): the single place table
// names are built.
func TableFor(proto uint8, class string) string {
	switch class {
	case "call", "registration":
	default:
		class = "default"
	}
	return "hep_proto_" + strconv.Itoa(int(proto)) + "_" + class
}

// validTable reports whether name matches
// ^hep_proto_[0-9]{1,3}_(call|registration|default)$.
func validTable(name string) bool { return backend.ValidTable(name) }

// classOf returns the retention class of a valid table name.
func classOf(table string) string { return backend.ClassOf(table) }
