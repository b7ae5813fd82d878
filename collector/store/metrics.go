package store

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons (label "reason" of xhep_store_dropped_rows_total).
const (
	dropInvalidTable = "invalid_table" // Row.Table not a valid table name
	dropTooLarge     = "too_large"     // a field over 16 MiB (MEDIUMBLOB)
	dropFull         = "queue_and_spill_full"
	dropClosed       = "closed"           // Write after Close
	dropRejected     = "rejected"         // the database refused the row even after repair
	dropShutdown     = "shutdown_db_down" // Close found the database away and no room on disk
)

type metrics struct {
	written    *prometheus.CounterVec
	batchRows  prometheus.Histogram
	batchSecs  prometheus.Histogram
	queueRows  prometheus.GaugeFunc
	spillRecs  prometheus.GaugeFunc
	spillBytes prometheus.GaugeFunc
	dropped    *prometheus.CounterVec
	writeErrs  *prometheus.CounterVec
	repaired   prometheus.Counter
	dupBatches prometheus.Counter
	spilled    prometheus.Counter
	dbUp       prometheus.Gauge
	partitions *prometheus.CounterVec

	dropInvalid, dropBig, dropFullC, dropClosedC prometheus.Counter
}

func newMetrics(s *Store) *metrics {
	m := &metrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_store_rows_written_total", Help: "Rows committed to the database, by table.",
		}, []string{"table"}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "xhep_store_batch_rows", Help: "Rows per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		batchSecs: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "xhep_store_batch_seconds", Help: "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		queueRows: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xhep_store_queue_rows", Help: "Rows held in memory, not yet committed or spilled.",
		}, func() float64 { return float64(s.memRows.Load()) }),
		spillRecs: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xhep_store_spill_records", Help: "Batches waiting in the on-disk spill.",
		}, func() float64 { r, _ := s.spillDepth(); return float64(r) }),
		spillBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "xhep_store_spill_bytes", Help: "Bytes of the on-disk spill.",
		}, func() float64 { _, b := s.spillDepth(); return float64(b) }),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_store_dropped_rows_total", Help: "Rows not stored, by reason.",
		}, []string{"reason"}),
		writeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_store_write_errors_total", Help: "Failed batch writes (retried), by kind: conn, data, schema.",
		}, []string{"kind"}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_store_rows_repaired_total", Help: "Rows the database refused, stored with their JSON replaced by an error mark.",
		}),
		dupBatches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_store_duplicate_batches_total", Help: "Retried batches found already committed (lost commit acks, spill replays).",
		}),
		spilled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "xhep_store_spilled_rows_total", Help: "Rows written to the on-disk spill.",
		}),
		dbUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "xhep_store_db_up", Help: "1 while the database answers and the schema is in place.",
		}),
		partitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xhep_store_partition_actions_total", Help: "Partition actions, by action: create, drop_retention, drop_size, truncate_old, delete_old, remove_future.",
		}, []string{"action"}),
	}
	m.dropInvalid = m.dropped.WithLabelValues(dropInvalidTable)
	m.dropBig = m.dropped.WithLabelValues(dropTooLarge)
	m.dropFullC = m.dropped.WithLabelValues(dropFull)
	m.dropClosedC = m.dropped.WithLabelValues(dropClosed)
	// Fixed label sets exist at 0 from the start (alerts and dashboards
	// must not read "no data").
	for _, a := range []string{"create", "drop_retention", "drop_size", "truncate_old", "delete_old", "remove_future"} {
		m.partitions.WithLabelValues(a)
	}
	for _, k := range []string{"conn", "data", "schema", "spill"} {
		m.writeErrs.WithLabelValues(k)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.written, m.batchRows, m.batchSecs, m.queueRows, m.spillRecs,
		m.spillBytes, m.dropped, m.writeErrs, m.repaired, m.dupBatches, m.spilled, m.dbUp, m.partitions}
}
