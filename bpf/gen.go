package bpf

// The programs are compiled with a pinned clang (clang-19, as the Makefile's
// CLANG) against the headers under headers/ only, so that the committed
// output is reproducible byte for byte.
//go:generate go tool bpf2go -cc clang-19 -target bpfel -type event -type rtp_stream -type rtp_ep -type rtp_key -go-package bpf capture capture.c -- -O2 -g -Wall -Werror -nostdinc -I. -Iheaders
