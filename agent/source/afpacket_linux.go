//go:build linux

package source

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bpf"
)

// AF_PACKET ring geometry: blocks of 1 MiB, as many as fit in
// LiveConfig.RingBytes (default 64 MiB) per interface; a block is handed
// to user space when full or after blockTimeoutMS.
const (
	afpBlockSize   = 1 << 20
	afpFrameSize   = 2048 // TPACKET_V3 ignores it but the kernel checks it divides the block
	blockTimeoutMS = 8
)

// TPACKET_V3 status bits and constants (linux/if_packet.h).
const (
	tpStatusUser          = 1 << 0
	tpStatusVLANValid     = 1 << 4
	tpStatusVLANTPIDValid = 1 << 6
	packetOutgoing        = 4 // sll_pkttype
	tpacket3HdrLen        = 48
)

type afpRing struct {
	fd      int
	ifindex int
	ring    []byte
	nblocks int
	block   int  // current block
	held    bool // the current block is being read
	left    int  // packets left in it
	off     int  // offset of the next packet in it

	packets, drops, freezes uint64 // PACKET_STATISTICS, accumulated (reading resets them)
}

// afpacketSource reads TPACKET_V3 rings, one AF_PACKET socket per
// interface in a PACKET_FANOUT hash group (with kernel defragmentation),
// behind a classic BPF filter for the SIP/DNS ports, SIP request/status
// lines and RTCP. Read is called from one goroutine; Close from any.
type afpacketSource struct {
	rings    []*afpRing
	pfds     []unix.PollFd
	wake     int
	cur      int
	vlanBuf  []byte
	allow    []netip.Prefix
	deny     []netip.Prefix
	filtered atomic.Uint64

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
	readMu    sync.Mutex
	statMu    sync.Mutex
}

