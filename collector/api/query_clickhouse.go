package api

// The ClickHouse implementation of the API's queries (package
// collector/store/clickhouse has the schema): typed columns instead of
// generated ones, ts (µs) for time, create_date (s) for partition
// pruning, the user index for user search. Only SQL that ClickHouse 18.16
// and current releases both accept: UNION ALL (no UNION DISTINCT),
// LIMIT offset, n, no DateTime64.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// clickhouseQ is the [querier] of a ClickHouse store.
type clickhouseQ struct{ a *API }

// timeCond is the condition for [from, to] (inclusive, µs) and its args:
// create_date prunes partitions and granules, ts is exact.
func chTime(from, to time.Time) (string, []any) {
	f, t := from.UnixMicro(), to.UnixMicro()
	return "create_date >= toDateTime(?) AND create_date <= toDateTime(?) AND ts >= ? AND ts <= ?",
		[]any{floorSec(f), floorSec(t), f, t}
}

func floorSec(us int64) int64 {
	s := us / 1e6
	if us < 0 && us%1e6 != 0 {
		s--
	}
	return max(s, 0)
}

// chMsgCols are the columns of a message in a table's SELECT, chMsgOut
// the same from a UNION ALL subquery; chScanMessage reads them in order.
const (
	chMsgCols = "id, ts, gid, callid, callid_aleg, correlation_id, method, toInt64(status) AS status_i, cseq_method, " +
		"from_user, to_user, ruri_user, user_agent, toInt64(proto) AS proto_i, src_ip, toInt64(src_port) AS src_port_i, dst_ip, toInt64(dst_port) AS dst_port_i"
	chMsgOut = "id, ts, gid, callid, callid_aleg, correlation_id, method, status_i, cseq_method, " +
		"from_user, to_user, ruri_user, user_agent, proto_i, src_ip, src_port_i, dst_ip, dst_port_i"
)

// userRoles: the user index's role of each user column.
var userRoles = map[string]int{"from_user": 1, "to_user": 2, "ruri_user": 3}

// chWhere is the WHERE of a search on table: time, the filters, the node,
// and for a user filter the Call-IDs of the user index (the table's sort
// key then finds the rows).
func (c *clickhouseQ) chWhere(s *search, table string) (string, []any) {
	var b strings.Builder
	tc, args := chTime(s.From, s.To)
	b.WriteString(tc)
	for _, f := range s.filters {
		b.WriteString(" AND ")
		args = append(args, f.render(&b, chCol)...)
		// A filter on user columns only also narrows the Call-IDs through
		// the user index (the table's sort key then finds the rows).
		var roles []string
		for _, col := range f.columns() {
			if role, ok := userRoles[col]; ok {
				roles = append(roles, fmt.Sprint(role))
			}
		}
		if table != "" && len(roles) > 0 && len(roles) == len(f.columns()) {
			fmt.Fprintf(&b, " AND callid %s (SELECT callid FROM `%s` WHERE role IN (%s) AND ", c.in(), usersTable(table), strings.Join(roles, ","))
			args = append(args, filter{col: "user", op: f.op, args: f.args}.render(&b, func(string) string { return "user" })...)
			fmt.Fprintf(&b, " AND %s)", tc)
			_, ta := chTime(s.From, s.To)
			args = append(args, ta...)
		}
	}
	if s.node >= 0 {
		b.WriteString(" AND gid = ?")
		args = append(args, s.node)
	}
	return b.String(), args
}

// chCol is a filter column's expression on ClickHouse: JSON-only fields
// from the protocol_header string; search headers in lower case (the
// value searched is lower case too).
func chCol(c string) string {
	if jsonCols[c] {
		return "visitParamExtractString(protocol_header, '" + c + "')"
	}
	if ip, ok := strings.CutSuffix(c, hexSuffix); ok {
		// An IPv6 address column as 32 hex digits ('' for IPv4).
		return "if(position(" + ip + ", ':') > 0, hex(IPv6StringToNum(" + ip + ")), '')"
	}
	if isHeaderCol(c) {
		return "lowerUTF8(" + c + ")" // case-insensitive, as MariaDB's collation
	}
	return c
}

