// Package proto is the registry of HEP payload types: one descriptor
// ([Desc]) per protocol says everything the agent, the collector, the
// storage backends and the API need to know about it, in the spirit of
// miekg/dns's type table and gopacket's per-layer decoders, without
// reflection:
//
//	Type     the HEP type (chunk 0x0b)
//	Class    the agent class (agent/packet.Class is this type) sent as it
//	Framer   how the agent's TCP framing cuts a stream of that class
//	Payload  how the collector writes the payload document: raw, the JSON
//	         as sent, or by the type's own decoder (bound in
//	         collector/dissect, keyed by the type)
//	Schema   the column set of its tables (SIP columns or generic)
//	Split    whether messages route into call/registration/default
//	Standard whether the store creates its tables at Open (the API reads
//	         them)
//
// Table names are built here only: [Table] gives hep_proto_<type>_<class>
// and [ParseTable] is the one parser (the storage backends' name check,
// retention class and schema read it). Every lookup is an array index:
// [Of], [ByClass] and [Desc.Table] do not allocate, so the hot paths
// (collector/dissect's Dissect, the agent's Pipeline.emit) read the
// registry per message.
//
// Who reads what:
//
//	agent/packet        Class (alias), Framer (streamFramer picks a stream's framer)
//	agent               ByClass(class).Type as the HEP type; its encoders
//	                    array, indexed by Class, writes the payload
//	collector/dissect   Payload; its decoders map binds each PayloadDecoded
//	                    type to its row function; Table for the row's table
//	collector/store     StandardTables; retention class names; backends:
//	                    ParseTable, SchemaOf (backend.ValidTable, ClassOf, IsSIP)
//	collector/api       Table and Desc.Tables for every table it queries;
//	                    GET /api/v1/events serves every Standard, unsplit type
//	collector           the messages_total series preset for Standard types
//	bench               the SIP table names
//
// Adding a protocol: one entry in entries, plus its decoder — an entry
// in collector/dissect's decoders map when Payload is PayloadDecoded (an
// entry that says PayloadDecoded without a decoder, or a decoder for a
// type that does not, fails at start), and on the agent side an encoder
// when the entry has a Class. With Standard set its table exists from
// the start and the API's events endpoint returns its rows. HEP type 54
// (ISUP as JSON) was added so: its entry, collector/dissect/isup.go and
// one line in the decoders map. A type without an entry is stored raw in
// hep_proto_<N>_default, created when its first message arrives.
//
// Import graph: proto imports only package hep, so agent and collector
// both read it and nothing climbs.
package proto
