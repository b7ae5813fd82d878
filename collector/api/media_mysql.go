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
	if len(ids) == 0 {
		return []MediaEntry{}, nil
	}
	rows, err := my.correlated(ctx, mediaTable, mediaCols("create_date", jstr, jnum), ids, from, to)
	if noTable(err) {
		return []MediaEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query media reports: %w", err)
	}
	return readMedia(rows)
}

func (my *mysqlQ) lowMOS(ctx context.Context, max float64, from, to time.Time, limit int) ([]LowMOSCall, error) {
	mos := jnum("MOS")
	q := "SELECT correlation_id, MIN(" + mos + "), COUNT(*), MIN(create_date), MAX(create_date) FROM `" + mediaTable +
		"` WHERE create_date BETWEEN ? AND ? AND correlation_id IS NOT NULL AND " + mos + " > 0 AND " + mos + " < ?" +
		" GROUP BY correlation_id ORDER BY 2, 1 LIMIT ?"
	rows, err := my.a.query(ctx, q, from, to, max, limit)
	if noTable(err) {
		return []LowMOSCall{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query low-MOS calls: %w", err)
	}
	return readLowMOS(rows)
}
