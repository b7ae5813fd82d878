// Package collector is the xhep collector service: it wires the listeners
// of [github.com/xhep/xhep/collector/ingest] to the dissector of
// [github.com/xhep/xhep/collector/dissect] and the MySQL/MariaDB store of
// [github.com/xhep/xhep/collector/store], with Prometheus metrics, HEP
// forwarding and an offline mode that reads HEP out of capture files.
//
// The offline mode (--read) decodes captures with the agent's own file
// reader and decoder ([github.com/xhep/xhep/agent/source],
// [github.com/xhep/xhep/agent/packet] with Config.HEP), not with a second
// L2-L4 stack: link layers, VLANs, tunnels, IP fragments and TCP
// reassembly (holes, retransmissions, reordering) behave exactly as in the
// agent. The collector importing those two agent packages is a sideways
// edge without a cycle (nothing under agent/ imports collector/ except
// tests); the decoder did not move lower because it is the agent's hot
// path and the top-level layout is fixed.
//
// # Message path
//
// Every message a listener receives runs, in the listener's goroutine,
// through [Service]'s handler with pooled per-goroutine state (so the path
// does not allocate in steady state):
//
//  1. HEP decode (v1, v2, v3, compressed payloads); a message that is not
//     HEP is counted by reason (xhep_collector_decode_errors_total) and
//     dropped — there is nothing to store it under.
//  2. Auth key (chunk 0x0e) when [Config.AuthKey] is set: a message
//     without it is counted (xhep_collector_auth_rejects_total) and dropped.
//  3. Forwarding: the received bytes, unchanged, are queued to every
//     [Config.Forward] destination without blocking; a full queue counts a
//     drop (xhep_collector_forward_drops_total).
//  4. A message without a payload chunk (a keep-alive) is counted
//     (xhep_collector_no_payload_total) and not stored.
//  5. Dissection into a store row; a malformed payload is stored with an
//     error mark and counted (xhep_collector_dissect_errors_total).
//  6. SIP and RTCP KPIs (requests by method, responses by code, INVITE to
//     first response and to 200 OK, REGISTER outcomes, RTCP jitter, loss
//     and round trip).
//  7. The store (batched, spilled to disk while the database is away), or
//     in offline --print mode one JSON line per row.
//
// # Shutdown
//
// [Service.Run] returns when its context ends, after stopping the
// listeners (no message half handled), sending the forward queues and
// closing the store, which drains to the database or to its spill.
//
// # HTTP
//
// [Config.HTTP] serves [Service.Mux]: /metrics now; the HTTP API registers
// /api/v1/ and / on the same mux before Run.
//
// # Configuration
//
// [Config] holds the settings the service reads and nothing else (the
// HTTP API's bounds and the log level stay with the command). It knows no
// flags or file format: cmd/xhep-collector fills it with the one flag and
// YAML loader of cmd/internal/cli. [Config.Validate], [Config.LoadSecrets]
// and [New] refuse a setting with a [SettingError], which names settings by
// their field names ("Read and Listen do not go together"); the command
// writes them as its flags ("--read and --listen ...").
package collector
