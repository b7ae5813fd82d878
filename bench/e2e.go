package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xhep/xhep/collector"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/proto"
)

// e2e replays a generated SIP capture at a fixed offered rate (capture
// time paced) through the agent's pipeline, over HEP/UDP on loopback,
// into the collector Service (ingest, dissect, store) writing MariaDB, and
// counts the rows with SQL against the generator's truth.
func (s *suite) e2e() {
	const sec = "e2e"
	frames := s.pick(5_000, 100_000)
	rate := float64(s.pick(10_000, 20_000))
	name := fmt.Sprintf("end to end, %s SIP frames offered at %s pkts/s → rows in MariaDB", FormatValue(float64(frames), ""), FormatValue(rate, ""))
	bdb, err := s.openDB("xhep_bench_e2e_")
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	defer s.closeDB(bdb)
	path, truth, err := s.sipCapture(frames, rate)
	if err != nil {
		s.skip(sec, name, err.Error())
		return
	}
	svc, err := collector.New(collector.Config{
		Listen: []string{"udp://127.0.0.1:0"}, MySQL: bdb.dsn, Database: bdb.name, SpillDir: bdb.spill,
	})
	if err != nil {
		s.skip(sec, name, "collector: "+err.Error())
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	stop := func() error {
		cancel()
		return <-done
	}
	url := "udp://" + svc.Listeners()[0].Addr.String()
	dbPID := bdb.serverPID(s.ctx)
	meter := startCPU(dbPID)
	begin := time.Now()
	sum, agentTime, err := runAgentFile(s.ctx, agentConfig(url, true), path, 1)
	if err != nil {
		stop()
		s.skip(sec, name, "agent: "+err.Error())
		return
	}
	// Wait for the rows: until all are there, or no progress for 20 s.
	want := int64(truth.SIPMessages)
	var rows int64
	lastChange := time.Now()
	for s.ctx.Err() == nil {
		n, err := bdb.sipRows(s.ctx)
		if err == nil && n != rows {
			rows, lastChange = n, time.Now()
		}
		if rows >= want || time.Since(lastChange) > 20*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	allIn := time.Since(begin)
	self, db := meter.cores()
	ing := svc.IngestStats()
	if err := stop(); err != nil {
		s.logf("  collector shutdown: %v", err)
	}
	// Count again after the collector drained its store.
	if n, err := bdb.sipRows(context.Background()); err == nil {
		rows = n
	}
	s.add(Result{Section: sec, Name: name, Value: float64(truth.Frames) / agentTime.Seconds(), Unit: "pkts/s offered",
		Note: fmt.Sprintf("agent sent %d HEP, dropped %d; collector received %d datagrams over UDP (the agent's empty probe included), kernel socket drops %d", sum.Send.Sent(), sum.Send.Dropped(), ing.Messages["udp"], ing.UDPDrops)})
	s.add(Result{Section: sec, Name: "end to end loss (generator's SIP messages − rows counted with SQL)", Value: float64(want - rows), Unit: "rows", Target: "0",
		Note: fmt.Sprintf("%d SIP messages in the capture, %d rows in %s", want, rows, strings.Join(proto.Of(hep.ProtoSIP).Tables(), ", "))})
	s.add(Result{Section: sec, Name: "end to end rows/s, first frame read to last row committed", Value: float64(rows) / allIn.Seconds(), Unit: "rows/s",
		Note: fmt.Sprintf("%v; CPU: this process (agent + collector) %.0f%% of a core, mariadbd %s", allIn.Round(time.Millisecond), self*100, coresText(db))})
}

func coresText(c float64) string {
	if c < 0 {
		return "unknown (server not on this machine)"
	}
	return fmt.Sprintf("%.0f%% of a core", c*100)
}
