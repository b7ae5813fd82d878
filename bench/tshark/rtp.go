// Package tshark runs Wireshark's tshark on a capture and reads its RTP
// stream table (-z rtp,streams): the independent truth the agent's media
// reports are compared with, from --read and from live capture.
package tshark

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// RTPStream is one row of tshark's rtp,streams table.
type RTPStream struct {
	Pkts, Lost            int
	MaxJitter, MeanJitter float64 // ms
}

// ErrNoStreams is returned when tshark's output has no stream row.
var ErrNoStreams = errors.New("no RTP stream in tshark's output")

// Key names a stream as [RTPStreams] does: "src>dst/ssrc" with
// addresses and ports as tshark prints them.
func Key(src, dst netip.AddrPort, ssrc uint32) string {
	return src.String() + ">" + dst.String() + "/" + strconv.FormatUint(uint64(ssrc), 10)
}

// RTPStreams runs tshark (the binary at path) on the pcap file with RTP
// heuristics on and returns its streams by [Key].
func RTPStreams(path, pcap string) (map[string]RTPStream, error) {
	out, err := exec.Command(path, "-n", "-r", pcap, "-q", "-o", "rtp.heuristic_rtp:TRUE", "-z", "rtp,streams").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("run tshark on %s: %w: %s", pcap, err, out)
	}
	m := ParseRTPStreams(string(out))
	if len(m) == 0 {
		return nil, fmt.Errorf("read tshark's rtp,streams: %w:\n%s", ErrNoStreams, out)
	}
	return m, nil
}

var line = regexp.MustCompile(`^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+)\s+\(.*?\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)`)

// ParseRTPStreams reads tshark 4.0's rtp,streams table:
//
//	Start time  End time  Src IP addr  Port  Dest IP addr  Port  SSRC  Payload  Pkts  Lost  Min Delta(ms)  Mean Delta(ms)
//	Max Delta(ms)  Min Jitter(ms)  Mean Jitter(ms)  Max Jitter(ms)  Problem?
func ParseRTPStreams(out string) map[string]RTPStream {
	m := map[string]RTPStream{}
	for _, l := range strings.Split(out, "\n") {
		g := line.FindStringSubmatch(l)
		if g == nil {
			continue
		}
		ssrc, _ := strconv.ParseUint(g[5], 16, 32)
		pk, _ := strconv.Atoi(g[7])
		lost, _ := strconv.Atoi(g[8])
		meanJ, _ := strconv.ParseFloat(g[13], 64)
		maxJ, _ := strconv.ParseFloat(g[14], 64)
		host := func(ip, port string) string {
			if strings.Contains(ip, ":") {
				return "[" + ip + "]:" + port
			}
			return ip + ":" + port
		}
		m[host(g[1], g[2])+">"+host(g[3], g[4])+"/"+strconv.FormatUint(ssrc, 10)] = RTPStream{pk, lost, maxJ, meanJ}
	}
	return m
}
