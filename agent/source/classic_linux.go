//go:build linux

package source

import (
	"encoding/binary"
	"fmt"

	cbpf "golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/xhep/xhep/bpf"
)

// casm is a classic BPF program under construction, with jumps to labels.
// Conditional jumps reach at most 255 instructions ahead; goto (ja) any
// distance.
type casm struct {
	ins    []cbpf.Instruction
	jt, jf []string // jump labels of JumpIf/JumpIfX (true, false) and Jump (jt) instructions ("" = fall through)
	labels map[string]int
}

func (a *casm) add(i cbpf.Instruction) {
	a.ins = append(a.ins, i)
	a.jt = append(a.jt, "")
	a.jf = append(a.jf, "")
}

func (a *casm) jump(cond cbpf.JumpTest, val uint32, jt, jf string) {
	a.ins = append(a.ins, cbpf.JumpIf{Cond: cond, Val: val})
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

// jumpX compares A with X.
func (a *casm) jumpX(cond cbpf.JumpTest, jt, jf string) {
	a.ins = append(a.ins, cbpf.JumpIfX{Cond: cond})
	a.jt = append(a.jt, jt)
	a.jf = append(a.jf, jf)
}

// when jumps to label, at any distance, if A cond val holds: a
// conditional jump over a ja.
func (a *casm) when(cond cbpf.JumpTest, val uint32, label string) {
	a.ins = append(a.ins, cbpf.JumpIf{Cond: cond, Val: val, SkipFalse: 1})
	a.jt = append(a.jt, "")
	a.jf = append(a.jf, "")
	a.goto_(label)
}

// whenX is when comparing A with X.
func (a *casm) whenX(cond cbpf.JumpTest, label string) {
	a.ins = append(a.ins, cbpf.JumpIfX{Cond: cond, SkipFalse: 1})
	a.jt = append(a.jt, "")
	a.jf = append(a.jf, "")
	a.goto_(label)
}

// goto jumps to label unconditionally.
func (a *casm) goto_(label string) {
	a.ins = append(a.ins, cbpf.Jump{})
	a.jt = append(a.jt, label)
	a.jf = append(a.jf, "")
}

func (a *casm) label(name string) { a.labels[name] = len(a.ins) }

func (a *casm) assemble() ([]unix.SockFilter, error) {
	target := func(pc int, label string) (int, error) {
		to, ok := a.labels[label]
		if !ok || to <= pc {
			return 0, fmt.Errorf("classic BPF: jump to %q: no such label ahead", label)
		}
		return to - pc - 1, nil
	}
	for pc := range a.ins {
		switch j := a.ins[pc].(type) {
		case cbpf.Jump:
			n, err := target(pc, a.jt[pc])
			if err != nil {
				return nil, err
			}
			j.Skip = uint32(n)
			a.ins[pc] = j
		case cbpf.JumpIf, cbpf.JumpIfX:
			var skips [2]uint8
			if ji, ok := j.(cbpf.JumpIf); ok {
				skips = [2]uint8{ji.SkipTrue, ji.SkipFalse}
			} else {
				jx := j.(cbpf.JumpIfX)
				skips = [2]uint8{jx.SkipTrue, jx.SkipFalse}
			}
			for k, label := range []string{a.jt[pc], a.jf[pc]} {
				if label == "" {
					continue
				}
				n, err := target(pc, label)
				if err != nil {
					return nil, err
				}
				if n > 255 {
					return nil, fmt.Errorf("classic BPF: conditional jump to %q out of range (%d)", label, n)
				}
				skips[k] = uint8(n)
			}
			if ji, ok := j.(cbpf.JumpIf); ok {
				ji.SkipTrue, ji.SkipFalse = skips[0], skips[1]
				a.ins[pc] = ji
			} else {
				jx := j.(cbpf.JumpIfX)
				jx.SkipTrue, jx.SkipFalse = skips[0], skips[1]
				a.ins[pc] = jx
			}
		}
	}
	raw, err := cbpf.Assemble(a.ins)
	if err != nil {
		return nil, fmt.Errorf("assemble classic BPF: %w", err)
	}
	if len(raw) > 4096 { // BPF_MAXINSNS
		return nil, fmt.Errorf("classic BPF: %d instructions, more than the kernel's 4096", len(raw))
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// walkMethodMax is how many method bytes the classic filter walks. The
// kernel's test walks up to SIP_METHOD_MAX (32) bytes and then wants a URI
// scheme; unrolled that far the program grows past what an AF_PACKET socket
// may hold on kernels with the default net.core.optmem_max of 20 KiB
// (5.10, 6.1: SO_ATTACH_FILTER fails with ENOMEM). So the classic filter
// checks the first 16 bytes as the kernel does and passes a longer token
// unchecked: looser, never stricter (the decoder decides).
const walkMethodMax = 16

// be32 of four bytes, for comparing loaded words.
func be32s(s string) uint32 { return binary.BigEndian.Uint32([]byte(s)) }

// tokenByte emits a test of the byte in A against RFC 3261's token
// characters (sip_token in filter.h): alphanumerics and - . ! % * _ + ` ' ~.
// A token byte goes on to ok, any other to fail.
func (a *casm) tokenByte(ok, fail, tag string) {
	ge, gt, eq := cbpf.JumpGreaterOrEqual, cbpf.JumpGreaterThan, cbpf.JumpEqual
	lower, upper, digit := "lo"+tag, "up"+tag, "dg"+tag
	a.jump(ge, 'a', lower, "")
	a.jump(ge, 'A', upper, "")
	a.jump(ge, '0', digit, "")
	for _, c := range "!%'*+-." {
		a.jump(eq, uint32(c), ok, "")
	}
	a.goto_(fail)
	a.label(lower) // 'a'..: a-z, '~'
	a.jump(gt, 'z', "", ok)
	a.jump(eq, '~', ok, fail)
	a.label(upper) // 'A'..'`': A-Z, '_', '`'
	a.jump(gt, 'Z', "", ok)
	a.jump(eq, '_', ok, "")
	a.jump(eq, '`', ok, fail)
	a.label(digit) // '0'..'@': 0-9
	a.jump(gt, '9', fail, ok)
}

// sipStartLine emits the kernel's SIP start-line test (is_sip in
// filter.h) on the payload at X, which holds at least 8 bytes: "SIP/2.0 ",
// or a token, a space and "sip:", "sips:" or "tel:" (in any case), with the
// five bytes after the space present; a token still going after
// walkMethodMax bytes passes (see there). A match goes to accept, anything
// else to nomatch. A load beyond the packet ends the program (no capture),
// as the kernel's test returns 0 where the bytes run out. One scheme check
// serves every method length: X moves to the byte after the space.
func (a *casm) sipStartLine(accept, nomatch string) {
	eq, ne := cbpf.JumpEqual, cbpf.JumpNotEqual
	a.add(cbpf.LoadIndirect{Off: 0, Size: 4})
	a.jump(ne, be32s("SIP/"), "sl_method", "")
	a.add(cbpf.LoadIndirect{Off: 4, Size: 4})
	a.when(eq, be32s("2.0 "), accept)
	a.label("sl_method")
	for i := uint32(0); i < walkMethodMax; i++ {
		tag := fmt.Sprintf("_%d", i)
		next, fail, space := "sl_pos"+fmt.Sprint(i+1), "sl_fail"+tag, "sl_sp"+tag
		a.add(cbpf.LoadIndirect{Off: i, Size: 1})
		if i > 0 { // the method's first byte must be a token byte
			a.jump(eq, ' ', space, "")
		}
		a.tokenByte(next, fail, tag)
		a.label(fail)
		a.goto_(nomatch)
		if i > 0 {
			// The method ends at i: X to the URI scheme after the space.
			a.label(space)
			a.add(cbpf.TXA{})
			a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAdd, Val: i + 1})
			a.add(cbpf.TAX{})
			a.goto_("sl_scheme")
		}
		a.label(next)
	}
	a.goto_(accept) // a token longer than walkMethodMax: passed unchecked

	a.label("sl_scheme")
	a.add(cbpf.LoadIndirect{Off: 4, Size: 1}) // the kernel wants these five bytes
	a.add(cbpf.LoadIndirect{Off: 0, Size: 4})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpOr, Val: 0x20202020}) // ':' has 0x20 set
	a.when(eq, be32s("sip:"), accept)
	a.when(eq, be32s("tel:"), accept)
	a.jump(eq, be32s("sips"), "", "sl_miss")
	a.add(cbpf.LoadIndirect{Off: 4, Size: 1})
	a.when(eq, ':', accept)
	a.label("sl_miss")
	a.goto_(nomatch)
}