func openAFPacket(cfg LiveConfig) (*afpacketSource, error) {
	fc, err := filterConfig(cfg)
	if err != nil {
		return nil, err
	}
	if fc.Snaplen == 0 {
		fc.Snaplen = bpf.MaxSnaplen
	}
	idx, err := ifaceIndexes(cfg.Ifaces)
	if err != nil {
		return nil, err
	}
	prog, err := classicFilter(fc)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET source: %w", err)
	}
	ringBytes := cfg.RingBytes
	if ringBytes == 0 {
		ringBytes = 64 << 20
	}
	nblocks := max(ringBytes/afpBlockSize, 2)
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET source: eventfd: %w", err)
	}
	s := &afpacketSource{wake: wake, allow: cfg.Allow, deny: cfg.Deny, vlanBuf: make([]byte, 0, bpf.MaxSnaplen+4)}
	for i, ix := range idx {
		r, err := openAFPRing(ix, nblocks, prog)
		if err != nil {
			s.release()
			return nil, fmt.Errorf("open AF_PACKET socket on %s: %w", cfg.Ifaces[i], err)
		}
		s.rings = append(s.rings, r)
		s.pfds = append(s.pfds, unix.PollFd{Fd: int32(r.fd), Events: unix.POLLIN})
	}
	s.pfds = append(s.pfds, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
	return s, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openAFPRing(ifindex, nblocks int, prog []unix.SockFilter) (*afpRing, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	r := &afpRing{fd: fd, ifindex: ifindex, nblocks: nblocks}
	fail := func(what string, err error) (*afpRing, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// Filter first, so nothing unfiltered queues up before bind.
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("attach classic BPF filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("set TPACKET_V3", err)
	}
	req := unix.TpacketReq3{
		Block_size:     afpBlockSize,
		Block_nr:       uint32(nblocks),
		Frame_size:     afpFrameSize,
		Frame_nr:       uint32(nblocks * afpBlockSize / afpFrameSize),
		Retire_blk_tov: blockTimeoutMS,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("set up PACKET_RX_RING", err)
	}
	r.ring, err = unix.Mmap(fd, 0, nblocks*afpBlockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("map packet ring", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	group := (os.Getpid() ^ ifindex<<8) & 0xffff
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT,
		group|(unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16); err != nil {
		return fail("join PACKET_FANOUT group", err)
	}
	return r, nil
}

func (r *afpRing) close() error {
	var errs []error
	if r.ring != nil {
		if err := unix.Munmap(r.ring); err != nil {
			errs = append(errs, fmt.Errorf("unmap packet ring: %w", err))
		}
		r.ring = nil
	}
	if r.fd >= 0 {
		if err := unix.Close(r.fd); err != nil {
			errs = append(errs, fmt.Errorf("close AF_PACKET socket: %w", err))
		}
		r.fd = -1
	}
	return errors.Join(errs...)
}

// blockStatus points at tpacket_block_desc.hdr.bh1.block_status:
//
//	offset 0  u32 version
//	offset 4  u32 offset_to_priv
//	offset 8  u32 block_status   (TP_STATUS_USER when the block is ours)
//	offset 12 u32 num_pkts
//	offset 16 u32 offset_to_first_pkt
func (r *afpRing) blockStatus(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.ring[b*afpBlockSize+8]))
}

// Read returns the next frame. Frame.Data aliases the packet ring and is
// valid until the next Read, which hands the block back to the kernel once
// all of its packets are read.
func (s *afpacketSource) Read(f *Frame) error {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		r := s.rings[s.cur]
		if r.held && r.left > 0 {
			if s.next(r, f) {
				return nil
			}
			continue
		}
		if r.held {
			atomic.StoreUint32(r.blockStatus(r.block), 0) // TP_STATUS_KERNEL
			r.held = false
			r.block = (r.block + 1) % r.nblocks
			s.cur = (s.cur + 1) % len(s.rings)
		}
		found := false
		for i := range s.rings {
			j := (s.cur + i) % len(s.rings)
			rr := s.rings[j]
			if atomic.LoadUint32(rr.blockStatus(rr.block))&tpStatusUser != 0 {
				base := rr.block * afpBlockSize
				rr.held = true
				rr.left = int(binary.NativeEndian.Uint32(rr.ring[base+12:]))
				rr.off = base + int(binary.NativeEndian.Uint32(rr.ring[base+16:]))
				s.cur = j
				found = true
				break
			}
		}
		if found {
			continue
		}
		for i := range s.pfds {
			s.pfds[i].Revents = 0
		}
		if _, err := unix.Poll(s.pfds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("poll AF_PACKET sockets: %w", err)
		}
	}
}

// next decodes the packet at r.off (struct tpacket3_hdr, then struct
// sockaddr_ll at TPACKET_ALIGN(48)):
//
//	offset 0  u32 tp_next_offset   offset 16 u32 tp_len
//	offset 4  u32 tp_sec           offset 20 u32 tp_status
//	offset 8  u32 tp_nsec          offset 24 u16 tp_mac, 26 u16 tp_net
//	offset 12 u32 tp_snaplen       offset 32 u32 tp_vlan_tci, 36 u16 tp_vlan_tpid
//	offset 48 sockaddr_ll: u16 family, u16 protocol, s32 ifindex, u16 hatype, u8 pkttype
//
// It returns false for a packet the allow/deny prefixes refuse.
func (s *afpacketSource) next(r *afpRing, f *Frame) bool {
	h := r.ring[r.off:]
	ne := binary.NativeEndian
	next := int(ne.Uint32(h[0:]))
	sec, nsec := ne.Uint32(h[4:]), ne.Uint32(h[8:])
	snap, wire := int(ne.Uint32(h[12:])), int(ne.Uint32(h[16:]))
	status := ne.Uint32(h[20:])
	mac := int(ne.Uint16(h[24:]))
	pkttype := h[tpacket3HdrLen+10]
	r.left--
	r.off += next
	data := h[mac : mac+snap]
	if status&tpStatusVLANValid != 0 {
		// The NIC took the 802.1Q tag out; put it back.
		tpid := uint16(0x8100)
		if status&tpStatusVLANTPIDValid != 0 {
			tpid = ne.Uint16(h[36:])
		}
		b := append(s.vlanBuf[:0], data[:min(12, len(data))]...)
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(ne.Uint32(h[32:])))
		if len(data) > 12 {
			b = append(b, data[12:]...)
		}
		s.vlanBuf = b
		data = b
		wire += 4
	}
	if (len(s.allow) > 0 || len(s.deny) > 0) && !admit(data, s.allow, s.deny) {
		s.filtered.Add(1)
		return false
	}
	*f = Frame{
		Data:     data,
		TS:       int64(sec)*1e9 + int64(nsec),
		LinkType: LinkEthernet,
		OrigLen:  wire,
		IfIndex:  r.ifindex,
		Egress:   pkttype == packetOutgoing,
	}
	return true
}

