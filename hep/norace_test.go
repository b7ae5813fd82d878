//go:build !race

package hep

const raceEnabled = false
