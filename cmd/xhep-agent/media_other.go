//go:build !linux

package main

import (
	"github.com/xhep/xhep/agent/media"
	"github.com/xhep/xhep/agent/source"
)

func kernelMedia(*media.Tracker, source.Source) bool { return false }

func monotonic() int64 { return 0 }
