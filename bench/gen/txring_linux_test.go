//go:build linux

package gen

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTxRing sends generated frames through a TX ring (with and without
// qdisc bypass, in rounds larger than the ring) from one namespace and
// receives every one of them, byte for byte and in order, on the veth
// peer in the other.
func TestTxRing(t *testing.T) {
	for _, bypass := range []bool{true, false} {
		t.Run(map[bool]string{true: "bypass", false: "qdisc"}[bypass], func(t *testing.T) {
			nsA, ifA, nsB, ifB := vethPair(t)
			rx := peerReceiver(t, nsB, ifB)
			var s *TxRing
			inNetns(t, nsA, func() {
				var err error
				if s, err = NewTxRing(ifA, TxRingConfig{Frames: 64, NoBypass: !bypass}); err != nil {
					t.Fatal(err)
				}
			})
			t.Cleanup(func() { s.Close() })
			cfg := DefaultConfig()
			cfg.Calls = 30
			frames, _ := collect(t, cfg)
			want := make([][32]byte, len(frames))
			for i, f := range frames {
				want[i] = sha256.Sum256(f)
			}
			buf := make([]byte, 65536)
			received := 0
			for i := 0; i < len(frames); i += 300 { // rounds of 300 through 64 slots
				batch := frames[i:min(len(frames), i+300)]
				if n, err := s.Send(batch); err != nil || n != len(batch) {
					t.Fatalf("send: %d of %d, %v", n, len(batch), err)
				}
				for received < i+len(batch) {
					n, _, err := unix.Recvfrom(rx, buf, 0)
					if err != nil {
						t.Fatalf("receive after %d of %d frames: %v", received, len(frames), err)
					}
					h := sha256.Sum256(buf[:n])
					if n < 14 || buf[12] == 0x86 && buf[13] == 0xdd && h != want[received] {
						continue // what the kernel sends by itself (IPv6 ND)
					}
					if h != want[received] {
						t.Fatalf("frame %d: received %x, want %x", received, h[:4], want[received][:4])
					}
					received++
				}
			}
			if m := s.Malformed(); m != 0 {
				t.Fatalf("%d frames refused as malformed", m)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if _, err := s.Send(frames[:1]); !errors.Is(err, ErrClosed) {
				t.Fatalf("Send after Close: %v", err)
			}
		})
	}
}

func TestTxRingErrors(t *testing.T) {
	if _, err := NewTxRing("xgen-no-such-if", TxRingConfig{}); err == nil {
		t.Fatal("sender on a missing interface")
	}
	if _, err := NewTxRing("lo", TxRingConfig{Frames: 100}); err == nil {
		t.Fatal("100 slots accepted")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for AF_PACKET")
	}
	s, err := NewTxRing("lo", TxRingConfig{Frames: 16, FrameSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Send([][]byte{make([]byte, 300)}); !errors.Is(err, unix.EMSGSIZE) || n != 0 {
		t.Fatalf("frame over the slot: sent %d, error %v", n, err)
	}
	if n, err := s.Send([][]byte{{}}); err == nil || n != 0 {
		t.Fatalf("empty frame: sent %d, error %v", n, err)
	}
}

// BenchmarkSenders compares the generator's ways onto a veth (nobody
// listens on the peer: the stack drops the frames after the veth
// delivered them), 600-byte frames, batches of 512.
func BenchmarkSenders(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	frame := make([]byte, 600)
	copy(frame, []byte{2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45})
	frames := make([][]byte, 512)
	for i := range frames {
		frames[i] = frame
	}
	nsA, ifA, _, _ := vethPair(b)
	for _, c := range []struct {
		name string
		open func() (Sender, func() error, error)
	}{
		{"sendmmsg", func() (Sender, func() error, error) {
			s, err := NewRawSender(ifA)
			return s, func() error { return s.Close() }, err
		}},
		{"sendmmsg-bypass", func() (Sender, func() error, error) {
			s, err := NewRawSenderBypass(ifA)
			return s, func() error { return s.Close() }, err
		}},
		{"txring-qdisc", func() (Sender, func() error, error) {
			s, err := NewTxRing(ifA, TxRingConfig{NoBypass: true})
			return s, func() error { return s.Close() }, err
		}},
		{"txring-bypass", func() (Sender, func() error, error) {
			s, err := NewTxRing(ifA, TxRingConfig{})
			return s, func() error { return s.Close() }, err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var s Sender
			var closeFn func() error
			inNetns(b, nsA, func() {
				var err error
				if s, closeFn, err = c.open(); err != nil {
					b.Fatal(err)
				}
			})
			defer closeFn()
			b.ReportAllocs()
			var sent uint64
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var ru0, ru1 unix.Rusage
			unix.Getrusage(unix.RUSAGE_THREAD, &ru0)
			for b.Loop() {
				st, err := Blast(context.Background(), s, frames, BlastConfig{Count: len(frames),
					Refused: func(err error) bool { return errors.Is(err, unix.ENOBUFS) }})
				if err != nil {
					b.Fatal(err)
				}
				sent += st.Sent
			}
			unix.Getrusage(unix.RUSAGE_THREAD, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "pkts/s")
			b.ReportMetric(float64(cpu)/float64(sent), "cpu-ns/frame")
		})
	}
}
