package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// raiseNOFILE raises the open-file limit as far as allowed: the soft limit
// to the hard one, and with CAP_SYS_RESOURCE both to fs.nr_open. It
// returns the soft limit in effect afterwards.
func raiseNOFILE() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > lim.Max {
			up := syscall.Rlimit{Cur: n, Max: n}
			if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
				return n, nil
			}
		}
	}
	if lim.Cur < lim.Max {
		up := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up); err != nil {
			return lim.Cur, err
		}
		return lim.Max, nil
	}
	return lim.Cur, nil
}
