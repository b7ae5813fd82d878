package api

// The MySQL/MariaDB implementation of the API's queries: the SQL of the
// handlers, against the store's tables and their generated columns.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
)

// mysqlQ is the [querier] of a MySQL/MariaDB store.
type mysqlQ struct{ a *API }

// msgCols are the columns scanned by scanMessage, in order.
const msgCols = "id, create_date, gid, COALESCE(callid,''), COALESCE(callid_aleg,''), COALESCE(correlation_id,''), " +
	"COALESCE(method,''), COALESCE(status,0), COALESCE(JSON_UNQUOTE(JSON_EXTRACT(protocol_header,'$.cseq_method')),''), " +
	"COALESCE(from_user,''), COALESCE(to_user,''), COALESCE(ruri_user,''), COALESCE(user_agent,''), " +
	"COALESCE(JSON_EXTRACT(hep_header,'$.protocol'),0), COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0)"

// hdrCols are the search header columns after msgCols, read by
// readMessages: on MySQL/MariaDB the indexed generated columns, on
// ClickHouse the materialized ones (an empty string when a message has
// no value).
func hdrCols(hdrs []backend.SearchHeader, mysql bool) string {
	var b strings.Builder
	for _, h := range hdrs {
		if mysql {
			fmt.Fprintf(&b, ", COALESCE(`%s`,'')", h.Column)
		} else {
			fmt.Fprintf(&b, ", %s", h.Column)
		}
	}
	return b.String()
}

// searchSQL returns the page query and the count query of s over tables;
// cols are the message columns (msgCols and the search headers'). With a
// sort column the column's value comes first, as sk, so the UNION can be
// ordered by it (readMessages' ord column).
func searchSQL(s *search, tables []string, cols string) (page string, pageArgs []any, count string, countArgs []any) {
	where, args := s.where()
	order := "create_date DESC, id DESC"
	if s.sort != "" {
		cols = mysqlSortExpr(s.sort) + " AS sk, " + cols
		order = "sk " + direction(s.desc) + ", " + order
	}
	var pb, cb strings.Builder
	cb.WriteString("SELECT ")
	for i, t := range tables {
		if i > 0 {
			pb.WriteString(" UNION ALL ")
			cb.WriteString(" + ")
		}
		fmt.Fprintf(&pb, "(SELECT '%s' AS tbl, %s FROM `%s` WHERE %s ORDER BY %s LIMIT %d)",
			t, cols, t, where, order, s.offset+s.limit)
		fmt.Fprintf(&cb, "(SELECT COUNT(*) FROM `%s` WHERE %s)", t, where)
		pageArgs = append(pageArgs, args...)
		countArgs = append(countArgs, args...)
	}
	fmt.Fprintf(&pb, " ORDER BY %s LIMIT %d OFFSET %d", order, s.limit, s.offset)
	return pb.String(), pageArgs, cb.String(), countArgs
}

// mysqlSortExpr is a sort column's value on MySQL/MariaDB (NULL as the
// empty string or 0, as msgCols reads it).
func mysqlSortExpr(col string) string {
	switch {
	case col == "time":
		return "create_date"
	case numericSort(col):
		return "COALESCE(" + col + ",0)"
	}
	return "COALESCE(`" + col + "`,'')"
}

// direction is ORDER BY's word for desc.
func direction(desc bool) string {
	if desc {
		return "DESC"
	}
	return "ASC"
}

func (my *mysqlQ) searchMessages(ctx context.Context, s *search, tables []string) ([]Message, int64, error) {
	page, pargs, count, cargs := searchSQL(s, tables, msgCols+hdrCols(my.a.hdrs, true))
	var res MessagesResult
	err := parallel(
		func() error {
			if err := my.a.queryRow(ctx, count, cargs...).Scan(&res.Total); err != nil {
				return fmt.Errorf("count messages: %w", err)
			}
			return nil
		},
		func() error {
			rows, err := my.a.query(ctx, page, pargs...)
			if err != nil {
				return fmt.Errorf("query messages: %w", err)
			}
			res.Messages, err = readMessages(rows, "message", s.sort != "", false, my.a.hdrs)
			return err
		})
	if err != nil {
		return nil, 0, err
	}
	return res.Messages, res.Total, nil
}

// messagesOf returns the SIP messages of Call-IDs ids in tables within
// [from, to], in capture order (ties by table order, then id). With raw,
// the raw text and first line are filled. At most max messages (0: no
// bound) are returned; more is an error.
func (my *mysqlQ) messagesOf(ctx context.Context, tables, ids []string, from, to time.Time, raw bool, max int) ([]Message, error) {
	var b strings.Builder
	var args []any
	in := placeholders(len(ids))
	extra := hdrCols(my.a.hdrs, true)
	if raw {
		extra += ", raw"
	}
	for i, t := range tables {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "(SELECT '%s' AS tbl, %d AS ord, %s%s FROM `%s` WHERE create_date BETWEEN ? AND ? AND callid IN (%s))",
			t, i, msgCols, extra, t, in)
		args = append(args, from, to)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	b.WriteString(" ORDER BY create_date, ord, id")
	if max > 0 {
		fmt.Fprintf(&b, " LIMIT %d", max+1)
	}
	rows, err := my.a.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query call messages: %w", err)
	}
	return readFlowMessages(rows, raw, max, my.a.hdrs)
}

