// Package hep encodes and decodes HEP, the Homer Encapsulation Protocol:
// HEP v3 in both directions, HEP v1 and v2 for reading. Payload protocol
// packages live under it and are shared by the agent and the collector:
// [github.com/xhep/xhep/hep/sip], [github.com/xhep/xhep/hep/rtcp] and
// [github.com/xhep/xhep/hep/dns].
package hep
