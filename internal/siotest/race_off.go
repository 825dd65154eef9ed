//go:build !race

package siotest

// raceEnabled reports whether this binary runs with the race detector, so
// that the programs it builds for tests run with it too.
const raceEnabled = false
