//go:build tools

// This file pins the modules the project is about to use, so that go.mod
// and go.sum stay complete while packages are being written. Remove an
// import once a package of the project imports it for real.
package tools

import (
	_ "github.com/asavie/xdp"
	_ "github.com/cilium/ebpf"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/gopacket/gopacket/pcapgo"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sys/unix"
	_ "gopkg.in/yaml.v3"
)
