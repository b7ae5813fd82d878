package main

import (
	"testing"

	"github.com/xhep/xhep/collector"
)

// TestFitConnLimit: the TCP connection limit is kept below the open-file
// limit, with room for the HTTP side, the database and the UDP sockets.
func TestFitConnLimit(t *testing.T) {
	for _, tc := range []struct {
		max    int
		nofile uint64
		want   int
	}{
		{0, 1 << 20, 0},             // default fits
		{0, 4096, 4096 - fdReserve}, // default does not
		{20000, 8192, 8192 - fdReserve},
		{-1, 4096, -1}, // no limit asked: none set
		{500, 2048, 500},
		{800, 1024, minConnLimit},
		{0, 0, 0}, // unknown limit
	} {
		cfg := collector.Config{TCPMaxConns: tc.max}
		fitConnLimit(&cfg, tc.nofile)
		if cfg.TCPMaxConns != tc.want {
			t.Errorf("max %d, nofile %d: got %d, want %d", tc.max, tc.nofile, cfg.TCPMaxConns, tc.want)
		}
	}
	if n, err := raiseNOFILE(); err != nil || n < 1024 {
		t.Errorf("raiseNOFILE = %d, %v", n, err)
	}
}
