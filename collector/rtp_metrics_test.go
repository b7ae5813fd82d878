package collector

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func histogramOf(t *testing.T, h prometheus.Histogram) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.Histogram
}

// TestRTPReportMetrics: periodic reports are counted, final ones also
// feed the per-stream MOS and loss histograms; bad JSON is counted invalid.
func TestRTPReportMetrics(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	m.observeRTP([]byte(`{"TYPE":"PERIODIC","MEAN_MOS":4.4,"EXPECTED_PK":50,"PACKET_LOSS":0}`))
	m.observeRTP([]byte(`{"TYPE":"HANGUP","MEAN_MOS":3.2,"EXPECTED_PK":200,"PACKET_LOSS":20}`))
	m.observeRTP([]byte(`{"TYPE":"TIMEOUT","MEAN_MOS":4.41,"EXPECTED_PK":100,"PACKET_LOSS":-1}`))
	m.observeRTP([]byte(`{"TYPE":`))
	m.observeRTP([]byte(`{"TYPE":"WHATEVER"}`))
	for typ, want := range map[string]float64{"PERIODIC": 1, "HANGUP": 1, "TIMEOUT": 1, "END": 0, "invalid": 2} {
		var c dto.Metric
		if err := m.rtpReports.WithLabelValues(typ).Write(&c); err != nil {
			t.Fatal(err)
		}
		if got := c.GetCounter().GetValue(); got != want {
			t.Errorf("reports{type=%s} = %v, want %v", typ, got, want)
		}
	}
	mos, loss := histogramOf(t, m.rtpMOS), histogramOf(t, m.rtpLoss)
	if mos.GetSampleCount() != 2 || mos.GetSampleSum() != 3.2+4.41 {
		t.Errorf("MOS histogram: %d samples, sum %v", mos.GetSampleCount(), mos.GetSampleSum())
	}
	// 20/200 = 0.1, and the duplicate-only stream (-1 lost) counts as 0
	if loss.GetSampleCount() != 2 || loss.GetSampleSum() != 0.1 {
		t.Errorf("loss histogram: %d samples, sum %v", loss.GetSampleCount(), loss.GetSampleSum())
	}
	// MOS 3.2 lies at or under the 3.5 bucket, 4.41 above 4.4
	for _, b := range mos.Bucket {
		if b.GetUpperBound() == 3.5 && b.GetCumulativeCount() != 1 {
			t.Errorf("MOS ≤3.5: %d", b.GetCumulativeCount())
		}
	}
}
