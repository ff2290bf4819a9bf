// Package ann benchmarks mmsearch's approximate-nearest-neighbour indexes the
// way ann-benchmarks does: exact ground truth from the flat index, then for
// each backend and each search setting (ef) recall@1/10/100, queries per second
// on one thread and on all threads, and latency percentiles; build time,
// memory and persistence for our HNSW; and peers (hnswlib, FAISS, run by a
// Python script, and github.com/coder/hnsw) measured in the same run on the
// same vectors, their recall computed against the same ground truth.
package ann

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
)

// Dataset is a base set of vectors to index and a set of queries. Base row i is
// indexed under id i.
type Dataset struct {
	Name    string      // e.g. "synthetic-clusters(n=100000,dim=512,seed=1)" or a file name
	Dim     int         // vector dimension
	Base    [][]float32 // vectors to index; rows share one backing array
	Queries [][]float32 // query vectors, same dimension
	// Truth, when set, holds for each query the base rows nearest to it,
	// nearest first (from an .ivecs file). When nil the benchmark computes it
	// with exact search.
	Truth [][]uint64
}

// Validate checks that the dataset is usable: a positive dimension, at least
// one base vector and one query, every row of length Dim with finite values,
// and truth (when present) with one row per query of in-range ids.
func (d *Dataset) Validate() error {
	if d.Dim <= 0 {
		return fmt.Errorf("dataset %s: dimension %d, want > 0", d.Name, d.Dim)
	}
	if len(d.Base) == 0 {
		return fmt.Errorf("dataset %s: no base vectors", d.Name)
	}
	if len(d.Queries) == 0 {
		return fmt.Errorf("dataset %s: no queries", d.Name)
	}
	for _, set := range []struct {
		name string
		rows [][]float32
	}{{"base", d.Base}, {"query", d.Queries}} {
		for i, r := range set.rows {
			if len(r) != d.Dim {
				return fmt.Errorf("dataset %s: %s vector %d has dimension %d, want %d", d.Name, set.name, i, len(r), d.Dim)
			}
			for j, v := range r {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("dataset %s: %s vector %d element %d is %v", d.Name, set.name, i, j, v)
				}
			}
		}
	}
	if d.Truth != nil {
		if len(d.Truth) != len(d.Queries) {
			return fmt.Errorf("dataset %s: ground truth has %d rows for %d queries", d.Name, len(d.Truth), len(d.Queries))
		}
		for i, r := range d.Truth {
			for _, id := range r {
				if id >= uint64(len(d.Base)) {
					return fmt.Errorf("dataset %s: ground truth row %d names base vector %d of %d", d.Name, i, id, len(d.Base))
				}
			}
		}
	}
	return nil
}

// Normalize scales every base and query vector to unit length, in place.
// Zero vectors are left as they are.
func (d *Dataset) Normalize() {
	for _, set := range [][][]float32{d.Base, d.Queries} {
		for _, r := range set {
			normalize(r)
		}
	}
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}

// Distributions of synthetic data.
const (
	// DistClusters is a mixture of Gaussian clusters on the unit sphere,
	// like embeddings of a collection with many near-duplicate themes.
	DistClusters = "clusters"
	// DistGaussian is isotropic: every coordinate unit Gaussian, then
	// normalized, so the vectors are uniform on the sphere. In hundreds of
	// dimensions every pair is nearly orthogonal and the nearest neighbours
	// are barely nearer than the rest: the hard case for a graph index.
	DistGaussian = "gaussian"
)

// Distributions lists the distributions SyntheticConfig accepts.
var Distributions = []string{DistClusters, DistGaussian}

// SyntheticConfig parameterizes the synthetic dataset: a mixture of Gaussian
// clusters on the unit sphere, or uniform on the sphere (Distribution).
type SyntheticConfig struct {
	// Distribution is DistClusters ("" too) or DistGaussian, which ignores
	// Clusters and Noise.
	Distribution string
	N            int     // base vectors
	Dim          int     // dimension
	Queries      int     // query vectors
	Clusters     int     // cluster centres; 0 means 200
	Noise        float64 // per-coordinate standard deviation; 0 means 0.06
	Seed         int64   // the whole dataset is a function of the seed
	Workers      int     // goroutines; 0 means GOMAXPROCS. The output does not depend on it.
}

// Defaults for SyntheticConfig's zero fields.
const (
	DefaultClusters = 200
	DefaultNoise    = 0.06
)

// chunkRows is the unit of work of the generator: each chunk of rows draws from
// its own random stream, so the output is the same whichever goroutine makes it.
const chunkRows = 2048

// Random stream kinds, mixed into the stream id of each generator.
const (
	streamCentres = 1
	streamBase    = 2
	streamQueries = 3
)

