package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// noTable reports MySQL's "table doesn't exist" (1146).
func noTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

func jnum(key string) string {
	return "COALESCE(CAST(JSON_EXTRACT(payload,'$." + key + "') AS DOUBLE),0)"
}

func jstr(key string) string {
	return "COALESCE(JSON_UNQUOTE(JSON_EXTRACT(payload,'$." + key + "')),'')"
}

func (my *mysqlQ) mediaOf(ctx context.Context, ids []string, from, to time.Time) ([]MediaEntry, error) {
	out := []MediaEntry{}
	if len(ids) == 0 {
		return out, nil
	}
	cols := "create_date, correlation_id, " + jstr("TYPE") + ", " + jstr("SRC_IP") + ", " + jnum("SRC_PORT") + ", " +
		jstr("DST_IP") + ", " + jnum("DST_PORT") + ", " + jnum("SSRC") + ", " + jnum("DIR") + ", " + jstr("CODEC_NAME") + ", " +
		jnum("CODEC_PT") + ", " + jnum("TOTAL_PK") + ", " + jnum("EXPECTED_PK") + ", " + jnum("PACKET_LOSS") + ", " +
		jnum("JITTER") + ", " + jnum("MAX_JITTER") + ", " + jnum("MEAN_JITTER") + ", " + jnum("MAX_DELTA") + ", " +
		jnum("MOS") + ", " + jnum("MIN_MOS") + ", " + jnum("MEAN_MOS") + ", " + jnum("RFACTOR")
	rows, err := my.correlated(ctx, mediaTable, cols, ids, from, to)
	if noTable(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query media reports: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e MediaEntry
		var sp, dp, ssrc, dir, pt, pk, exp, lost float64
		if err := rows.Scan(&e.Time, &e.CorrelationID, &e.Type, &e.SrcIP, &sp, &e.DstIP, &dp, &ssrc, &dir, &e.Codec, &pt,
			&pk, &exp, &lost, &e.JitterMS, &e.MaxJitterMS, &e.MeanJitterMS, &e.MaxDeltaMS, &e.MOS, &e.MinMOS, &e.MeanMOS, &e.RFactor); err != nil {
			return nil, fmt.Errorf("scan media report: %w", err)
		}
		e.SrcPort, e.DstPort, e.SSRC, e.Dir, e.PT = int(sp), int(dp), int64(ssrc), int(dir), int(pt)
		e.Packets, e.Expected, e.Lost = int64(pk), int64(exp), int64(lost)
		if e.Expected > 0 && e.Lost > 0 {
			e.LostPct = 100 * float64(e.Lost) / float64(e.Expected)
		}
		e.Time = e.Time.UTC()
		e.TimeUS = e.Time.UnixMicro()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read media reports: %w", err)
	}
	return out, nil
}

func (my *mysqlQ) lowMOS(ctx context.Context, max float64, from, to time.Time, limit int) ([]LowMOSCall, error) {
	out := []LowMOSCall{}
	mos := jnum("MOS")
	q := "SELECT correlation_id, MIN(" + mos + "), COUNT(*), MIN(create_date), MAX(create_date) FROM `" + mediaTable +
		"` WHERE create_date BETWEEN ? AND ? AND correlation_id IS NOT NULL AND " + mos + " > 0 AND " + mos + " < ?" +
		" GROUP BY correlation_id ORDER BY 2, 1 LIMIT ?"
	rows, err := my.a.query(ctx, q, from, to, max, limit)
	if noTable(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query low-MOS calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c LowMOSCall
		if err := rows.Scan(&c.CallID, &c.MinMOS, &c.Reports, &c.First, &c.Last); err != nil {
			return nil, fmt.Errorf("scan low-MOS call: %w", err)
		}
		c.First, c.Last = c.First.UTC(), c.Last.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read low-MOS calls: %w", err)
	}
	return out, nil
}
