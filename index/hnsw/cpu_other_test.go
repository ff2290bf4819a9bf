//go:build !unix

package hnsw

// cpuSeconds is the CPU time this process has used; unknown here.
func cpuSeconds() float64 { return 0 }
