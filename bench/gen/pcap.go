package gen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// WritePcap generates cfg's traffic into w as a pcap file
// (LINKTYPE_ETHERNET, microsecond timestamps, snap length 65535).
func WritePcap(w io.Writer, cfg Config) (*Truth, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	var ci gopacket.CaptureInfo
	tr, err := Generate(cfg, func(p Packet) error {
		ci.Timestamp = p.TS
		ci.CaptureLength = len(p.Data)
		ci.Length = len(p.Data)
		return pw.WritePacket(ci, p.Data)
	})
	if err != nil {
		return tr, fmt.Errorf("write pcap: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return tr, fmt.Errorf("write pcap: %w", err)
	}
	return tr, nil
}

// WritePcapFile is WritePcap into a new file called name.
func WritePcapFile(name string, cfg Config) (*Truth, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("write pcap: %w", err)
	}
	tr, err := WritePcap(f, cfg)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write pcap: %w", cerr)
	}
	return tr, err
}

// Collect generates cfg's traffic into memory: every Packet with its own
// copy of the frame, in order. Handy in tests of small captures.
func Collect(cfg Config) ([]Packet, *Truth, error) {
	var pkts []Packet
	tr, err := Generate(cfg, func(p Packet) error {
		p.Data = append([]byte(nil), p.Data...)
		pkts = append(pkts, p)
		return nil
	})
	return pkts, tr, err
}

// Stream generates cfg's traffic into ch, each Packet with its own copy of
// the frame. It blocks while ch is full and stops with ctx.Err() when ctx
// is done. It does not close ch.
func Stream(ctx context.Context, cfg Config, ch chan<- Packet) (*Truth, error) {
	return Generate(cfg, func(p Packet) error {
		p.Data = append([]byte(nil), p.Data...)
		select {
		case ch <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}
