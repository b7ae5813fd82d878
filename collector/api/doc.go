// Package api is the collector's HTTP API and web UI: search of stored SIP
// messages and calls, call flows across linked legs with their RTCP, DNS
// and log entries, pcap and text export, and message statistics.
//
// Every table the API reads is named by hep/proto's registry (tables.go):
// no table name is written here.
//
// [New] takes a [Config] with the store's database handle;
// [API.Register] mounts the JSON API under /api/v1/ and the UI (static
// files embedded from ui/, no build step, no CDN) at /.
//
// # Endpoints
//
//	GET /api/v1/messages            SIP messages, newest first, paged, with a total
//	GET /api/v1/calls               the same search grouped by Call-ID (each call summarised
//	                                from its messages up to a day around the range)
//	GET /api/v1/calls/{callid}/flow every message of the call and its linked legs,
//	                                RTCP streams, DNS and logs
//	GET /api/v1/calls/{callid}/pcap the call as a pcap file
//	GET /api/v1/calls/{callid}/text the call as a plain-text ladder and raw messages
//	                                (flow, pcap, text and share take merge=<Call-ID>,
//	                                repeatable: one flow of several calls)
//	GET /api/v1/stats               message counts by method and response code per bucket
//	GET /api/v1/registrations       REGISTER traffic per address of record: registered now,
//	                                contact, registrar, counts of challenges and failures
//	GET /api/v1/events?type=N       the rows of HEP type N's standard table (RTCP, RTP reports,
//	                                DNS, logs, ...: every standard, unsplit type of hep/proto)
//	                                in capture order; correlation_id and limit (<= 1000) optional
//
// Search parameters (messages, calls): from, to (RFC 3339 with any
// precision — minutes, seconds or a fraction; no zone means UTC — or Unix
// seconds with an optional fraction; default: the last [Config.DefaultRange], at
// most [Config.MaxRange]), callid, correlation_id, from_user, to_user,
// ruri_user, pid_user (P-Asserted-Identity), diversion_user, party (any
// of from/to/ruri/pid user), from_domain, to_domain, ruri_domain,
// user_agent (exact, or a prefix with prefix=1; users and domains take *
// wildcards and a number matches with and without "+"), tz (zone of
// zone-less from/to), method (INVITE, or a response code as HOMER
// stores it), status (an integer), src_ip, dst_ip (an IPv4 or IPv6
// address), src_port, dst_port, node (the HEP capture id), limit (default
// 100, at most [Config.MaxLimit]) and offset (at most 100000). Unknown
// parameters are refused with 400, so that a typo never silently widens a
// search. Errors are JSON: {"error": "..."} with status 400 (bad input),
// 401 (missing or wrong bearer token), 403 (not loopback and no token
// configured), 404 (no such call) or 500 (database).
//
// # Queries
//
// Every query names a create_date range, so MariaDB prunes to the day
// partitions it spans, and filters on the generated columns of package
// [github.com/xhep/xhep/collector/store]. Those the store indexes (with
// create_date) are callid, callid_aleg, correlation_id, from/to/ruri
// user, method, status, src_ip and dst_ip; a search on domains, user
// agent, ports or node alone is answered by scanning the pruned
// partitions, so combine them with an indexed field on busy systems. The
// tests check pruning and index use with EXPLAIN PARTITIONS.
//
// A call flow starts from a Call-ID: the first and last time of the call
// come from the callid index (no fixed window, so long calls are whole),
// then the linked legs are found as a transitive closure, bounded by
// [Config.MaxLegs]: a leg whose callid_aleg (X-CID or the configured
// A-leg headers) names a known leg, the leg a known leg's callid_aleg
// names, and legs linked by the HEP correlation id in either direction.
// Each new leg widens the time range. RTCP rows (hep_proto_5_default) whose
// correlation id is one of the legs' Call-IDs, log rows
// (hep_proto_100_default) likewise, and DNS rows (hep_proto_53_default)
// sent or received by one of the call's hosts, for one of its domains
// (the name or a subdomain of it), from [Config.FlowMargin] before the
// call until its end, complete the flow.
//
// # Access
//
// With [Config.Token] set every API request needs "Authorization: Bearer
// <token>" (401 otherwise); the UI's static files are served without it
// and the UI asks for the token. With no token, only clients on a loopback
// address are served (403 otherwise); X-Forwarded-For is not trusted.
//
// [API] is safe for concurrent use; it holds no state besides its Config.
package api