// admit applies allow/deny prefixes to an Ethernet frame's addresses
// (outer IPv4/IPv6 header, after up to two VLAN tags). Frames without an
// IP header are admitted only when no allow list is set.
func admit(b []byte, allow, deny []netip.Prefix) bool {
	off := 12
	for i := 0; i < 3; i++ {
		if len(b) < off+2 {
			return len(allow) == 0
		}
		et := binary.BigEndian.Uint16(b[off:])
		if et == 0x8100 || et == 0x88a8 || et == 0x9100 {
			off += 4
			continue
		}
		off += 2
		var src, dst netip.Addr
		switch {
		case et == 0x0800 && len(b) >= off+20:
			src = netip.AddrFrom4([4]byte(b[off+12 : off+16]))
			dst = netip.AddrFrom4([4]byte(b[off+16 : off+20]))
		case et == 0x86dd && len(b) >= off+40:
			src = netip.AddrFrom16([16]byte(b[off+8 : off+24]))
			dst = netip.AddrFrom16([16]byte(b[off+24 : off+40]))
		default:
			return len(allow) == 0
		}
		for _, p := range deny {
			if p.Contains(src) || p.Contains(dst) {
				return false
			}
		}
		if len(allow) == 0 {
			return true
		}
		for _, p := range allow {
			if p.Contains(src) || p.Contains(dst) {
				return true
			}
		}
		return false
	}
	return len(allow) == 0
}

// Close closes the sockets and unblocks Read. It is idempotent.
func (s *afpacketSource) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var one [8]byte
		one[0] = 1
		_, _ = unix.Write(s.wake, one[:])
		s.readMu.Lock()
		defer s.readMu.Unlock()
		s.statMu.Lock()
		defer s.statMu.Unlock()
		s.closeErr = s.release()
	})
	return s.closeErr
}

func (s *afpacketSource) release() error {
	var errs []error
	for _, r := range s.rings {
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.wake >= 0 {
		if err := unix.Close(s.wake); err != nil {
			errs = append(errs, os.NewSyscallError("close", err))
		}
		s.wake = -1
	}
	return errors.Join(errs...)
}

// Stats returns the sockets' PACKET_STATISTICS since open, summed:
// packets received, packets dropped (ring full) and times the queue froze.
func (s *afpacketSource) Stats() (packets, drops, freezes uint64, err error) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	if s.closed.Load() {
		return 0, 0, 0, ErrClosed
	}
	for _, r := range s.rings {
		st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("read PACKET_STATISTICS: %w", err)
		}
		r.packets += uint64(st.Packets)
		r.drops += uint64(st.Drops)
		r.freezes += uint64(st.Freeze_q_cnt)
		packets += r.packets
		drops += r.drops
		freezes += r.freezes
	}
	return packets, drops, freezes, nil
}

func (s *afpacketSource) collectors() []prometheus.Collector {
	return []prometheus.Collector{&afpCollector{s: s}}
}

type afpCollector struct{ s *afpacketSource }

func (c *afpCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSockPkts
	ch <- descSockDrop
	ch <- descFiltered
}

func (c *afpCollector) Collect(ch chan<- prometheus.Metric) {
	p, d, fz, err := c.s.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSockPkts, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descSockPkts, prometheus.CounterValue, float64(p))
	ch <- prometheus.MustNewConstMetric(descSockDrop, prometheus.CounterValue, float64(d), "ring_full")
	ch <- prometheus.MustNewConstMetric(descSockDrop, prometheus.CounterValue, float64(fz), "queue_frozen")
	ch <- prometheus.MustNewConstMetric(descFiltered, prometheus.CounterValue, float64(c.s.filtered.Load()))
}
