package testdata

import (
	"testing"

	"mmsearch/index/internal/vec"
)

// TestQueriesShareClusters: a query lies much nearer its nearest base vector
// than two vectors of different clusters lie to each other, which holds only
// if queries come from the base set's clusters.
func TestQueriesShareClusters(t *testing.T) {
	base, queries := MixtureWithQueries(1, 2000, 50, 64, 20, 0.02)
	if len(base) != 2000 || len(queries) != 50 {
		t.Fatalf("got %d base and %d queries", len(base), len(queries))
	}
	for i, q := range queries {
		if n := vec.Norm(q); n < 0.999 || n > 1.001 {
			t.Fatalf("query %d has norm %v", i, n)
		}
		best := float32(-1)
		for _, b := range base {
			best = max(best, vec.Dot(q, b))
			if vec.Dot(q, b) > 0.9999 {
				t.Fatalf("query %d equals a base vector", i)
			}
		}
		// Same-cluster cosine is about 1/(1+64·0.02²) ≈ 0.975; random
		// directions in 64 dimensions give about ±0.125.
		if best < 0.9 {
			t.Fatalf("query %d: best cosine to the base %v, want ≥ 0.9", i, best)
		}
	}
	again := Mixture(1, 2000, 64, 20, 0.02)
	for i := range again {
		if vec.Dot(again[i], base[i]) < 0.99999 {
			t.Fatalf("Mixture and MixtureWithQueries differ at %d", i)
		}
	}
}
