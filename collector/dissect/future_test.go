package dissect

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
)

// TestFarFutureClamped: a message whose capture time is more than
// MaxFuture ahead of the collector's clock (a sender's clock in 2090) is
// stored at the receive time, so it lands in today's partition where
// retention and the size limit reach it; hep_header keeps the capture
// time (timeSeconds) and says by how much it was ahead (timeAhead).
// Capture times in the past (a 2016 capture imported) and a little ahead
// are kept as sent.
func TestFarFutureClamped(t *testing.T) {
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	y2090 := time.Date(2090, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		maxFuture time.Duration
		at        time.Time
		want      time.Time
		ahead     bool
	}{
		{"2090", time.Hour, y2090, now, true},
		{"two hours ahead", time.Hour, now.Add(2 * time.Hour), now, true},
		{"half an hour ahead", time.Hour, now.Add(30 * time.Minute), now.Add(30 * time.Minute), false},
		{"2016", time.Hour, time.Date(2016, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2016, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"default bound", 0, y2090, now, true},
		{"disabled", -1, y2090, y2090, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDissector(t, Config{MaxFuture: tt.maxFuture, Now: func() time.Time { return now }}).Clone()
			b := encode(t, hep.ProtoSIP, crlf("OPTIONS sip:a@b SIP/2.0\nCall-ID: f-1\nCSeq: 1 OPTIONS\n\n"), func(m *hep.Message) {
				m.TsSec, m.TsUsec = uint32(tt.at.Unix()), 0
			})
			var m hep.Message
			if err := m.DecodeFromBytes(b); err != nil {
				t.Fatal(err)
			}
			var row store.Row
			if err := d.Dissect(&m, &row); err != nil {
				t.Fatal(err)
			}
			if !row.CreateDate.Equal(tt.want) {
				t.Errorf("create_date %v, want %v", row.CreateDate, tt.want)
			}
			if d.Clamped() != tt.ahead {
				t.Errorf("Clamped() = %v, want %v", d.Clamped(), tt.ahead)
			}
			hh := string(row.HepHeader)
			if tt.ahead != strings.Contains(hh, `"timeAhead":`) || !strings.Contains(hh, `"timeSeconds":`+strconv.FormatInt(tt.at.Unix(), 10)) {
				t.Errorf("hep_header %s", hh)
			}
		})
	}
}
