package gen_test

import (
	"fmt"
	"log"

	"github.com/xhep/xhep/bench/gen"
)

// Generate hands every frame to a callback; Truth says what went in.
func ExampleGenerate() {
	cfg := gen.DefaultConfig()
	cfg.Calls, cfg.Registrations, cfg.Options = 10, 2, 1
	cfg.TCP = true
	frames := map[gen.Kind]int{}
	tr, err := gen.Generate(cfg, func(p gen.Packet) error {
		frames[p.Kind]++ // p.Data is reused after this returns: copy what you keep
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("calls:", tr.Stats.Calls, "registrations:", tr.Stats.Registrations)
	fmt.Println("every SIP message listed:", len(tr.SIP) == tr.Stats.SIPMessages)
	fmt.Println("RTCP frames:", frames[gen.KindRTCP] == tr.Stats.RTCP, "DNS frames:", frames[gen.KindDNS] == tr.Stats.DNS)
	fmt.Println("first message:", tr.SIP[0].Transport, tr.SIP[0].Method)
	// Output:
	// calls: 10 registrations: 2
	// every SIP message listed: true
	// RTCP frames: true DNS frames: true
	// first message: tcp OPTIONS
}
