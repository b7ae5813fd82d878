package collector

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/xhep/xhep/hep"
)

// TestFarFutureEndToEnd: a message from a sender whose clock says 2090 is
// stored in today's partition at its receive time (so retention and
// --max-db-size reach it and partition changes never move it), with its
// capture time in hep_header; it is counted.
func TestFarFutureEndToEnd(t *testing.T) {
	dsn := testDSN(t)
	name, db := testDatabase(t, dsn)
	s, err := New(Config{Listen: []string{"udp://127.0.0.1:0"}, MySQL: dsn, Database: name, HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	y2090 := time.Date(2090, 6, 1, 12, 0, 0, 0, time.UTC)
	c, err := net.Dial("udp", addrOf(t, s, "udp"))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	if _, err := c.Write(hepMsg(t, hep.ProtoSIP, sipMsg("INVITE sip:bob@b.example SIP/2.0", "clock-2090", "1 INVITE"), y2090, nil)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitMetric(t, s, func(m string) bool { return metricValue(m, "xhep_collector_future_clamped_total") == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	today := "p" + before.Format("20060102")
	var createdText string
	var ts, ahead int64
	err = db.QueryRow("SELECT create_date, JSON_VALUE(hep_header, '$.timeSeconds'), JSON_VALUE(hep_header, '$.timeAhead') FROM `"+name+"`.hep_proto_1_call PARTITION ("+today+") WHERE JSON_VALUE(protocol_header, '$.callid') = 'clock-2090'").Scan(&createdText, &ts, &ahead)
	if err != nil {
		t.Fatalf("row in today's partition %s: %v", today, err)
	}
	created, err := time.Parse("2006-01-02 15:04:05.999999", createdText)
	if err != nil {
		t.Fatal(err)
	}
	if created.Before(before.Add(-time.Second)) || created.After(time.Now().Add(time.Second)) {
		t.Errorf("create_date %v, want the receive time (about %v)", created, before)
	}
	if ts != y2090.Unix() || ahead < int64(60*365*24*3600) {
		t.Errorf("hep_header timeSeconds %d (want %d), timeAhead %d", ts, y2090.Unix(), ahead)
	}
}
