package ann

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestSyntheticDeterministic(t *testing.T) {
	ctx := context.Background()
	cfg := SyntheticConfig{N: 5000, Dim: 24, Queries: 300, Seed: 7}
	var sets []*Dataset
	for _, w := range []int{1, 3, 8} {
		c := cfg
		c.Workers = w
		ds, err := Synthetic(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, ds)
	}
	for i, ds := range sets[1:] {
		if !equalRows(ds.Base, sets[0].Base) || !equalRows(ds.Queries, sets[0].Queries) {
			t.Errorf("dataset with worker setting #%d differs from the one-worker dataset", i+1)
		}
	}
	other := cfg
	other.Seed = 8
	ds2, err := Synthetic(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if equalRows(ds2.Base[:10], sets[0].Base[:10]) {
		t.Error("seeds 7 and 8 gave the same vectors")
	}
	// A larger n keeps the first rows: rows depend on their chunk, not on n.
	bigger := cfg
	bigger.N = 6000
	ds3, err := Synthetic(ctx, bigger)
	if err != nil {
		t.Fatal(err)
	}
	if !equalRows(ds3.Base[:5000], sets[0].Base) {
		t.Error("growing n changed the first rows")
	}
}

func equalRows(a, b [][]float32) bool {
	return slices.EqualFunc(a, b, func(x, y []float32) bool { return slices.Equal(x, y) })
}

func TestSyntheticShape(t *testing.T) {
	ds, err := Synthetic(context.Background(), SyntheticConfig{N: 3000, Dim: 16, Queries: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Dim != 16 || len(ds.Base) != 3000 || len(ds.Queries) != 200 {
		t.Fatalf("shape: dim %d, %d base, %d queries", ds.Dim, len(ds.Base), len(ds.Queries))
	}
	if err := ds.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, set := range [][][]float32{ds.Base, ds.Queries} {
		for i, v := range set {
			if n := math.Sqrt(dot(v, v)); math.Abs(n-1) > 1e-5 {
				t.Fatalf("row %d has norm %v", i, n)
			}
		}
	}
	seen := map[string]bool{}
	for _, v := range ds.Base {
		seen[string(float32Bytes(v))] = true
	}
	for i, q := range ds.Queries {
		if seen[string(float32Bytes(q))] {
			t.Fatalf("query %d equals a base vector", i)
		}
	}
	if !strings.Contains(ds.Name, "n=3000") || !strings.Contains(ds.Name, "seed=1") {
		t.Errorf("name %q does not name its parameters", ds.Name)
	}
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		u := math.Float32bits(x)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

// With little noise every vector lies next to one of the cluster centres:
// greedy grouping by cosine > 0.99 finds exactly Clusters groups.
func TestSyntheticClusters(t *testing.T) {
	ds, err := Synthetic(context.Background(), SyntheticConfig{N: 500, Dim: 32, Queries: 50, Clusters: 4, Noise: 0.001, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var reps [][]float32
	for _, v := range append(slices.Clone(ds.Base), ds.Queries...) {
		found := false
		for _, r := range reps {
			if dot(v, r) > 0.99 {
				found = true
				break
			}
		}
		if !found {
			reps = append(reps, v)
		}
	}
	if len(reps) != 4 {
		t.Errorf("found %d groups, want the 4 clusters", len(reps))
	}
	// The default noise (0.06 per coordinate) spreads points well away from
	// their centre in 32 dimensions.
	wide, err := Synthetic(context.Background(), SyntheticConfig{N: 200, Dim: 32, Queries: 1, Clusters: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c := dot(wide.Base[0], wide.Base[1]); c > 0.95 || c < 0.2 {
		t.Errorf("two points of one cluster with noise 0.06 have cosine %v, want between 0.2 and 0.95", c)
	}
}

func TestSyntheticErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  SyntheticConfig
		want string
	}{
		{"zero n", SyntheticConfig{Dim: 4, Queries: 1}, "n=0"},
		{"zero dim", SyntheticConfig{N: 4, Queries: 1}, "dim=0"},
		{"zero queries", SyntheticConfig{N: 4, Dim: 4}, "queries=0"},
		{"negative clusters", SyntheticConfig{N: 4, Dim: 4, Queries: 1, Clusters: -1}, "clusters"},
		{"negative noise", SyntheticConfig{N: 4, Dim: 4, Queries: 1, Noise: -1}, "noise"},
		{"NaN noise", SyntheticConfig{N: 4, Dim: 4, Queries: 1, Noise: math.NaN()}, "noise"},
		{"huge", SyntheticConfig{N: 1 << 30, Dim: 1 << 10, Queries: 1}, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Synthetic(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Synthetic(ctx, SyntheticConfig{N: 10000, Dim: 8, Queries: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: error = %v, want context.Canceled", err)
	}
}

func TestValidate(t *testing.T) {
	good := func() *Dataset {
		return &Dataset{Name: "d", Dim: 2, Base: [][]float32{{1, 0}, {0, 1}}, Queries: [][]float32{{1, 1}}}
	}
	tests := []struct {
		name   string
		mutate func(d *Dataset)
		want   string
	}{
		{"ok", func(d *Dataset) {}, ""},
		{"ok with truth", func(d *Dataset) { d.Truth = [][]uint64{{1, 0}} }, ""},
		{"no dim", func(d *Dataset) { d.Dim = 0 }, "dimension 0"},
		{"no base", func(d *Dataset) { d.Base = nil }, "no base"},
		{"no queries", func(d *Dataset) { d.Queries = nil }, "no queries"},
		{"ragged base", func(d *Dataset) { d.Base[1] = []float32{1} }, "base vector 1 has dimension 1"},
		{"ragged query", func(d *Dataset) { d.Queries[0] = []float32{1, 2, 3} }, "query vector 0 has dimension 3"},
		{"NaN", func(d *Dataset) { d.Base[0][1] = float32(math.NaN()) }, "element 1 is NaN"},
		{"truth rows", func(d *Dataset) { d.Truth = [][]uint64{{0}, {1}} }, "2 rows for 1 queries"},
		{"truth range", func(d *Dataset) { d.Truth = [][]uint64{{5}} }, "names base vector 5 of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good()
			tt.mutate(d)
			err := d.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	d := &Dataset{Dim: 2, Base: [][]float32{{3, 4}, {0, 0}}, Queries: [][]float32{{0, -2}}}
	d.Normalize()
	want := [][]float32{{0.6, 0.8}, {0, 0}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(float64(d.Base[i][j]-want[i][j])) > 1e-6 {
				t.Errorf("base %d = %v, want %v", i, d.Base[i], want[i])
			}
		}
	}
	if d.Queries[0][1] != -1 {
		t.Errorf("query = %v, want [0 -1]", d.Queries[0])
	}
}

// TestSyntheticGaussian checks the isotropic distribution: unit vectors
// whose nearest base vector is barely nearer than any other (in 256
// dimensions the cosine of two random unit vectors has a spread of 1/16),
// unlike the clustered data, whose queries have neighbours in their
// cluster; and an unknown distribution is refused.
func TestSyntheticGaussian(t *testing.T) {
	ctx := context.Background()
	nearest := func(ds *Dataset) (best, mean float64) {
		for _, q := range ds.Queries {
			b := -1.0
			for _, v := range ds.Base {
				c := dot(q, v)
				b = max(b, c)
				mean += c
			}
			best += b
		}
		n := float64(len(ds.Queries))
		return best / n, mean / (n * float64(len(ds.Base)))
	}
	g, err := Synthetic(ctx, SyntheticConfig{Distribution: DistGaussian, N: 2000, Dim: 256, Queries: 20, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, v := range g.Base {
		if n := math.Sqrt(dot(v, v)); math.Abs(n-1) > 1e-5 {
			t.Fatalf("row %d has norm %v", i, n)
		}
	}
	gBest, gMean := nearest(g)
	if gBest > 0.35 || math.Abs(gMean) > 0.01 {
		t.Errorf("gaussian: mean nearest cosine %.3f, mean cosine %.4f; want < 0.35 and ≈ 0", gBest, gMean)
	}
	if !strings.HasPrefix(g.Name, "synthetic-gaussian(") {
		t.Errorf("name %q", g.Name)
	}
	c, err := Synthetic(ctx, SyntheticConfig{N: 2000, Dim: 256, Queries: 20, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if cBest, _ := nearest(c); cBest < 0.4 {
		t.Errorf("clusters: mean nearest cosine %.3f, want > 0.4 (neighbours in the query's cluster)", cBest)
	}
	if _, err := Synthetic(ctx, SyntheticConfig{Distribution: "uniform", N: 4, Dim: 4, Queries: 1}); err == nil || !strings.Contains(err.Error(), "unknown distribution") {
		t.Errorf("unknown distribution: %v", err)
	}
}
