package pq

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHeapsOrder(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{{"empty", 0}, {"one", 1}, {"two", 2}, {"odd", 17}, {"many", 1000}}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mn MinHeap
			var mx MaxHeap
			dists := make([]float32, tc.n)
			for i := range dists {
				dists[i] = float32(rng.IntN(50)) // duplicates on purpose
				mn.Push(Item{dists[i], uint32(i)})
				mx.Push(Item{dists[i], uint32(i)})
			}
			sorted := slices.Clone(dists)
			slices.Sort(sorted)
			for i, want := range sorted {
				if got := mn.Pop().Dist; got != want {
					t.Fatalf("MinHeap pop %d = %g, want %g", i, got, want)
				}
				if got := mx.Pop().Dist; got != sorted[len(sorted)-1-i] {
					t.Fatalf("MaxHeap pop %d = %g, want %g", i, got, sorted[len(sorted)-1-i])
				}
			}
			if mn.Len() != 0 || mx.Len() != 0 {
				t.Fatalf("heaps not empty: %d %d", mn.Len(), mx.Len())
			}
		})
	}
}

func TestPushBoundedKeepsNearest(t *testing.T) {
	tests := []struct{ n, k int }{{100, 10}, {5, 10}, {50, 1}, {20, 0}}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range tests {
		var h MaxHeap
		all := make([]float32, tc.n)
		for i := range all {
			all[i] = rng.Float32()
			h.PushBounded(Item{all[i], uint32(i)}, tc.k)
		}
		slices.Sort(all)
		want := all[:min(tc.k, tc.n)]
		got := h.DrainSorted(nil)
		if len(got) != len(want) {
			t.Fatalf("n=%d k=%d: kept %d, want %d", tc.n, tc.k, len(got), len(want))
		}
		for i := range want {
			if got[i].Dist != want[i] {
				t.Fatalf("n=%d k=%d: item %d = %g, want %g", tc.n, tc.k, i, got[i].Dist, want[i])
			}
		}
	}
}
