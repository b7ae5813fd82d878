package dissect

import (
	"runtime"
	"testing"

	"github.com/xhep/xhep/collector/store"
	"github.com/xhep/xhep/hep"
	"github.com/xhep/xhep/hep/jsonw"
	"github.com/xhep/xhep/hep/sip"
)

// BenchmarkDissectParts splits BenchmarkDissect's cost: the HEP decode,
// the SIP decode alone, and the row build (Dissect, which includes the SIP
// decode). cpu-ns/op is the thread's CPU time, for a shared machine.
func BenchmarkDissectParts(b *testing.B) {
	pkt := encode(b, hep.ProtoSIP, invite, func(m *hep.Message) { m.CorrelationID = []byte("a84b4c76e66710@pc33") })
	var m hep.Message
	if err := m.DecodeFromBytes(pkt); err != nil {
		b.Fatal(err)
	}
	d := newDissector(b, Config{})
	var row store.Row
	var s sip.Message
	run := func(b *testing.B, f func()) {
		b.ReportAllocs()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := threadCPU()
		n := 0
		for b.Loop() {
			f()
			n++
		}
		b.ReportMetric(float64(threadCPU()-cpu0)/float64(n), "cpu-ns/op")
	}
	b.Run("hep-decode", func(b *testing.B) { run(b, func() { m.DecodeFromBytes(pkt) }) })
	b.Run("sip-decode", func(b *testing.B) { run(b, func() { s.DecodeFromBytes(invite) }) })
	b.Run("dissect", func(b *testing.B) { run(b, func() { d.Dissect(&m, &row) }) })
	b.Run("json-escape", func(b *testing.B) {
		buf := make([]byte, 0, 2048)
		run(b, func() { buf = jsonw.AppendString(buf[:0], invite) })
	})
}
