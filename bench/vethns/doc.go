// Package vethns builds the throwaway network topology of the live tests,
// the benchmark suite and the demo's replayer: two named network
// namespaces joined by a veth pair ([New]), and [Do] / [DoNamed] to run
// code with a thread switched into a namespace. Linux only.
package vethns
