//go:build race

package main

// raceEnabled reports a build with the race detector, under which making
// the gigapixel test inputs (pure-Go deflate) takes too long.
const raceEnabled = true
