package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bench/gen"
	"github.com/xhep/xhep/bench/vethns"
)

// replay puts the frames of an Ethernet pcap on a veth pair in capture
// order, so that an agent attached to one end sees each frame in the
// direction it had on the wire: frames from the "local" hosts (--local,
// the SIP proxy side) leave through --iface and pass its TC egress hook;
// all other frames are sent from the peer end (--peer, optionally inside
// the network namespace --peer-netns) and arrive on --iface, where XDP sees
// them. `make demo` uses it to play generated traffic through the agent.
func init() { subcommands["replay"] = runReplay }

type replayConfig struct {
	read      string
	iface     string
	peer      string
	peerNetns string
	local     []netip.Prefix
	pps       float64
}

func parseReplayFlags(args []string, stderr io.Writer) (replayConfig, error) {
	var c replayConfig
	var local string
	fs := flag.NewFlagSet("xhep-bench replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.read, "read", "", "Ethernet pcap to replay (required)")
	fs.StringVar(&c.iface, "iface", "", "interface the agent watches; frames from --local hosts leave through it (required)")
	fs.StringVar(&c.peer, "peer", "", "the other end of the veth pair; every other frame is sent from it (required)")
	fs.StringVar(&c.peerNetns, "peer-netns", "", "network namespace --peer lives in (empty: this one)")
	fs.StringVar(&local, "local", "", "comma-separated prefixes of the local (proxy side) hosts (required)")
	fs.Float64Var(&c.pps, "pps", 2000, "frames per second (0: as fast as possible)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.read == "" || c.iface == "" || c.peer == "" || local == "" {
		return c, errors.New("--read, --iface, --peer and --local are required")
	}
	for _, s := range strings.Split(local, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return c, fmt.Errorf("--local %q: %w", s, err)
		}
		c.local = append(c.local, p.Masked())
	}
	if c.pps < 0 {
		return c, errors.New("--pps must not be negative")
	}
	return c, nil
}

func runReplay(args []string, stdout, stderr io.Writer) int {
	c, err := parseReplayFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "xhep-bench replay:", err)
		return 2
	}
	out, in, err := c.replay()
	if err != nil {
		fmt.Fprintln(stderr, "xhep-bench replay:", err)
		return 1
	}
	fmt.Fprintf(stdout, "replayed %d frames: %d out through %s (egress), %d in from %s (ingress)\n", out+in, out, c.iface, in, c.peer)
	return 0
}

// replayChunk is how many frames are read ahead and sent as batches.
const replayChunk = 4096

func (c replayConfig) replay() (out, in int, err error) {
	f, err := os.Open(c.read)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", c.read, err)
	}
	// No PACKET_QDISC_BYPASS here: bypassing the qdisc layer also skips the
	// TC egress hook, so the agent's egress program would never see the
	// proxy side's frames.
	local, err := gen.NewRawSender(c.iface)
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", c.iface, err)
	}
	defer local.Close()
	peer, err := openInNetns(c.peerNetns, c.peer)
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", c.peer, err)
	}
	defer peer.Close()

	// Frames are read a chunk at a time; each run of frames in one
	// direction goes out in sendmmsg batches, paced by a token bucket
	// (gen.Pacer): one system call per batch, no sleep per frame.
	var pace *gen.Pacer
	if c.pps > 0 {
		pace = gen.NewPacer(c.pps, 0)
	}
	ctx := context.Background()
	buf := make([]byte, 0, replayChunk*2048)
	frames := make([][]byte, 0, replayChunk)
	toLocal := make([]bool, 0, replayChunk)
	send := func() error {
		for i := 0; i < len(frames); {
			j := i + 1
			for j < len(frames) && toLocal[j] == toLocal[i] {
				j++
			}
			s := peer
			if toLocal[i] {
				s = local
			}
			for i < j {
				n := j - i
				if pace != nil {
					n = pace.Next(ctx, n)
				}
				k, err := s.Send(frames[i : i+n])
				if pace != nil {
					pace.Took(k)
				}
				if toLocal[i] {
					out += k
				} else {
					in += k
				}
				i += k
				if err != nil {
					if errors.Is(err, unix.ENOBUFS) {
						runtime.Gosched() // device queue full: try again
						continue
					}
					return err
				}
			}
		}
		frames, toLocal, buf = frames[:0], toLocal[:0], buf[:0]
		return nil
	}
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			return out, in, send()
		}
		if err != nil {
			return out, in, fmt.Errorf("read %s: %w", c.read, err)
		}
		if len(buf)+len(data) > cap(buf) || len(frames) == cap(frames) {
			if err := send(); err != nil {
				return out, in, err
			}
		}
		at := len(buf)
		buf = append(buf, data...)
		frames = append(frames, buf[at:len(buf):len(buf)])
		src, ok := srcAddr(data)
		toLocal = append(toLocal, ok && c.isLocal(src))
	}
}

func (c replayConfig) isLocal(a netip.Addr) bool {
	for _, p := range c.local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// openInNetns opens a raw sender on iface inside the named network
// namespace: a socket belongs to the namespace of the thread that creates
// it, so the thread enters the namespace just for the socket call.
func openInNetns(name, iface string) (s *gen.RawSender, err error) {
	if name == "" {
		return gen.NewRawSender(iface)
	}
	err = vethns.DoNamed(name, func() (err error) {
		s, err = gen.NewRawSender(iface)
		return err
	})
	return s, err
}

// srcAddr returns the IP source address of an Ethernet frame, looking past
// 802.1Q/QinQ tags:
//
//	dst MAC (6) | src MAC (6) | [TPID 0x8100/0x88a8 (2) | TCI (2)]... | EtherType (2) | IP header
//	IPv4: source address at bytes 12..16; IPv6: at bytes 8..24
func srcAddr(b []byte) (netip.Addr, bool) {
	off := 12
	for {
		if len(b) < off+2 {
			return netip.Addr{}, false
		}
		et := uint16(b[off])<<8 | uint16(b[off+1])
		off += 2
		switch et {
		case 0x8100, 0x88a8, 0x9100:
			off += 2
			continue
		case 0x0800:
			if len(b) < off+20 {
				return netip.Addr{}, false
			}
			return netip.AddrFrom4([4]byte(b[off+12 : off+16])), true
		case 0x86dd:
			if len(b) < off+40 {
				return netip.Addr{}, false
			}
			return netip.AddrFrom16([16]byte(b[off+8 : off+24])), true
		default:
			return netip.Addr{}, false
		}
	}
}
