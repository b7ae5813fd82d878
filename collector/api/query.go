package api

import (
	"context"
	"time"
)

// querier is the database side of the API: every query the handlers
// make, implemented once per storage backend (mysqlQ for MySQL/MariaDB,
// clickhouseQ for ClickHouse). The handlers keep what does not depend on
// the database: parameters, the leg closure of a flow, call summaries,
// RTCP streams, pcap and text rendering, stats buckets. The conformance
// test runs the same requests against each backend and compares answers.
type querier interface {
	// searchMessages returns the page of s over the SIP tables (latest
	// first; ties by id) and how many messages match.
	searchMessages(ctx context.Context, s *search, tables []string) ([]Message, int64, error)
	// pageCalls returns the Call-IDs of the call table's page of s
	// (latest message first, ties by Call-ID) and the number of calls.
	pageCalls(ctx context.Context, s *search) ([]string, int64, error)
	// messagesOf returns the SIP messages of Call-IDs ids in tables within
	// [from, to] in capture order (ties by table order, then id); with
	// raw, Raw and FirstLine are filled. More than max (0: no bound) is a
	// 422 error.
	messagesOf(ctx context.Context, tables, ids []string, from, to time.Time, raw bool, max int) ([]Message, error)
	// span is the first and last capture time of ids in the SIP tables
	// within tr; ok false when there is none.
	span(ctx context.Context, ids []string, tr timeRange) (first, last time.Time, ok bool, err error)
	// links returns the legs linked to frontier within [from, to]: {linked
	// Call-ID, "callid_aleg" or "correlation_id", the leg it came from}.
	links(ctx context.Context, frontier []string, from, to time.Time) ([][3]string, error)
	// hostsOf adds the addresses of the legs' SIP messages to hosts and
	// their from, to and request-URI domains (lower case, not IPs) to
	// domains.
	hostsOf(ctx context.Context, ids []string, from, to time.Time, hosts, domains map[string]bool) error
	// rtcpOf, logsOf: rows correlated with ids within [from, to], in
	// capture order.
	rtcpOf(ctx context.Context, ids []string, from, to time.Time) ([]RTCPEntry, error)
	logsOf(ctx context.Context, ids []string, from, to time.Time) ([]LogEntry, error)
	// dnsOf returns the DNS messages sent or received by hosts within
	// [from, to] whose question is for one of domains, in capture order.
	dnsOf(ctx context.Context, hosts []string, domains map[string]bool, from, to time.Time) ([]DNSEntry, error)
	// rtcpRaw returns the binary RTCP packets correlated with ids.
	rtcpRaw(ctx context.Context, ids []string, from, to time.Time) ([]packet, error)
	// registerRows returns the rows of the registration table within s's
	// range and filters, in capture order (ties by id); more than max is
	// a 422 error.
	registerRows(ctx context.Context, s *search, max int) ([]regRow, error)
	// mediaOf returns the HEP type 34 quality reports correlated with ids
	// within [from, to], in capture order (none when the table is missing).
	mediaOf(ctx context.Context, ids []string, from, to time.Time) ([]MediaEntry, error)
	// lowMOS returns the calls with a report whose MOS is below max within
	// [from, to], worst first, at most limit.
	lowMOS(ctx context.Context, max float64, from, to time.Time, limit int) ([]LowMOSCall, error)
	// eventsOf returns at most max rows of table (a standard table of a
	// type other than SIP, named by hep/proto) within tr in capture order
	// (ties by id), only those with correlation id corrID when not empty.
	eventsOf(ctx context.Context, table string, tr timeRange, corrID string, max int) ([]Event, error)
	// statsCounts counts SIP messages within [from, to] by bucket (secs
	// seconds from from), status and method.
	statsCounts(ctx context.Context, from, to time.Time, secs int64) ([]statCount, error)
}

// statCount is one group of statsCounts.
type statCount struct {
	bucket int64
	status int
	method string
	count  int64
}

// regRow is one message of the registration table: a REGISTER or a
// response to one.
type regRow struct {
	time             time.Time
	callid           string
	cseq             int64
	method           string // REGISTER, or the status code
	status           int
	toUser, toDomain string // the address of record
	contactUser      string
	expires          int64 // -1: no Expires header
	userAgent        string
	srcIP, dstIP     string
	srcPort, dstPort int
}
