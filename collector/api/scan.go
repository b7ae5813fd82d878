package api

// Row readers shared by the queriers: each backend writes its own SQL but
// selects the same columns in the same order and comparable types, and
// one reader per answer turns the rows into it. A capture time is read by
// capTime from either a DATETIME(6) (MySQL) or µs since 1970 (ClickHouse
// ts).

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xhep/xhep/collector/store/backend"
)

// capTime scans a capture time: time.Time (MySQL DATETIME) or an integer
// of µs since 1970 (ClickHouse ts).
type capTime struct{ t time.Time }

func (c *capTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		c.t = x.UTC()
	case int64:
		c.t = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("capture time: unexpected %T", v)
	}
	return nil
}

// readRows runs scan for every row (scan appends what it keeps) and wraps
// the errors with what.
func readRows(rows *sql.Rows, what string, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return fmt.Errorf("scan %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

// readMessages reads SIP messages: the table name, with ord an order
// column (ignored), the message columns (msgCols / chMsgCols), a string
// per search header of hdrs (hdrCols: ” when the message has none) and
// with raw the raw text.
func readMessages(rows *sql.Rows, what string, ord, raw bool, hdrs []backend.SearchHeader) ([]Message, error) {
	var out []Message
	vals := make([]string, len(hdrs))
	err := readRows(rows, what, func() error {
		var m Message
		var ts capTime
		var proto int64
		var o any // the ord column: messagesOf's table order, a search's sort key
		var rawB []byte
		dest := []any{&m.Table}
		if ord {
			dest = append(dest, &o)
		}
		dest = append(dest, &m.ID, &ts, &m.Node, &m.CallID, &m.CallIDALeg, &m.CorrelationID,
			&m.Method, &m.Status, &m.CSeqMethod, &m.FromUser, &m.ToUser, &m.RURIUser, &m.UserAgent,
			&proto, &m.SrcIP, &m.SrcPort, &m.DstIP, &m.DstPort)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if raw {
			dest = append(dest, &rawB)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		m.Time, m.TimeUS = ts.t, ts.t.UnixMicro()
		m.Transport = transportName(int(proto))
		for i, v := range vals {
			if v != "" {
				if m.Headers == nil {
					m.Headers = make(map[string]string, len(vals))
				}
				m.Headers[hdrs[i].Column] = v
			}
		}
		if raw {
			m.Raw = string(rawB)
			line, _, _ := strings.Cut(m.Raw, "\n")
			m.FirstLine = strings.TrimRight(line, "\r")
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// readFlowMessages is readMessages for messagesOf: more than max (0: no
// bound) is a 422 error.
func readFlowMessages(rows *sql.Rows, raw bool, max int, hdrs []backend.SearchHeader) ([]Message, error) {
	out, err := readMessages(rows, "call message", true, raw, hdrs)
	if err != nil {
		return nil, err
	}
	if max > 0 && len(out) > max {
		return nil, &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("call has more than %d SIP messages", max)}
	}
	return out, nil
}

// readCallIDs reads (callid, last time) rows: the Call-IDs.
func readCallIDs(rows *sql.Rows) ([]string, error) {
	var ids []string
	err := readRows(rows, "call", func() error {
		var id string
		var last capTime
		if err := rows.Scan(&id, &last); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	})
	return ids, err
}

// readLinks reads (linked Call-ID, column, from leg) rows, once each,
// without empty or JSON-null ids.
func readLinks(rows *sql.Rows) ([][3]string, error) {
	var out [][3]string
	seen := map[[3]string]bool{}
	err := readRows(rows, "linked leg", func() error {
		var l [3]string
		var id sql.NullString
		if err := rows.Scan(&id, &l[1], &l[2]); err != nil {
			return err
		}
		l[0] = id.String
		if l[0] == "" || l[0] == "null" || seen[l] {
			return nil
		}
		seen[l] = true
		out = append(out, l)
		return nil
	})
	return out, err
}

// readHosts reads (src_ip, dst_ip, from, to, ruri domain) rows into hosts
// and domains.
func readHosts(rows *sql.Rows, hosts, domains map[string]bool) error {
	return readRows(rows, "call hosts", func() error {
		var d [5]string
		if err := rows.Scan(&d[0], &d[1], &d[2], &d[3], &d[4]); err != nil {
			return err
		}
		addHosts(d, hosts, domains)
		return nil
	})
}

// readRTCP reads (time, correlation id, src ip, port, dst ip, port,
// payload) rows.
func readRTCP(rows *sql.Rows) ([]RTCPEntry, error) {
	out := []RTCPEntry{}
	err := readRows(rows, "rtcp", func() error {
		var e RTCPEntry
		var ts capTime
		var p []byte
		if err := rows.Scan(&ts, &e.CorrelationID, &e.SrcIP, &e.SrcPort, &e.DstIP, &e.DstPort, &p); err != nil {
			return err
		}
		e.Time, e.TimeUS = ts.t, ts.t.UnixMicro()
		e.Report = json.RawMessage(p)
		out = append(out, e)
		return nil
	})
	return out, err
}

// readLogs reads (time, correlation id, src ip, dst ip, message) rows.
func readLogs(rows *sql.Rows) ([]LogEntry, error) {
	out := []LogEntry{}
	err := readRows(rows, "log", func() error {
		var e LogEntry
		var ts capTime
		if err := rows.Scan(&ts, &e.CorrelationID, &e.SrcIP, &e.DstIP, &e.Message); err != nil {
			return err
		}
		e.Time, e.TimeUS = ts.t, ts.t.UnixMicro()
		out = append(out, e)
		return nil
	})
	return out, err
}

// readDNS reads (id, time, src ip, port, dst ip, port, qname, qtype, qr
// 0/1, rcode, payload) rows whose question is for one of domains.
func readDNS(rows *sql.Rows, domains map[string]bool) ([]DNSEntry, error) {
	out := []DNSEntry{}
	err := readRows(rows, "dns", func() error {
		var e DNSEntry
		var id uint64
		var ts capTime
		var qr int
		var p []byte
		if err := rows.Scan(&id, &ts, &e.SrcIP, &e.SrcPort, &e.DstIP, &e.DstPort, &e.QName, &e.QType, &qr, &e.RCode, &p); err != nil {
			return err
		}
		if !forDomain(e.QName, domains) {
			return nil
		}
		e.Time, e.TimeUS = ts.t, ts.t.UnixMicro()
		e.QR = qr == 1
		e.Message = json.RawMessage(p)
		out = append(out, e)
		return nil
	})
	return out, err
}

// readPackets reads (time, IP protocol, src ip, port, dst ip, port, raw)
// RTCP rows as packets (JSON RTCP re-encoded; rows without addresses or
// RTCP skipped).
func readPackets(rows *sql.Rows) ([]packet, error) {
	var out []packet
	err := readRows(rows, "rtcp packet", func() error {
		var ts capTime
		var proto, sp, dp int
		var sip, dip string
		var raw []byte
		if err := rows.Scan(&ts, &proto, &sip, &sp, &dip, &dp, &raw); err != nil {
			return err
		}
		rb, ok := rtcpBinary(raw)
		if !ok {
			return nil
		}
		p, err := toPacket(ts.t, proto, sip, sp, dip, dp, rb)
		if err != nil {
			return nil // not an address: nothing to rebuild
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// readStats reads (bucket, status, method, count) rows.
func readStats(rows *sql.Rows) ([]statCount, error) {
	var out []statCount
	err := readRows(rows, "stats", func() error {
		var sc statCount
		if err := rows.Scan(&sc.bucket, &sc.status, &sc.method, &sc.count); err != nil {
			return err
		}
		out = append(out, sc)
		return nil
	})
	return out, err
}

// readRegs reads the registration columns (mysqlRegCols / chRegCols);
// more than max is a 422 error.
func readRegs(rows *sql.Rows, max int) ([]regRow, error) {
	var out []regRow
	err := readRows(rows, "registration", func() error {
		var r regRow
		var ts capTime
		if err := rows.Scan(&ts, &r.callid, &r.cseq, &r.method, &r.status, &r.toUser, &r.toDomain, &r.contactUser,
			&r.expires, &r.userAgent, &r.srcIP, &r.srcPort, &r.dstIP, &r.dstPort); err != nil {
			return err
		}
		r.time = ts.t
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) > max {
		return nil, &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("more than %d REGISTER messages in the range: narrow it or filter by user", max)}
	}
	return out, nil
}

// mediaKeys are the report's keys of a MediaEntry after its time and
// correlation id, in scan order: strings (s) and numbers (n).
var mediaKeys = []struct{ key, kind string }{
	{"TYPE", "s"}, {"SRC_IP", "s"}, {"SRC_PORT", "n"}, {"DST_IP", "s"}, {"DST_PORT", "n"}, {"SSRC", "n"}, {"DIR", "n"},
	{"CODEC_NAME", "s"}, {"CODEC_PT", "n"}, {"TOTAL_PK", "n"}, {"EXPECTED_PK", "n"}, {"PACKET_LOSS", "n"},
	{"JITTER", "n"}, {"MAX_JITTER", "n"}, {"MEAN_JITTER", "n"}, {"MAX_DELTA", "n"},
	{"MOS", "n"}, {"MIN_MOS", "n"}, {"MEAN_MOS", "n"}, {"RFACTOR", "n"},
}

// mediaCols is the select list of a media report query: time, then
// correlation_id, then mediaKeys through str and num (the backend's
// JSON accessors of the payload document).
func mediaCols(timeCol string, str, num func(key string) string) string {
	var b strings.Builder
	b.WriteString(timeCol + ", correlation_id")
	for _, k := range mediaKeys {
		b.WriteString(", ")
		if k.kind == "s" {
			b.WriteString(str(k.key))
		} else {
			b.WriteString(num(k.key))
		}
	}
	return b.String()
}

// readMedia reads media report rows (mediaCols).
func readMedia(rows *sql.Rows) ([]MediaEntry, error) {
	out := []MediaEntry{}
	err := readRows(rows, "media report", func() error {
		var e MediaEntry
		var ts capTime
		var sp, dp, ssrc, dir, pt, pk, exp, lost float64
		if err := rows.Scan(&ts, &e.CorrelationID, &e.Type, &e.SrcIP, &sp, &e.DstIP, &dp, &ssrc, &dir, &e.Codec, &pt,
			&pk, &exp, &lost, &e.JitterMS, &e.MaxJitterMS, &e.MeanJitterMS, &e.MaxDeltaMS, &e.MOS, &e.MinMOS, &e.MeanMOS, &e.RFactor); err != nil {
			return err
		}
		e.SrcPort, e.DstPort, e.SSRC, e.Dir, e.PT = int(sp), int(dp), int64(ssrc), int(dir), int(pt)
		e.Packets, e.Expected, e.Lost = int64(pk), int64(exp), int64(lost)
		if e.Expected > 0 && e.Lost > 0 {
			e.LostPct = 100 * float64(e.Lost) / float64(e.Expected)
		}
		e.Time, e.TimeUS = ts.t, ts.t.UnixMicro()
		out = append(out, e)
		return nil
	})
	return out, err
}

// readLowMOS reads (callid, min MOS, reports, first, last) rows.
func readLowMOS(rows *sql.Rows) ([]LowMOSCall, error) {
	out := []LowMOSCall{}
	err := readRows(rows, "low-MOS call", func() error {
		var c LowMOSCall
		var first, last capTime
		if err := rows.Scan(&c.CallID, &c.MinMOS, &c.Reports, &first, &last); err != nil {
			return err
		}
		c.First, c.Last = first.t, last.t
		out = append(out, c)
		return nil
	})
	return out, err
}
