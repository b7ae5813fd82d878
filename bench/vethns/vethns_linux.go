package vethns

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread switched into ns, then switches the thread
// back. If switching back fails the thread stays locked and dies with the
// goroutine, so no other goroutine ever runs in the wrong namespace.
func Do(ns netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	ferr := fn()
	if netns.Set(orig) == nil {
		runtime.UnlockOSThread()
	}
	return ferr
}

// DoNamed is Do for a namespace known by name (as `ip netns` names it).
func DoNamed(name string, fn func() error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer ns.Close()
	return Do(ns, fn)
}

// Config names the pair's namespaces and interfaces. AddrA and AddrB are
// optional CIDR addresses for IfA and IfB; TxQLen, when set, is IfA's
// transmit queue length.
type Config struct {
	NameA, NameB string
	IfA, IfB     string
	AddrA, AddrB string
	TxQLen       int
}

// Pair is two network namespaces joined by a veth pair: IfA in A, IfB in
// B, both up with their loopbacks.
type Pair struct {
	Config
	A, B netns.NsHandle
}

// New creates the namespaces and the veth pair. On error nothing is left
// behind.
func New(cfg Config) (*Pair, error) {
	p := &Pair{Config: cfg, A: -1, B: -1}
	if err := p.create(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Pair) create() error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get netns: %w", err)
	}
	// NewNamed switches the calling thread into the new namespace.
	p.A, err = netns.NewNamed(p.NameA)
	if err == nil {
		netns.Set(orig)
		p.B, err = netns.NewNamed(p.NameB)
	}
	serr := netns.Set(orig)
	orig.Close()
	if serr == nil {
		runtime.UnlockOSThread()
	}
	if err != nil {
		return fmt.Errorf("create network namespaces %s, %s: %w", p.NameA, p.NameB, err)
	}
	err = Do(p.A, func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: p.IfA, TxQLen: p.TxQLen}, PeerName: p.IfB, PeerNamespace: netlink.NsFd(int(p.B))}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth %s/%s: %w", p.IfA, p.IfB, err)
		}
		return up(p.IfA, p.AddrA)
	})
	if err != nil {
		return err
	}
	return Do(p.B, func() error { return up(p.IfB, p.AddrB) })
}

// up brings lo and ifname up, giving ifname the address cidr if set.
func up(ifname, cidr string) error {
	for _, n := range []string{"lo", ifname} {
		l, err := netlink.LinkByName(n)
		if err != nil {
			return fmt.Errorf("link %s: %w", n, err)
		}
		if n == ifname && cidr != "" {
			addr, err := netlink.ParseAddr(cidr)
			if err != nil {
				return fmt.Errorf("address %s: %w", cidr, err)
			}
			if err := netlink.AddrAdd(l, addr); err != nil {
				return fmt.Errorf("add address %s to %s: %w", cidr, n, err)
			}
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", n, err)
		}
	}
	return nil
}

// Close deletes both namespaces; the veth pair goes with them. It is
// idempotent.
func (p *Pair) Close() error {
	var errs []error
	for _, side := range []struct {
		h    *netns.NsHandle
		name string
	}{{&p.A, p.NameA}, {&p.B, p.NameB}} {
		if *side.h < 0 {
			continue // never created, or closed already
		}
		side.h.Close()
		*side.h = -1
		if err := netns.DeleteNamed(side.name); err != nil {
			errs = append(errs, fmt.Errorf("delete netns %s: %w", side.name, err))
		}
	}
	return errors.Join(errs...)
}
