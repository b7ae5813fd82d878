// Package store writes collector rows into MySQL 8 / MariaDB 10.11: the
// schema, daily partitions, retention, batched writers and the on-disk
// spill used while the database is away.
//
// # Tables
//
// One table per HEP protocol type and class, named hep_proto_<type>_<class>:
// hep_proto_1_call, hep_proto_1_registration, hep_proto_1_default,
// hep_proto_5_default (RTCP), hep_proto_53_default (DNS),
// hep_proto_100_default (logs), and hep_proto_<N>_default for any other
// type seen. Every table has
//
//	id              BIGINT UNSIGNED AUTO_INCREMENT
//	gid             INT UNSIGNED      -- HEP capture node id
//	create_date     DATETIME(6)       -- capture time, UTC
//	hep_header      JSON
//	protocol_header JSON
//	payload         JSON
//	raw             MEDIUMBLOB
//	PRIMARY KEY (id, create_date), partitioned by RANGE on create_date, one partition a day
//
// plus VIRTUAL generated columns with indexes.
//
// # JSON contract
//
// The dissector (package collector/dissect) writes these keys; the
// generated columns and the HTTP API read them. Keys not listed may be added
// freely; these must not change meaning.
//
// hep_header (every table), HOMER 7 names:
//
//	protocolFamily int (2 or 10), protocol int (17, 6, 132), srcIp, dstIp string,
//	srcPort, dstPort int, timeSeconds, timeUseconds int, payloadType int,
//	captureId int, captureName string (node name), correlation_id string,
//	vlan int, mos int, transaction_type string, hepVersion int
//
// Generated columns on every table: src_ip, dst_ip, src_port, dst_port,
// correlation_id (from hep_header), each indexed with create_date.
//
// protocol_header for SIP (HOMER 7 data_header names):
//
//	callid, callid_aleg, method (request method, or the status code as a
//	string for responses, as HOMER does), status int (0 for requests),
//	reason, cseq ("1 INVITE"), cseq_method, cseq_num int,
//	ruri_user, ruri_domain, from_user, from_domain, from_tag,
//	to_user, to_domain, to_tag, pid_user, auth_user, contact_user,
//	via_1, via_1_branch, via_count int, user_agent, content_type,
//	content_length int, expires int, transaction ("call", "registration", "default")
//
// Generated columns on SIP tables: callid, callid_aleg, method, status,
// ruri_user, ruri_domain, from_user, from_domain, to_user, to_domain,
// user_agent, each indexed (with create_date).
//
// protocol_header for other types holds what can be searched in them
// (RTCP: ssrc, type; DNS: id, qname, qtype, rcode; logs: empty object).
//
// payload is the full dissection: for SIP the headers and the SDP summary,
// for RTCP the report JSON, for DNS the message JSON, for logs
// {"message": text}. A malformed payload is stored with {"error": reason}
// and the raw bytes, never dropped.
package store