// classicFilter builds the AF_PACKET socket filter from the same Rules as
// the eBPF programs (ports, SIP by content, RTCP) and the same Exclude
// list. It accepts (cut at the snap length) Ethernet frames carrying
//   - IPv4 or IPv6 UDP/TCP/SCTP with a port in the SIP or DNS port sets,
//   - UDP/TCP whose payload (at least 8 bytes) passes the kernel's SIP
//     start-line test (SIPByContent; see sipStartLine; a method token
//     longer than walkMethodMax passes unchecked),
//   - UDP whose payload looks like RTCP as in the kernel (is_rtcp): V=2,
//     PT 200..207, its first packet's length within the datagram (RTCP), or
//     any V=2 UDP payload with RTP statistics on (cfg.RTPStreams > 0),
//   - IPv4 later fragments of UDP and IPv6 frames with extension headers
//     (the pipeline decides about those), and frames with in-band VLAN tags,
//
// and refuses traffic to or from cfg.Exclude. For a plain frame (no VLAN
// tag, fragment, extension header or tunnel) it decides as the eBPF
// filter does but for long method tokens, which TestFiltersAgree checks on
// a table of packets, with the socket's option memory as small as on
// 5.10/6.1 (the program must fit in 20 KiB there). Unlike
// the eBPF filter it cannot remember flows or fragments, nor look inside
// tunnels: continuation TCP segments on non-SIP ports are not captured in
// this mode. Offsets, from the Ethernet header:
//
//	12 ethertype | IPv4: 14 ver/ihl, 16 total length, 20 flags/frag off, 23 protocol, 26 src, 30 dst
//	             | IPv6: 18 payload length, 20 next header, 22 src, 38 dst, L4 at 54
//	L4 (X = IP header length): [x+14] sport, [x+16] dport, [x+18] UDP length,
//	UDP payload [x+22], TCP data offset [x+26] high nibble
//
// Scratch: M[0] L4 protocol, M[1] end of the IP packet, M[2] UDP payload
// length.
func classicFilter(cfg bpf.Config) ([]unix.SockFilter, error) {
	a := &casm{labels: map[string]int{}}
	lt, gt, eq, ne := cbpf.JumpLessThan, cbpf.JumpGreaterThan, cbpf.JumpEqual, cbpf.JumpNotEqual
	// The kernel refuses a program that may read a scratch slot before
	// writing it on some path (M[2] is read after "nosip", reached from
	// TCP too): M[2] starts at 0.
	a.add(cbpf.LoadConstant{Dst: cbpf.RegA, Val: 0})
	a.add(cbpf.StoreScratch{Src: cbpf.RegA, N: 2})
	a.add(cbpf.LoadAbsolute{Off: 12, Size: 2})
	a.when(eq, 0x0800, "v4")
	a.when(eq, 0x86dd, "v6")
	a.when(eq, 0x8100, "accept")
	a.when(eq, 0x88a8, "accept")
	a.goto_("reject")

	// IPv4
	a.label("v4")
	a.add(cbpf.LoadAbsolute{Off: 20, Size: 2})
	a.when(cbpf.JumpBitsSet, 0x1fff, "v4frag")
	a.add(cbpf.LoadMemShift{Off: 14})
	a.add(cbpf.LoadAbsolute{Off: 16, Size: 2})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAdd, Val: 14})
	a.add(cbpf.StoreScratch{Src: cbpf.RegA, N: 1})
	a.add(cbpf.LoadAbsolute{Off: 23, Size: 1})
	a.add(cbpf.StoreScratch{Src: cbpf.RegA, N: 0})
	for i, ep := range cfg.Exclude {
		if !ep.Addr().Unmap().Is4() {
			continue
		}
		ip := binary.BigEndian.Uint32(ep.Addr().Unmap().AsSlice())
		for j, dir := range []struct{ addrOff, portOff uint32 }{{30, 16}, {26, 14}} {
			skip := fmt.Sprintf("x4_%d_%d", i, j)
			a.add(cbpf.LoadAbsolute{Off: dir.addrOff, Size: 4})
			a.jump(ne, ip, skip, "")
			a.add(cbpf.LoadIndirect{Off: dir.portOff, Size: 2})
			a.jump(ne, uint32(ep.Port()), skip, "")
			a.goto_("reject")
			a.label(skip)
		}
	}
	a.goto_("l4proto")
	a.label("v4frag")
	a.add(cbpf.LoadAbsolute{Off: 23, Size: 1})
	a.when(eq, 17, "accept")
	a.goto_("reject")

	// IPv6
	a.label("v6")
	a.add(cbpf.LoadConstant{Dst: cbpf.RegX, Val: 40})
	a.add(cbpf.LoadAbsolute{Off: 18, Size: 2})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAdd, Val: 54})
	a.add(cbpf.StoreScratch{Src: cbpf.RegA, N: 1})
	a.add(cbpf.LoadAbsolute{Off: 20, Size: 1})
	a.add(cbpf.StoreScratch{Src: cbpf.RegA, N: 0})
	for _, nh := range []uint32{0, 43, 44, 60} {
		a.when(eq, nh, "accept")
	}
	for i, ep := range cfg.Exclude {
		if ep.Addr().Unmap().Is4() {
			continue
		}
		b := ep.Addr().As16()
		for j, dir := range []struct{ addrOff, portOff uint32 }{{38, 16}, {22, 14}} {
			skip := fmt.Sprintf("x6_%d_%d", i, j)
			for w := uint32(0); w < 4; w++ {
				a.add(cbpf.LoadAbsolute{Off: dir.addrOff + 4*w, Size: 4})
				a.jump(ne, binary.BigEndian.Uint32(b[4*w:]), skip, "")
			}
			a.add(cbpf.LoadIndirect{Off: dir.portOff, Size: 2})
			a.jump(ne, uint32(ep.Port()), skip, "")
			a.goto_("reject")
			a.label(skip)
		}
	}

	// L4, X = IP header length, M[0] = protocol.
	a.label("l4proto")
	a.add(cbpf.LoadScratch{Dst: cbpf.RegA, N: 0})
	a.when(eq, 17, "l4")
	a.when(eq, 6, "l4")
	a.when(eq, 132, "l4")
	a.goto_("reject")
	a.label("l4")
	ranges := append(cfg.SIPPorts.Ranges(), cfg.DNSPorts.Ranges()...)
	for k, off := range []uint32{14, 16} {
		a.add(cbpf.LoadIndirect{Off: off, Size: 2})
		for i, r := range ranges {
			next := fmt.Sprintf("r%d_%d", k, i)
			a.jump(lt, uint32(r.Lo), next, "")
			a.jump(gt, uint32(r.Hi), next, "")
			a.goto_("accept")
			a.label(next)
		}
	}
	a.add(cbpf.LoadScratch{Dst: cbpf.RegA, N: 0})
	a.when(eq, 17, "udp")
	a.when(eq, 6, "tcp")
	a.goto_("reject") // SCTP: by port only

	// UDP: a payload of at least 8 bytes (the kernel's have_w).
	a.label("udp")
	if !cfg.SIPByContent && !cfg.RTCP && cfg.RTPStreams == 0 {
		a.goto_("reject")
	}
	a.add(cbpf.LoadIndirect{Off: 18, Size: 2})
	a.when(lt, 16, "reject")
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpSub, Val: 8})
	a.add(cbpf.StoreScratch{Src: cbpf.RegA, N: 2})
	a.add(cbpf.TXA{})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAdd, Val: 22})
	a.add(cbpf.TAX{}) // X = payload offset
	if cfg.SIPByContent {
		a.goto_("content")
	}
	a.goto_("nosip")

	// TCP: payload from X + data offset to the end of the IP packet, at
	// least 8 bytes.
	a.label("tcp")
	if !cfg.SIPByContent {
		a.goto_("reject")
	}
	a.add(cbpf.LoadIndirect{Off: 26, Size: 1})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpShiftRight, Val: 4})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpShiftLeft, Val: 2})
	a.when(lt, 20, "reject")
	a.add(cbpf.ALUOpX{Op: cbpf.ALUOpAdd})
	a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAdd, Val: 14})
	a.add(cbpf.TAX{}) // X = payload offset
	a.add(cbpf.LoadScratch{Dst: cbpf.RegA, N: 1})
	a.whenX(cbpf.JumpLessThan, "reject")
	a.add(cbpf.ALUOpX{Op: cbpf.ALUOpSub})
	a.when(lt, 8, "reject")
	a.goto_("content")

	a.label("content")
	if cfg.SIPByContent {
		a.sipStartLine("accept", "nosip")
	}

	// Not SIP by content: UDP may still be RTCP.
	a.label("nosip")
	a.add(cbpf.LoadScratch{Dst: cbpf.RegA, N: 0})
	a.when(ne, 17, "reject")
	switch {
	case cfg.RTPStreams > 0:
		// RTP statistics: every UDP datagram with V=2 (RTP and RTCP) goes
		// to userspace, where the media tracker keeps those to or from an
		// SDP endpoint (no map lookups in classic BPF).
		a.add(cbpf.LoadIndirect{Off: 0, Size: 1})
		a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAnd, Val: 0xc0})
		a.when(eq, 0x80, "accept")
	case cfg.RTCP:
		// RTCP (is_rtcp): V=2, PT 200..207, (length+1)*4 within the payload.
		a.add(cbpf.LoadIndirect{Off: 0, Size: 1})
		a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAnd, Val: 0xc0})
		a.when(ne, 0x80, "reject")
		a.add(cbpf.LoadIndirect{Off: 1, Size: 1})
		a.when(lt, 200, "reject")
		a.when(gt, 207, "reject")
		a.add(cbpf.LoadIndirect{Off: 2, Size: 2})
		a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpAdd, Val: 1})
		a.add(cbpf.ALUOpConstant{Op: cbpf.ALUOpShiftLeft, Val: 2})
		a.add(cbpf.LoadScratch{Dst: cbpf.RegX, N: 2})
		a.whenX(gt, "reject")
		a.goto_("accept")
	}
	a.goto_("reject")

	a.label("reject")
	a.add(cbpf.RetConstant{Val: 0})
	a.label("accept")
	a.add(cbpf.RetConstant{Val: uint32(cfg.Snaplen)})
	return a.assemble()
}