// pageCalls returns the Call-IDs of the call table's page of s (latest
// message first) and the number of calls matching. One pass over the
// matching rows gives the page and, through FOUND_ROWS() on the same
// connection, the number of calls.
func (my *mysqlQ) pageCalls(ctx context.Context, s *search) ([]string, int64, error) {
	where, args := s.where()
	page := fmt.Sprintf("SELECT SQL_CALC_FOUND_ROWS callid, MAX(create_date) AS last FROM `%s` WHERE %s AND callid IS NOT NULL GROUP BY callid ORDER BY last DESC, callid LIMIT %d OFFSET %d",
		callTable, where, s.limit, s.offset)
	conn, err := my.a.cfg.DB.Conn(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("query calls: %w", err)
	}
	defer conn.Close()
	if my.a.trace != nil {
		my.a.trace(page, args)
	}
	rows, err := conn.QueryContext(ctx, page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("query calls: %w", err)
	}
	ids, err := readCallIDs(rows)
	if err != nil {
		return nil, 0, err
	}
	var total int64
	if err := conn.QueryRowContext(ctx, "SELECT FOUND_ROWS()").Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count calls: %w", err)
	}
	return ids, total, nil
}

// span returns the first and last capture time of Call-IDs ids in the SIP
// tables within tr (the callid index answers MIN and MAX).
func (my *mysqlQ) span(ctx context.Context, ids []string, tr timeRange) (first, last time.Time, ok bool, err error) {
	in := placeholders(len(ids))
	var q strings.Builder
	var args []any
	q.WriteString("SELECT MIN(f), MAX(l) FROM (")
	for i, t := range sipTables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT MIN(create_date) AS f, MAX(create_date) AS l FROM `%s` WHERE create_date BETWEEN ? AND ? AND callid IN (%s)", t, in)
		args = append(args, tr.From, tr.To)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	q.WriteString(") s")
	var f, l sql.NullTime
	if err := my.a.queryRow(ctx, q.String(), args...).Scan(&f, &l); err != nil {
		return first, last, false, fmt.Errorf("query call time span: %w", err)
	}
	if !f.Valid {
		return first, last, false, nil
	}
	return f.Time.UTC(), l.Time.UTC(), true, nil
}

// links returns the Call-IDs linked to the frontier legs within
// [from, to]: each with the column that linked it and the leg it came from.
func (my *mysqlQ) links(ctx context.Context, frontier []string, from, to time.Time) ([][3]string, error) {
	in := placeholders(len(frontier))
	q := fmt.Sprintf(
		"SELECT DISTINCT callid_aleg, 'callid_aleg', callid FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND callid IN (%[2]s) AND callid_aleg IS NOT NULL"+
			" UNION SELECT DISTINCT correlation_id, 'correlation_id', callid FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND callid IN (%[2]s) AND correlation_id IS NOT NULL"+
			" UNION SELECT DISTINCT callid, 'callid_aleg', callid_aleg FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND callid_aleg IN (%[2]s)"+
			" UNION SELECT DISTINCT callid, 'correlation_id', correlation_id FROM `%[1]s` WHERE create_date BETWEEN ? AND ? AND correlation_id IN (%[2]s)",
		callTable, in)
	var args []any
	for range 4 {
		args = append(args, from, to)
		for _, id := range frontier {
			args = append(args, id)
		}
	}
	rows, err := my.a.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query linked legs: %w", err)
	}
	return readLinks(rows)
}