// usersTable is a table's user index (Distributed in a cluster).
func usersTable(table string) string { return table + "_users" }

// in is the user index subquery's IN: in a cluster GLOBAL IN, so that the
// subquery runs once over the Distributed user index and its Call-IDs go
// to every shard (a shard's own session has no default database to
// resolve a local table name in).
func (c *clickhouseQ) in() string {
	if c.a.cfg.Cluster {
		return "GLOBAL IN"
	}
	return "IN"
}

func (c *clickhouseQ) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := c.a.query(ctx, q, args...)
	if err != nil {
		return nil, c.a.shardErr(ctx, err)
	}
	return rows, nil
}

func (c *clickhouseQ) searchMessages(ctx context.Context, s *search, tables []string) ([]Message, int64, error) {
	var page, count strings.Builder
	var pargs, cargs []any
	hc := hdrCols(c.a.hdrs, false)
	order, sk, skOut := "ts DESC, id DESC", "", ""
	if s.sort != "" {
		sk, skOut = chSortExpr(s.sort)+" AS sk, ", "sk, "
		order = "sk " + direction(s.desc) + ", " + order
	}
	page.WriteString("SELECT tbl, " + skOut + chMsgOut + hc + " FROM (")
	count.WriteString("SELECT toInt64(sum(n)) FROM (")
	for i, t := range tables {
		if i > 0 {
			page.WriteString(" UNION ALL ")
			count.WriteString(" UNION ALL ")
		}
		where, args := c.chWhere(s, t)
		fmt.Fprintf(&page, "SELECT '%s' AS tbl, %s%s%s FROM `%s` WHERE %s ORDER BY %s LIMIT %d", t, sk, chMsgCols, hc, t, where, order, s.offset+s.limit)
		fmt.Fprintf(&count, "SELECT count() AS n FROM `%s` WHERE %s", t, where)
		pargs = append(pargs, args...)
		cargs = append(cargs, args...)
	}
	fmt.Fprintf(&page, ") ORDER BY %s LIMIT %d, %d", order, s.offset, s.limit)
	count.WriteString(")")
	var msgs []Message
	var total int64
	err := parallel(
		func() error {
			if err := c.a.queryRow(ctx, count.String(), cargs...).Scan(&total); err != nil {
				return fmt.Errorf("count messages: %w", c.a.shardErr(ctx, err))
			}
			return nil
		},
		func() error {
			rows, err := c.query(ctx, page.String(), pargs...)
			if err != nil {
				return fmt.Errorf("query messages: %w", err)
			}
			msgs, err = readMessages(rows, "message", s.sort != "", false, c.a.hdrs)
			return err
		})
	return msgs, total, err
}

// chSortExpr is a sort column's value on ClickHouse (integers as Int64,
// as chMsgCols reads them).
func chSortExpr(col string) string {
	switch {
	case col == "time":
		return "ts"
	case numericSort(col):
		return "toInt64(" + col + ")"
	}
	return col
}

func (c *clickhouseQ) pageCalls(ctx context.Context, s *search) ([]string, int64, error) {
	where, args := c.chWhere(s, callTable)
	page := fmt.Sprintf("SELECT callid, max(ts) AS last FROM `%s` WHERE %s AND callid != '' GROUP BY callid ORDER BY last DESC, callid LIMIT %d, %d",
		callTable, where, s.offset, s.limit)
	count := fmt.Sprintf("SELECT toInt64(uniqExact(callid)) FROM `%s` WHERE %s AND callid != ''", callTable, where)
	var ids []string
	var total int64
	err := parallel(
		func() error {
			if err := c.a.queryRow(ctx, count, args...).Scan(&total); err != nil {
				return fmt.Errorf("count calls: %w", c.a.shardErr(ctx, err))
			}
			return nil
		},
		func() error {
			rows, err := c.query(ctx, page, args...)
			if err != nil {
				return fmt.Errorf("query calls: %w", err)
			}
			ids, err = readCallIDs(rows)
			return err
		})
	return ids, total, err
}

