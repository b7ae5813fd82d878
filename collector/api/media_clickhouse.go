package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// chNoTable reports ClickHouse's UNKNOWN_TABLE (60).
func chNoTable(err error) bool {
	var ex *ch.Exception
	return errors.As(err, &ex) && ex.Code == 60
}

// The report is a flat JSON object: visitParam* read its top-level keys
// (a missing key is "" or 0, as MySQL's COALESCE makes it).
func chjnum(key string) string { return "visitParamExtractFloat(payload, '" + key + "')" }
func chjstr(key string) string { return "visitParamExtractString(payload, '" + key + "')" }

func (c *clickhouseQ) mediaOf(ctx context.Context, ids []string, from, to time.Time) ([]MediaEntry, error) {
	if len(ids) == 0 {
		return []MediaEntry{}, nil
	}
	rows, err := c.correlated(ctx, mediaTable, mediaCols("ts", chjstr, chjnum), ids, from, to)
	if chNoTable(err) {
		return []MediaEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query media reports: %w", err)
	}
	return readMedia(rows)
}

func (c *clickhouseQ) lowMOS(ctx context.Context, max float64, from, to time.Time, limit int) ([]LowMOSCall, error) {
	mos := chjnum("MOS")
	tc, args := chTime(from, to)
	// Named, not positional, ORDER BY: 18.16 reads "ORDER BY 2" as a constant.
	q := fmt.Sprintf("SELECT correlation_id, min(%[1]s) AS min_mos, toInt64(count()), min(ts), max(ts) FROM `%[2]s`"+
		" WHERE %[3]s AND correlation_id != '' AND %[1]s > 0 AND %[1]s < ? GROUP BY correlation_id ORDER BY min_mos, correlation_id LIMIT %[4]d",
		mos, mediaTable, tc, limit)
	rows, err := c.query(ctx, q, append(args, max)...)
	if chNoTable(err) {
		return []LowMOSCall{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query low-MOS calls: %w", err)
	}
	return readLowMOS(rows)
}
