package spool_test

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/xhep/xhep/hep/spool"
)

func Example() {
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)

	s, err := spool.Open(spool.Config{Dir: dir, MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for _, r := range []string{"one", "two", "three"} {
		if err := s.Append([]byte(r)); errors.Is(err, spool.ErrFull) {
			break // count it as dropped
		}
	}
	s.Seal()

	for {
		seg, err := s.Oldest()
		if errors.Is(err, io.EOF) {
			break
		}
		for _, r := range seg.Records {
			fmt.Println(string(r)) // deliver
		}
		s.Remove(seg.ID)
	}
	fmt.Println(s.Stats().Records)
	// Output:
	// one
	// two
	// three
	// 0
}
