package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// benchDB is a uniquely named database on the suite's server, dropped by
// drop.
type benchDB struct {
	dsn   string
	name  string
	db    *sql.DB // server handle without a default database
	spill string  // a fresh spill directory for the store
}

// openDB names a fresh database (created by the store) on the server and
// makes a spill directory; close drops and removes both.
func (s *suite) openDB(prefix string) (*benchDB, error) {
	if s.opt.MySQL == "" {
		return nil, errors.New("no database: pass --mysql DSN or set XHEP_TEST_DSN (scripts/mariadb.sh start prints one)")
	}
	dc, err := mysql.ParseDSN(s.opt.MySQL)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	dc.DBName = ""
	c, err := mysql.NewConnector(dc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	spill, err := os.MkdirTemp(s.opt.WorkDir, "spill-")
	if err != nil {
		db.Close()
		return nil, err
	}
	var r [4]byte
	rand.Read(r[:])
	return &benchDB{dsn: s.opt.MySQL, name: prefix + hex.EncodeToString(r[:]), db: db, spill: spill}, nil
}

// close drops the database, removes the spill directory and closes the
// handle; failures are logged.
func (s *suite) closeDB(b *benchDB) {
	defer b.db.Close()
	os.RemoveAll(b.spill)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := b.db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+b.name+"`"); err != nil {
		s.logf("  drop database %s: %v", b.name, err)
	}
}

// sipRows counts the rows in the SIP tables.
func (b *benchDB) sipRows(ctx context.Context) (int64, error) {
	var total int64
	for _, t := range proto.Of(hep.ProtoSIP).Tables() {
		var n int64
		err := b.db.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) FROM `%s`.`%s`", b.name, t)).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("count %s: %w", t, err)
		}
		total += n
	}
	return total, nil
}

// serverPID finds the database server's process id through @@pid_file when
// the server runs on this machine; 0 when it cannot be read.
func (b *benchDB) serverPID(ctx context.Context) int {
	var f string
	if err := b.db.QueryRowContext(ctx, "SELECT @@pid_file").Scan(&f); err != nil {
		return 0
	}
	raw, err := os.ReadFile(f)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0
	}
	if _, ok := procCPU(pid); !ok {
		return 0
	}
	return pid
}

// histogram reads a histogram from a registry: count, mean and an upper
// bound of the 99th percentile (the bucket bound it falls in).
func histogram(g prometheus.Gatherer, name string) (count uint64, mean, p99 float64, ok bool) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, 0, 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h == nil || h.GetSampleCount() == 0 {
			return 0, 0, 0, false
		}
		count = h.GetSampleCount()
		mean = h.GetSampleSum() / float64(count)
		p99 = math.Inf(1)
		for _, b := range h.GetBucket() {
			if float64(b.GetCumulativeCount()) >= 0.99*float64(count) {
				p99 = b.GetUpperBound()
				break
			}
		}
		return count, mean, p99, true
	}
	return 0, 0, 0, false
}

// cpuMeter measures the CPU of this process and, when known, of the
// database server over an interval.
type cpuMeter struct {
	pid        int
	self0, db0 time.Duration
	t0         time.Time
}

func startCPU(dbPID int) *cpuMeter {
	m := &cpuMeter{pid: dbPID, self0: selfCPU(), t0: time.Now()}
	if dbPID > 0 {
		m.db0, _ = procCPU(dbPID)
	}
	return m
}

// cores returns the average cores used by this process and the database
// server since start (db < 0 when unknown).
func (m *cpuMeter) cores() (self, db float64) {
	el := time.Since(m.t0).Seconds()
	self = (selfCPU() - m.self0).Seconds() / el
	db = -1
	if m.pid > 0 {
		if d, ok := procCPU(m.pid); ok {
			db = (d - m.db0).Seconds() / el
		}
	}
	return self, db
}