func (c *clickhouseQ) messagesOf(ctx context.Context, tables, ids []string, from, to time.Time, raw bool, max int) ([]Message, error) {
	var b strings.Builder
	var args []any
	in := placeholders(len(ids))
	extra := hdrCols(c.a.hdrs, false)
	if raw {
		extra += ", raw"
	}
	tc, targs := chTime(from, to)
	b.WriteString("SELECT tbl, ord, " + chMsgOut + extra + " FROM (")
	for i, t := range tables {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT '%s' AS tbl, toInt64(%d) AS ord, %s%s FROM `%s` WHERE %s AND callid IN (%s)", t, i, chMsgCols, extra, t, tc, in)
		args = append(args, targs...)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	b.WriteString(") ORDER BY ts, ord, id")
	if max > 0 {
		fmt.Fprintf(&b, " LIMIT %d", max+1)
	}
	rows, err := c.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query call messages: %w", err)
	}
	return readFlowMessages(rows, raw, max, c.a.hdrs)
}

func (c *clickhouseQ) span(ctx context.Context, ids []string, tr timeRange) (first, last time.Time, ok bool, err error) {
	in := placeholders(len(ids))
	tc, targs := chTime(tr.From, tr.To)
	var q strings.Builder
	var args []any
	q.WriteString("SELECT min(ts), max(ts), count() FROM (")
	for i, t := range sipTables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT ts FROM `%s` WHERE %s AND callid IN (%s)", t, tc, in)
		args = append(args, targs...)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	q.WriteString(")")
	var f, l int64
	var n uint64
	if err := c.a.queryRow(ctx, q.String(), args...).Scan(&f, &l, &n); err != nil {
		return first, last, false, fmt.Errorf("query call time span: %w", c.a.shardErr(ctx, err))
	}
	if n == 0 {
		return first, last, false, nil
	}
	return time.UnixMicro(f).UTC(), time.UnixMicro(l).UTC(), true, nil
}

func (c *clickhouseQ) links(ctx context.Context, frontier []string, from, to time.Time) ([][3]string, error) {
	in := placeholders(len(frontier))
	tc, targs := chTime(from, to)
	q := fmt.Sprintf(
		"SELECT DISTINCT callid_aleg, 'callid_aleg', callid FROM `%[1]s` WHERE %[3]s AND callid IN (%[2]s) AND callid_aleg != ''"+
			" UNION ALL SELECT DISTINCT correlation_id, 'correlation_id', callid FROM `%[1]s` WHERE %[3]s AND callid IN (%[2]s) AND correlation_id != ''"+
			" UNION ALL SELECT DISTINCT callid, 'callid_aleg', callid_aleg FROM `%[1]s` WHERE %[3]s AND callid_aleg IN (%[2]s)"+
			" UNION ALL SELECT DISTINCT callid, 'correlation_id', correlation_id FROM `%[1]s` WHERE %[3]s AND correlation_id IN (%[2]s)",
		callTable, in, tc)
	var args []any
	for range 4 {
		args = append(args, targs...)
		for _, id := range frontier {
			args = append(args, id)
		}
	}
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query linked legs: %w", err)
	}
	return readLinks(rows)
}

func (c *clickhouseQ) hostsOf(ctx context.Context, ids []string, from, to time.Time, hosts, domains map[string]bool) error {
	var q strings.Builder
	var args []any
	tc, targs := chTime(from, to)
	for i, t := range sipTables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT DISTINCT src_ip, dst_ip, from_domain, to_domain, ruri_domain FROM `%s` WHERE %s AND callid IN (%s)", t, tc, placeholders(len(ids)))
		args = append(args, targs...)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := c.query(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("query call hosts: %w", err)
	}
	return readHosts(rows, hosts, domains)
}

