//go:build race

package queue_test

// raceEnabled scales the longest tests down under the race detector, which slows them tenfold.
const raceEnabled = true
