//go:build linux

package gen

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TxRing puts whole Ethernet frames on one interface through an AF_PACKET
// socket with a PACKET_TX_RING (TPACKET_V2): frames are copied into slots
// of a ring shared with the kernel and one send(2) transmits every slot
// marked for sending, so a batch of any size costs one system call and no
// per-frame msghdr. With Bypass, PACKET_QDISC_BYPASS hands each frame to
// the driver directly (no qdisc, no requeue): a veth then delivers it to
// its peer in the same call. It needs CAP_NET_RAW.
//
// A TPACKET_V2 TX slot (one per frame, FrameSize bytes):
//
//	0  tp_status  u32   0 available, 1 send request (set by us), 2 sending, 4 wrong format
//	4  tp_len     u32   frame length (set by us)
//	8  tp_snaplen u32
//	12 tp_mac u16, tp_net u16, tp_sec u32, tp_nsec u32, vlan tci/tpid u16, pad[4]
//	32 frame data (TPACKET2_HDRLEN − sizeof(struct sockaddr_ll) = 52 − 20)
//
// Send must not be called from two goroutines at once; Close may be called
// from any goroutine, waits for a Send in progress and is idempotent.
type TxRing struct {
	mu        sync.Mutex
	fd        int
	ifindex   int
	ring      []byte
	frameSize int
	frames    int
	cur       int
	closed    bool
	wrong     uint64 // frames the kernel marked TP_STATUS_WRONG_FORMAT
	refused   uint64 // sends the device refused (ENOBUFS), retried
}

// TxRingConfig sizes a TxRing. Zero fields take the defaults: 4096 slots
// of 2048 bytes (frames up to 2016 bytes), qdisc bypass on.
type TxRingConfig struct {
	Frames    int // slots, a power of two
	FrameSize int // bytes per slot, a power of two ≥ 64; frames up to FrameSize−32
	NoBypass  bool
}

// txData is where a TPACKET_V2 TX slot's frame starts.
const txData = 32

// NewTxRing opens a TX ring sender on iface, an interface name or a
// decimal interface index.
func NewTxRing(iface string, cfg TxRingConfig) (*TxRing, error) {
	if cfg.Frames <= 0 {
		cfg.Frames = 4096
	}
	if cfg.FrameSize <= 0 {
		cfg.FrameSize = 2048
	}
	if cfg.FrameSize < 64 || cfg.FrameSize&(cfg.FrameSize-1) != 0 || cfg.Frames&(cfg.Frames-1) != 0 {
		return nil, fmt.Errorf("TX ring: %d slots of %d bytes: want powers of two, slots of at least 64 bytes", cfg.Frames, cfg.FrameSize)
	}
	ifi, err := findIface(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	fail := func(what string, err error) (*TxRing, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fail("set TPACKET_V2", err)
	}
	if !cfg.NoBypass {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
			return fail("set PACKET_QDISC_BYPASS", err)
		}
	}
	// Blocks of one page or more, whole slots each.
	block := max(cfg.FrameSize, 1<<16)
	perBlock := block / cfg.FrameSize
	nblocks := max(1, cfg.Frames/perBlock)
	req := unix.TpacketReq{Block_size: uint32(block), Block_nr: uint32(nblocks),
		Frame_size: uint32(cfg.FrameSize), Frame_nr: uint32(nblocks * perBlock)}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return fail("set PACKET_TX_RING", err)
	}
	ring, err := unix.Mmap(fd, 0, block*nblocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("map TX ring", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Munmap(ring)
		return fail("bind AF_PACKET socket to "+ifi.Name, err)
	}
	return &TxRing{fd: fd, ifindex: ifi.Index, ring: ring, frameSize: cfg.FrameSize, frames: nblocks * perBlock}, nil
}

func (t *TxRing) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&t.ring[i*t.frameSize]))
}

// Send copies frames into free slots in order and transmits them, one
// send(2) per ring's worth, and returns how many went out. A frame the
// device drops (ENOBUFS: a veth whose peer's backlog is full) stays
// requested in its slot: the kernel stops there and the next send(2)
// resumes from it, so Send retries (counted by Refused) until the round is
// out, and order holds. It stops at other errors (EMSGSIZE for a frame
// longer than a slot, ENETDOWN). A frame the kernel rejected as malformed
// counts as not sent (Malformed).
func (t *TxRing) Send(frames [][]byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, ErrClosed
	}
	room := t.frameSize - txData
	mask := t.frames - 1
	sent := 0
	for sent < len(frames) {
		first, n := t.cur, 0
		for sent+n < len(frames) && n < t.frames {
			f := frames[sent+n]
			if len(f) == 0 || len(f) > room {
				if n > 0 {
					break // send what is filled, fail on the next round
				}
				return sent, fmt.Errorf("send frame %d: %d bytes: %w (slots hold 1..%d)", sent, len(f), unix.EMSGSIZE, room)
			}
			slot := t.ring[t.cur*t.frameSize:]
			copy(slot[txData:], f)
			*(*uint32)(unsafe.Pointer(&slot[4])) = uint32(len(f))
			atomic.StoreUint32(t.status(t.cur), unix.TP_STATUS_SEND_REQUEST)
			t.cur = (t.cur + 1) & mask
			n++
		}
		// Transmit until every slot of the round is back.
		for i := 0; i < n; {
			st := atomic.LoadUint32(t.status((first + i) & mask))
			switch st {
			case unix.TP_STATUS_AVAILABLE:
				i++
				sent++
				continue
			case unix.TP_STATUS_WRONG_FORMAT:
				t.wrong++
				atomic.StoreUint32(t.status((first+i)&mask), unix.TP_STATUS_AVAILABLE)
				i++
				continue
			}
			_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(t.fd), 0, 0, 0, 0, 0)
			switch errno {
			case 0, unix.EINTR:
			case unix.ENOBUFS, unix.EAGAIN:
				t.refused++
				runtime.Gosched()
			default:
				// Take back what the kernel did not get to, so that
				// the ring's slots and cursor stay in step.
				for j := i; j < n; j++ {
					atomic.CompareAndSwapUint32(t.status((first+j)&mask), unix.TP_STATUS_SEND_REQUEST, unix.TP_STATUS_AVAILABLE)
				}
				t.cur = (first + i) & mask
				return sent, fmt.Errorf("send on interface %d: %w", t.ifindex, errno)
			}
		}
	}
	return sent, nil
}

// Refused returns how many times the device refused a frame (ENOBUFS) and
// Send tried again.
func (t *TxRing) Refused() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused
}

// Malformed returns how many frames the kernel refused as malformed.
func (t *TxRing) Malformed() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.wrong
}

// Close unmaps the ring and closes the socket.
func (t *TxRing) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	uerr := unix.Munmap(t.ring)
	if err := unix.Close(t.fd); err != nil {
		return fmt.Errorf("close AF_PACKET socket: %w", err)
	}
	if uerr != nil {
		return fmt.Errorf("unmap TX ring: %w", uerr)
	}
	return nil
}