// correlated queries cols of table's rows correlated with ids within
// [from, to], in capture order.
func (c *clickhouseQ) correlated(ctx context.Context, table, cols string, ids []string, from, to time.Time) (*sql.Rows, error) {
	tc, args := chTime(from, to)
	q := fmt.Sprintf("SELECT %s FROM `%s` WHERE %s AND correlation_id IN (%s) ORDER BY ts, id", cols, table, tc, placeholders(len(ids)))
	for _, id := range ids {
		args = append(args, id)
	}
	return c.query(ctx, q, args...)
}

func (c *clickhouseQ) rtcpOf(ctx context.Context, ids []string, from, to time.Time) ([]RTCPEntry, error) {
	rows, err := c.correlated(ctx, rtcpTable, "ts, correlation_id, src_ip, toInt64(src_port), dst_ip, toInt64(dst_port), payload", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query rtcp: %w", err)
	}
	return readRTCP(rows)
}

func (c *clickhouseQ) logsOf(ctx context.Context, ids []string, from, to time.Time) ([]LogEntry, error) {
	rows, err := c.correlated(ctx, logTable, "ts, correlation_id, src_ip, dst_ip, visitParamExtractString(payload, 'message')", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query logs: %w", err)
	}
	return readLogs(rows)
}

func (c *clickhouseQ) dnsOf(ctx context.Context, hosts []string, domains map[string]bool, from, to time.Time) ([]DNSEntry, error) {
	out := []DNSEntry{}
	if len(hosts) == 0 || len(domains) == 0 {
		return out, nil
	}
	in := placeholders(len(hosts))
	tc, args := chTime(from, to)
	q := fmt.Sprintf("SELECT id, ts, src_ip, toInt64(src_port), dst_ip, toInt64(dst_port), qname, toInt64(qtype), toInt64(qr), toInt64(rcode), payload"+
		" FROM %s WHERE %s AND (src_ip IN (%s) OR dst_ip IN (%s)) ORDER BY ts, id", dnsTable, tc, in, in)
	for range 2 {
		for _, h := range hosts {
			args = append(args, h)
		}
	}
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query dns: %w", err)
	}
	return readDNS(rows, domains)
}

func (c *clickhouseQ) rtcpRaw(ctx context.Context, ids []string, from, to time.Time) ([]packet, error) {
	rows, err := c.correlated(ctx, rtcpTable, "ts, toInt64(if(proto = 0, 17, proto)), src_ip, toInt64(src_port), dst_ip, toInt64(dst_port), raw", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query rtcp packets: %w", err)
	}
	return readPackets(rows)
}

func (c *clickhouseQ) statsCounts(ctx context.Context, from, to time.Time, secs int64) ([]statCount, error) {
	var b strings.Builder
	var args []any
	tc, targs := chTime(from, to)
	b.WriteString("SELECT bucket, st, m, toInt64(count()) FROM (")
	for i, t := range sipTables {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT intDiv(ts - ?, %d) AS bucket, toInt64(status) AS st, method AS m FROM `%s` WHERE %s", secs*1e6, t, tc)
		args = append(args, from.UnixMicro())
		args = append(args, targs...)
	}
	b.WriteString(") GROUP BY bucket, st, m")
	rows, err := c.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query stats: %w", err)
	}
	return readStats(rows)
}

func (c *clickhouseQ) registerRows(ctx context.Context, s *search, max int) ([]regRow, error) {
	where, args := c.chWhere(s, registrationTable)
	q := fmt.Sprintf("SELECT ts, callid, toInt64(visitParamExtractUInt(protocol_header, 'cseq_num')), method, toInt64(status), to_user, to_domain, "+
		"visitParamExtractString(protocol_header, 'contact_user'), "+
		"if(visitParamHas(protocol_header, 'expires'), visitParamExtractInt(protocol_header, 'expires'), toInt64(-1)), "+
		"user_agent, src_ip, toInt64(src_port), dst_ip, toInt64(dst_port) FROM `%s` WHERE %s ORDER BY ts, id LIMIT %d", registrationTable, where, max+1)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query registrations: %w", err)
	}
	return readRegs(rows, max)
}
