// Package testdata generates the synthetic vectors the index tests and
// benchmarks use: a mixture of Gaussian clusters on the unit sphere, the same
// shape as the ANN benchmark's synthetic set.
package testdata

import (
	"math/rand/v2"

	"mmsearch/index/internal/vec"
)

// Mixture returns n unit vectors of dimension dim drawn around clusters random
// unit centres: each is a centre plus per-coordinate Gaussian noise of standard
// deviation noise, normalized. The same seed gives the same vectors.
func Mixture(seed uint64, n, dim, clusters int, noise float64) [][]float32 {
	base, _ := MixtureWithQueries(seed, n, 0, dim, clusters, noise)
	return base
}

// MixtureWithQueries returns n base vectors and nq queries drawn from one
// mixture (the same centres), the queries on a random stream of their own so
// that none is a base vector.
func MixtureWithQueries(seed uint64, n, nq, dim, clusters int, noise float64) (base, queries [][]float32) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	centres := make([][]float32, max(clusters, 1))
	for i := range centres {
		c := make([]float32, dim)
		for j := range c {
			c[j] = float32(rng.NormFloat64())
		}
		vec.Normalize(c)
		centres[i] = c
	}
	base = sample(rng, centres, n, noise)
	queries = sample(rand.New(rand.NewPCG(seed, seed^0x51ed2701f3a5c6b7)), centres, nq, noise)
	return base, queries
}

func sample(rng *rand.Rand, centres [][]float32, n int, noise float64) [][]float32 {
	dim := len(centres[0])
	flat := make([]float32, n*dim)
	out := make([][]float32, n)
	for i := range out {
		c := centres[rng.IntN(len(centres))]
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		for j := range v {
			v[j] = c[j] + float32(noise*rng.NormFloat64())
		}
		vec.Normalize(v)
		out[i] = v
	}
	return out
}

// Gaussian returns n vectors of dimension dim with independent standard normal
// coordinates, not normalized (for inner-product and L2 tests).
func Gaussian(seed uint64, n, dim int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed2701))
	flat := make([]float32, n*dim)
	out := make([][]float32, n)
	for i := range out {
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}