// hostsOf adds the addresses of the legs' SIP messages to hosts and their
// from, to and request-URI domains to domains.
func (my *mysqlQ) hostsOf(ctx context.Context, ids []string, from, to time.Time, hosts, domains map[string]bool) error {
	var q strings.Builder
	var args []any
	for i, t := range sipTables {
		if i > 0 {
			q.WriteString(" UNION ")
		}
		fmt.Fprintf(&q, "SELECT DISTINCT COALESCE(src_ip,''), COALESCE(dst_ip,''), COALESCE(from_domain,''), COALESCE(to_domain,''), COALESCE(ruri_domain,'')"+
			" FROM `%s` WHERE create_date BETWEEN ? AND ? AND callid IN (%s)", t, placeholders(len(ids)))
		args = append(args, from, to)
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := my.a.query(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("query call hosts: %w", err)
	}
	return readHosts(rows, hosts, domains)
}

func (my *mysqlQ) rtcpOf(ctx context.Context, ids []string, from, to time.Time) ([]RTCPEntry, error) {
	rows, err := my.correlated(ctx, rtcpTable, "create_date, correlation_id, COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0), payload", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query rtcp: %w", err)
	}
	return readRTCP(rows)
}

func (my *mysqlQ) logsOf(ctx context.Context, ids []string, from, to time.Time) ([]LogEntry, error) {
	rows, err := my.correlated(ctx, logTable, "create_date, correlation_id, COALESCE(src_ip,''), COALESCE(dst_ip,''), COALESCE(JSON_UNQUOTE(JSON_EXTRACT(payload,'$.message')),'')", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query logs: %w", err)
	}
	return readLogs(rows)
}

// dnsOf returns the DNS messages sent or received by hosts within
// [from, to] whose question is for one of domains. The DNS table has no
// qname column: the src_ip and dst_ip indexes find the hosts' messages and
// the name is checked here.
func (my *mysqlQ) dnsOf(ctx context.Context, hosts []string, domains map[string]bool, from, to time.Time) ([]DNSEntry, error) {
	out := []DNSEntry{}
	if len(hosts) == 0 || len(domains) == 0 {
		return out, nil
	}
	in := placeholders(len(hosts))
	cols := "id, create_date, COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0), " +
		"COALESCE(JSON_UNQUOTE(JSON_EXTRACT(protocol_header,'$.qname')),''), COALESCE(JSON_EXTRACT(protocol_header,'$.qtype'),0), " +
		"IF(COALESCE(JSON_EXTRACT(protocol_header,'$.qr'),'false') = 'true', 1, 0), COALESCE(JSON_EXTRACT(protocol_header,'$.rcode'),0), payload"
	q := fmt.Sprintf("SELECT %[1]s FROM %[3]s WHERE create_date BETWEEN ? AND ? AND src_ip IN (%[2]s)"+
		" UNION SELECT %[1]s FROM %[3]s WHERE create_date BETWEEN ? AND ? AND dst_ip IN (%[2]s) ORDER BY 2, 1", cols, in, dnsTable)
	var args []any
	for range 2 {
		args = append(args, from, to)
		for _, h := range hosts {
			args = append(args, h)
		}
	}
	rows, err := my.a.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query dns: %w", err)
	}
	return readDNS(rows, domains)
}

// correlated queries cols of the rows of table whose correlation id is one
// of ids, within [from, to], in capture order.
func (my *mysqlQ) correlated(ctx context.Context, table, cols string, ids []string, from, to time.Time) (*sql.Rows, error) {
	q := fmt.Sprintf("SELECT %s FROM `%s` WHERE create_date BETWEEN ? AND ? AND correlation_id IN (%s) ORDER BY create_date, id",
		cols, table, placeholders(len(ids)))
	args := []any{from, to}
	for _, id := range ids {
		args = append(args, id)
	}
	return my.a.query(ctx, q, args...)
}

// rtcpRaw returns the RTCP payloads correlated with ids as binary RTCP
// (what arrived as JSON re-encoded by rtcpBinary).
func (my *mysqlQ) rtcpRaw(ctx context.Context, ids []string, from, to time.Time) ([]packet, error) {
	rows, err := my.correlated(ctx, rtcpTable, "create_date, COALESCE(JSON_EXTRACT(hep_header,'$.protocol'),17), COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0), raw", ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("query rtcp packets: %w", err)
	}
	return readPackets(rows)
}

// statsCounts counts the SIP messages within [from, to] by bucket of
// secs seconds from from, status and method.
func (my *mysqlQ) statsCounts(ctx context.Context, from, to time.Time, secs int64) ([]statCount, error) {
	var b strings.Builder
	var args []any
	for i, t := range sipTables {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT TIMESTAMPDIFF(SECOND, ?, create_date) DIV %d AS bucket, COALESCE(status,0) AS st, COALESCE(method,'') AS m, COUNT(*)"+
			" FROM `%s` WHERE create_date BETWEEN ? AND ? GROUP BY bucket, st, m", secs, t)
		args = append(args, from, from, to)
	}
	rows, err := my.a.query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query stats: %w", err)
	}
	return readStats(rows)
}

// regCols are the columns of registerRows, read by scanReg.
const mysqlRegCols = "create_date, COALESCE(callid,''), COALESCE(JSON_VALUE(protocol_header,'$.cseq_num'),0), COALESCE(method,''), COALESCE(status,0), " +
	"COALESCE(to_user,''), COALESCE(to_domain,''), COALESCE(JSON_VALUE(protocol_header,'$.contact_user'),''), " +
	"COALESCE(JSON_VALUE(protocol_header,'$.expires'),-1), COALESCE(user_agent,''), COALESCE(src_ip,''), COALESCE(src_port,0), COALESCE(dst_ip,''), COALESCE(dst_port,0)"

func (my *mysqlQ) registerRows(ctx context.Context, s *search, max int) ([]regRow, error) {
	where, args := s.where()
	q := fmt.Sprintf("SELECT %s FROM `%s` WHERE %s ORDER BY create_date, id LIMIT %d", mysqlRegCols, registrationTable, where, max+1)
	rows, err := my.a.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query registrations: %w", err)
	}
	return readRegs(rows, max)
}
