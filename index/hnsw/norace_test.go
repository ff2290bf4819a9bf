//go:build !race

package hnsw

// raceEnabled is true under the race detector, which slows graph building
// about twentyfold; the heaviest tests then use smaller data sets of the same
// shape.
const raceEnabled = false