// Synthetic generates a dataset: Clusters centres drawn uniformly on the unit
// sphere; each vector picks a centre uniformly, adds Gaussian noise of standard
// deviation Noise to each coordinate, and is normalized to unit length (with
// DistGaussian: every coordinate unit Gaussian, normalized). Queries
// are drawn from the same distribution on random streams separate from the
// base set's, so they are not base vectors. The result depends only on the
// configuration, not on Workers or the machine.
func Synthetic(ctx context.Context, cfg SyntheticConfig) (*Dataset, error) {
	if cfg.N <= 0 || cfg.Dim <= 0 || cfg.Queries <= 0 {
		return nil, fmt.Errorf("synthetic dataset: n=%d dim=%d queries=%d, want all > 0", cfg.N, cfg.Dim, cfg.Queries)
	}
	switch cfg.Distribution {
	case "", DistClusters:
		cfg.Distribution = DistClusters
	case DistGaussian:
		cfg.Clusters, cfg.Noise = 1, 1 // one centre at the origin, unit noise
	default:
		return nil, fmt.Errorf("synthetic dataset: unknown distribution %q (want %s)", cfg.Distribution, strings.Join(Distributions, " or "))
	}
	if cfg.Clusters == 0 {
		cfg.Clusters = DefaultClusters
	}
	if cfg.Clusters < 0 {
		return nil, fmt.Errorf("synthetic dataset: %d clusters, want > 0", cfg.Clusters)
	}
	if cfg.Noise == 0 {
		cfg.Noise = DefaultNoise
	}
	if cfg.Noise < 0 || math.IsNaN(cfg.Noise) || math.IsInf(cfg.Noise, 0) {
		return nil, fmt.Errorf("synthetic dataset: noise %v, want a finite value > 0", cfg.Noise)
	}
	if uint64(cfg.N)*uint64(cfg.Dim) > 1<<34 || uint64(cfg.Queries)*uint64(cfg.Dim) > 1<<34 {
		return nil, fmt.Errorf("synthetic dataset: %d×%d floats is too large", max(cfg.N, cfg.Queries), cfg.Dim)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	centres := make([][]float64, cfg.Clusters)
	rng := newRand(cfg.Seed, streamCentres, 0)
	for c := range centres {
		if cfg.Distribution == DistGaussian {
			centres[c] = make([]float64, cfg.Dim)
			continue
		}
		v := make([]float64, cfg.Dim)
		var s float64
		for s == 0 {
			for i := range v {
				v[i] = rng.NormFloat64()
				s += v[i] * v[i]
			}
		}
		inv := 1 / math.Sqrt(s)
		for i := range v {
			v[i] *= inv
		}
		centres[c] = v
	}
	g := generator{centres: centres, dim: cfg.Dim, noise: cfg.Noise, seed: cfg.Seed, workers: workers}
	base, err := g.rows(ctx, cfg.N, streamBase)
	if err != nil {
		return nil, err
	}
	queries, err := g.rows(ctx, cfg.Queries, streamQueries)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("synthetic-clusters(n=%d,dim=%d,queries=%d,clusters=%d,noise=%g,seed=%d)", cfg.N, cfg.Dim, cfg.Queries, cfg.Clusters, cfg.Noise, cfg.Seed)
	if cfg.Distribution == DistGaussian {
		name = fmt.Sprintf("synthetic-gaussian(n=%d,dim=%d,queries=%d,seed=%d)", cfg.N, cfg.Dim, cfg.Queries, cfg.Seed)
	}
	return &Dataset{
		Name:    name,
		Dim:     cfg.Dim,
		Base:    base,
		Queries: queries,
	}, nil
}

type generator struct {
	centres [][]float64
	dim     int
	noise   float64
	seed    int64
	workers int
}

// rows makes n vectors from stream kind, chunk by chunk, on g.workers goroutines.
func (g *generator) rows(ctx context.Context, n int, kind uint64) ([][]float32, error) {
	data := make([]float32, n*g.dim)
	out := make([][]float32, n)
	for i := range out {
		out[i] = data[i*g.dim : (i+1)*g.dim : (i+1)*g.dim]
	}
	chunks := (n + chunkRows - 1) / chunkRows
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(g.workers, chunks) {
		wg.Go(func() {
			tmp := make([]float64, g.dim)
			for c := range next {
				rng := newRand(g.seed, kind, uint64(c))
				for i := c * chunkRows; i < min(n, (c+1)*chunkRows); i++ {
					g.point(rng, tmp, out[i])
				}
			}
		})
	}
	var err error
	for c := 0; c < chunks; c++ {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- c
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("synthetic dataset: %w", err)
	}
	return out, nil
}

// point draws one vector into dst, using tmp as scratch.
func (g *generator) point(rng *rand.Rand, tmp []float64, dst []float32) {
	for {
		c := g.centres[rng.IntN(len(g.centres))]
		var s float64
		for i := range tmp {
			tmp[i] = c[i] + g.noise*rng.NormFloat64()
			s += tmp[i] * tmp[i]
		}
		if s == 0 { // probability zero; draw again rather than divide by zero
			continue
		}
		inv := 1 / math.Sqrt(s)
		for i, x := range tmp {
			dst[i] = float32(x * inv)
		}
		return
	}
}

// newRand returns the random stream for (seed, kind, chunk): a PCG generator
// whose two words are the seed and a SplitMix64 hash of kind and chunk.
func newRand(seed int64, kind, chunk uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), splitmix64(kind<<40^chunk)))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// errEmpty is returned by loaders for files without a single vector.
var errEmpty = errors.New("file holds no vectors")
