package hnsw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/internal/testdata"
)

// build returns an hnsw index and a flat index over the same vectors.
func build(t testing.TB, data [][]float32, cfg Config) (*Index, *flat.Index) {
	t.Helper()
	dim := len(data[0])
	x, err := New(dim, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := flat.New(dim, cfg.Metric)
	if err != nil {
		t.Fatal(err)
	}
	ids := seqIDs(len(data))
	if err := x.AddBatch(context.Background(), ids, data); err != nil {
		t.Fatal(err)
	}
	if err := f.AddBatch(context.Background(), ids, data); err != nil {
		t.Fatal(err)
	}
	return x, f
}

// recall is the mean fraction of the exact k nearest found by x.
func recall(t testing.TB, x, exact index.Index, queries [][]float32, k int, opts index.SearchOptions) float64 {
	t.Helper()
	hits, total := 0, 0
	for _, q := range queries {
		got, err := x.Search(q, k, opts)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exact.Search(q, k, index.SearchOptions{Filter: opts.Filter})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]uint64, len(want))
		for i, r := range want {
			ids[i] = r.ID
		}
		hits += overlap(got, ids)
		total += len(want)
	}
	return float64(hits) / float64(total)
}

// scaled returns n, or n/2 under the race detector.
func scaled(n int) int {
	if raceEnabled {
		return n / 2
	}
	return n
}

// TestRecall: 5,000 × 64 vectors in 20 clusters with noise 0.25 (2,500 under
// the race detector), M=16, efConstruction=200, one worker. The noise makes
// neighbours hard to tell apart: ef=16 finds only about 80% of them.
func TestRecall(t *testing.T) {
	n := scaled(5000)
	data, queries := testdata.MixtureWithQueries(1, n, 200, 64, 20, 0.25)
	x, f := build(t, data, Config{Seed: 1, Workers: 1})
	if got := recall(t, f, f, queries, 10, index.SearchOptions{}); got != 1 {
		t.Fatalf("flat recall against itself = %v, want 1", got)
	}
	tests := []struct {
		ef   int
		want float64
	}{
		{64, 0.95},
		{256, 0.99},
	}
	for _, tc := range tests {
		got := recall(t, x, f, queries, 10, index.SearchOptions{Ef: tc.ef})
		t.Logf("ef=%d recall@10=%.4f", tc.ef, got)
		if got < tc.want {
			t.Errorf("ef=%d: recall@10 = %.4f, want ≥ %.2f", tc.ef, got, tc.want)
		}
	}
}

// TestMetrics checks every metric against brute force: recall, ordering and
// the distances reported.
func TestMetrics(t *testing.T) {
	tests := []struct {
		metric index.Metric
		data   [][]float32
		want   func(a, b []float32) float64
	}{
		{index.Cosine, testdata.Mixture(3, scaled(2000), 32, 20, 0.05), func(a, b []float32) float64 { return 1 - dot64(a, b) }},
		{index.InnerProduct, testdata.Gaussian(4, scaled(2000), 32), func(a, b []float32) float64 { return -dot64(a, b) }},
		{index.L2, testdata.Gaussian(5, scaled(2000), 32), l2sq64},
	}
	for _, tc := range tests {
		t.Run(tc.metric.String(), func(t *testing.T) {
			queries := tc.data[:50]
			x, f := build(t, tc.data, Config{Metric: tc.metric, EfConstruction: 100, Seed: 2})
			if x.Metric() != tc.metric {
				t.Fatalf("Metric() = %v", x.Metric())
			}
			if got := recall(t, x, f, queries, 10, index.SearchOptions{Ef: 200}); got < 0.95 {
				t.Errorf("recall@10 = %.3f, want ≥ 0.95", got)
			}
			for _, q := range queries {
				// Brute force in float64.
				type cand struct {
					id uint64
					d  float64
				}
				all := make([]cand, len(tc.data))
				for i, v := range tc.data {
					all[i] = cand{uint64(i), tc.want(q, v)}
				}
				slices.SortFunc(all, func(a, b cand) int { return cmpF(a.d, b.d) })
				res, err := f.Search(q, 5, index.SearchOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range res {
					if math.Abs(float64(r.Distance)-all[i].d) > 1e-4*math.Max(1, math.Abs(all[i].d)) {
						t.Fatalf("flat result %d distance %g, brute force %g", i, r.Distance, all[i].d)
					}
				}
				hres, err := x.Search(q, 10, index.SearchOptions{Ef: 200})
				if err != nil {
					t.Fatal(err)
				}
				for i, r := range hres {
					want := tc.want(q, tc.data[r.ID])
					if math.Abs(float64(r.Distance)-want) > 1e-4*math.Max(1, math.Abs(want)) {
						t.Fatalf("hnsw result %d (id %d) distance %g, want %g", i, r.ID, r.Distance, want)
					}
					if i > 0 && hres[i-1].Distance > r.Distance {
						t.Fatalf("results not sorted: %v", hres)
					}
				}
			}
		})
	}
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func l2sq64(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestFilter(t *testing.T) {
	data, queries := testdata.MixtureWithQueries(6, 3000, scaled(40), 32, 30, 0.05)
	x, f := build(t, data, Config{EfConstruction: 100, Seed: 3})
	few := map[uint64]bool{17: true, 400: true, 1234: true, 2999: true, 5: true}
	tests := []struct {
		name   string
		filter index.Filter
		k      int
		want   int // results expected per query
	}{
		{"one in ten", func(id uint64) bool { return id%10 == 3 }, 10, 10},
		{"half", func(id uint64) bool { return id%2 == 0 }, 20, 20},
		{"five ids", func(id uint64) bool { return few[id] }, 10, 5},
		{"none", func(uint64) bool { return false }, 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, q := range queries {
				res, err := x.Search(q, tc.k, index.SearchOptions{Filter: tc.filter})
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != tc.want {
					t.Fatalf("%d results, want %d", len(res), tc.want)
				}
				for _, r := range res {
					if !tc.filter(r.ID) {
						t.Fatalf("result %d rejected by the filter", r.ID)
					}
				}
			}
			if tc.want > 0 {
				if got := recall(t, x, f, queries, tc.k, index.SearchOptions{Filter: tc.filter}); got < 0.9 {
					t.Errorf("filtered recall = %.3f, want ≥ 0.9", got)
				}
			}
		})
	}
}

func TestDeleteAndReAdd(t *testing.T) {
	n := uint64(scaled(2000))
	data := testdata.Mixture(8, int(n), 32, 20, 0.05)
	x, _ := build(t, data, Config{EfConstruction: 100, Seed: 4})
	deleted := map[uint64]bool{}
	for id := uint64(0); id < n; id += 3 {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
		deleted[id] = true
	}
	if err := x.Delete(0); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := x.Delete(99999); !errors.Is(err, index.ErrNotFound) {
		t.Fatalf("delete absent: %v, want ErrNotFound", err)
	}
	if x.Len() != int(n)-len(deleted) || x.Deleted() != len(deleted) {
		t.Fatalf("Len %d Deleted %d after %d deletes", x.Len(), x.Deleted(), len(deleted))
	}
	for id := range n {
		res, err := x.Search(data[id], 10, index.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 10 {
			t.Fatalf("query %d: %d results", id, len(res))
		}
		for _, r := range res {
			if deleted[r.ID] {
				t.Fatalf("deleted id %d returned", r.ID)
			}
		}
		if !deleted[id] && res[0].ID != id {
			t.Fatalf("live id %d not found first for its own vector: %v", id, res[:2])
		}
	}
	// Re-adding a deleted id makes it findable again.
	if err := x.Add(3, data[3]); err != nil {
		t.Fatal(err)
	}
	res, _ := x.Search(data[3], 1, index.SearchOptions{})
	if len(res) != 1 || res[0].ID != 3 {
		t.Fatalf("re-added id 3 not found: %v", res)
	}
	// Replacing a vector: the id moves to the new vector.
	if err := x.Add(1, data[n-1]); err != nil {
		t.Fatal(err)
	}
	res, _ = x.Search(data[1], 3, index.SearchOptions{})
	for _, r := range res {
		if r.ID == 1 && r.Distance < 1e-5 {
			t.Fatalf("id 1 still found at its old vector: %v", res)
		}
	}
	if v, err := x.Vector(1); err != nil || !slices.Equal(v, data[n-1]) {
		t.Fatalf("Vector(1) = %v, %v; want the replacement", v[:2], err)
	}
}

func TestCompact(t *testing.T) {
	n := uint64(scaled(3000))
	data, queries := testdata.MixtureWithQueries(9, int(n), 100, 32, 30, 0.04)
	x, _ := build(t, data, Config{EfConstruction: 100, Seed: 5})
	f, _ := flat.New(32, index.Cosine)
	for id := range n {
		if id%10 < 4 { // delete 40%, including likely the entry point
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := f.Add(id, data[id]); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if x.Len() != f.Len() || x.Deleted() != 0 {
		t.Fatalf("after compact Len %d (want %d) Deleted %d", x.Len(), f.Len(), x.Deleted())
	}
	if got := recall(t, x, f, queries, 10, index.SearchOptions{Ef: 128}); got < 0.95 {
		t.Errorf("recall after compact = %.3f, want ≥ 0.95", got)
	}
	for id := uint64(0); id < n; id++ {
		v, err := x.Vector(id)
		if id%10 < 4 {
			if !errors.Is(err, index.ErrNotFound) {
				t.Fatalf("Vector(%d) of a deleted id: %v", id, err)
			}
			continue
		}
		if err != nil || !slices.Equal(v, data[id]) {
			t.Fatalf("Vector(%d) after compact differs (err %v)", id, err)
		}
	}
	// Slots are reused: re-adding deleted ids fits in the freed space.
	for id := uint64(0); id < n; id += 10 {
		if err := x.Add(id, data[id]); err != nil {
			t.Fatal(err)
		}
		if err := f.Add(id, data[id]); err != nil {
			t.Fatal(err)
		}
	}
	if got := recall(t, x, f, queries, 10, index.SearchOptions{Ef: 128}); got < 0.95 {
		t.Errorf("recall after re-adding = %.3f, want ≥ 0.95", got)
	}
	roundTrip(t, x, queries)
	// Compacting everything away leaves a usable empty index.
	for id := range n {
		if x.Contains(id) {
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := x.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res, err := x.Search(queries[0], 5, index.SearchOptions{}); err != nil || len(res) != 0 {
		t.Fatalf("search of an emptied index: %v, %v", res, err)
	}
	if err := x.Add(7, data[7]); err != nil {
		t.Fatal(err)
	}
	if res, _ := x.Search(data[7], 1, index.SearchOptions{}); len(res) != 1 || res[0].ID != 7 {
		t.Fatalf("add after emptying: %v", res)
	}
}

func TestCompactCancelled(t *testing.T) {
	data := testdata.Mixture(11, 1000, 16, 10, 0.05)
	x, _ := build(t, data, Config{Seed: 6})
	for id := uint64(0); id < 1000; id += 2 {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	var before bytes.Buffer
	if err := x.Save(&before); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.Compact(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Compact with a cancelled context: %v", err)
	}
	var after bytes.Buffer
	if err := x.Save(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("a cancelled Compact changed the index")
	}
}

// countdownCtx reports Canceled once Err has been asked n times, so a batch can
// be cancelled midway deterministically.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestAddBatchCancelled(t *testing.T) {
	data := testdata.Mixture(12, 500, 16, 10, 0.05)
	ids := seqIDs(len(data))
	t.Run("before", func(t *testing.T) {
		x, _ := New(16, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := x.AddBatch(ctx, ids, data); !errors.Is(err, context.Canceled) {
			t.Fatalf("AddBatch = %v, want context.Canceled", err)
		}
		if x.Len() != 0 {
			t.Fatalf("Len = %d after a cancelled batch", x.Len())
		}
	})
	t.Run("midway", func(t *testing.T) {
		x, _ := New(16, Config{Workers: 2})
		ctx := &countdownCtx{Context: context.Background()}
		ctx.left.Store(100)
		if err := x.AddBatch(ctx, ids, data); !errors.Is(err, context.Canceled) {
			t.Fatalf("AddBatch = %v, want context.Canceled", err)
		}
		if x.Len() == 0 || x.Len() >= len(data) {
			t.Fatalf("Len = %d, want some but not all of %d", x.Len(), len(data))
		}
		// What was inserted is searchable.
		for id := range uint64(len(data)) {
			if x.Contains(id) {
				res, _ := x.Search(data[id], 1, index.SearchOptions{Ef: 100})
				if len(res) != 1 || res[0].ID != id {
					t.Fatalf("inserted id %d not found: %v", id, res)
				}
			}
		}
	})
}

func TestConcurrent(t *testing.T) {
	const dim = 16
	data, repl := testdata.MixtureWithQueries(13, 3000, 100, dim, 20, 0.05)
	x, err := New(dim, Config{M: 8, EfConstruction: 64, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	// Ids 0..999 go in first; then writers add 1000..2999 while deleting the
	// multiples of 7 below 1000, and readers search throughout.
	if err := x.AddBatch(context.Background(), seqIDs(1000), data[:1000]); err != nil {
		t.Fatal(err)
	}
	var deletedDone sync.Map // ids whose Delete has returned
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 2 {
		wg.Go(func() {
			for id := uint64(1000 + w); id < 3000; id += 2 {
				if err := x.Add(id, data[id]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// A third writer replaces the vectors of ids 500..599 (those not being
	// deleted) and reads them back.
	wg.Go(func() {
		for id := uint64(500); id < 600; id++ {
			if id%7 == 0 {
				continue
			}
			if err := x.Add(id, repl[id-500]); err != nil {
				errs <- err
				return
			}
			v, err := x.Vector(id)
			if err != nil || !slices.Equal(v, repl[id-500]) {
				errs <- fmt.Errorf("Vector(%d) after replacing: %v", id, err)
				return
			}
		}
	})
	wg.Go(func() {
		for id := uint64(0); id < 1000; id += 7 {
			if err := x.Delete(id); err != nil {
				errs <- err
				return
			}
			deletedDone.Store(id, true)
		}
	})
	var readers sync.WaitGroup
	for r := range 3 {
		readers.Go(func() {
			for i := 0; !stop.Load(); i++ {
				q := data[(i*31+r*1000)%len(data)]
				// Ids deleted before the search starts must not come back.
				var gone []uint64
				deletedDone.Range(func(k, _ any) bool { gone = append(gone, k.(uint64)); return true })
				res, err := x.Search(q, 10, index.SearchOptions{Ef: 32})
				if err != nil {
					errs <- err
					return
				}
				if r == 0 && i%50 == 0 {
					if m := x.Memory(); m.Vectors <= 0 || m.Links <= 0 {
						errs <- fmt.Errorf("Memory() during inserts: %+v", m)
						return
					}
				}
				for _, r := range res {
					if r.ID >= 3000 {
						errs <- fmt.Errorf("search returned unknown id %d", r.ID)
						return
					}
					if slices.Contains(gone, r.ID) {
						errs <- fmt.Errorf("search returned deleted id %d", r.ID)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if want := 3000 - (1000+6)/7; x.Len() != want {
		t.Fatalf("Len = %d, want %d", x.Len(), want)
	}
	replaced := 0
	for id := 500; id < 600; id++ {
		if id%7 != 0 {
			replaced++
		}
	}
	if want := (1000+6)/7 + replaced; x.Deleted() != want {
		t.Fatalf("Deleted = %d, want %d: the deletes and the replaced nodes", x.Deleted(), want)
	}
	f, _ := flat.New(dim, index.Cosine)
	for id := range uint64(3000) {
		switch {
		case id < 1000 && id%7 == 0:
		case id >= 500 && id < 600:
			f.Add(id, repl[id-500])
		default:
			f.Add(id, data[id])
		}
	}
	if got := recall(t, x, f, data[:200], 10, index.SearchOptions{Ef: 128}); got < 0.95 {
		t.Errorf("recall after concurrent build = %.3f, want ≥ 0.95", got)
	}
}

func TestInvalidInput(t *testing.T) {
	x, err := New(4, Config{})
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"add short", x.Add(1, []float32{1, 2, 3}), index.ErrDimension},
		{"add NaN", x.Add(1, []float32{1, nan, 0, 0}), index.ErrInvalidInput},
		{"search long", searchErr(x, []float32{1, 2, 3, 4, 5}, 1), index.ErrDimension},
		{"negative k", searchErr(x, []float32{1, 0, 0, 0}, -1), index.ErrInvalidInput},
		{"batch lengths", x.AddBatch(context.Background(), []uint64{1, 2}, [][]float32{{1, 0, 0, 0}}), index.ErrInvalidInput},
		{"batch bad vector", x.AddBatch(context.Background(), []uint64{1, 2}, [][]float32{{1, 0, 0, 0}, {1}}), index.ErrDimension},
		{"delete absent", x.Delete(5), index.ErrNotFound},
		{"zero dim", newErr(0, Config{}), index.ErrInvalidInput},
		{"M=1", newErr(4, Config{M: 1}), index.ErrInvalidInput},
		{"bad metric", newErr(4, Config{Metric: 9}), index.ErrInvalidInput},
		{"negative ef", newErr(4, Config{EfSearch: -1}), index.ErrInvalidInput},
		{"SetEfSearch 0", x.SetEfSearch(0), index.ErrInvalidInput},
		{"SetWorkers -1", x.SetWorkers(-1), index.ErrInvalidInput},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if x.Len() != 0 {
		t.Fatalf("failed adds changed Len to %d", x.Len())
	}
	if res, err := x.Search([]float32{1, 0, 0, 0}, 5, index.SearchOptions{}); err != nil || len(res) != 0 {
		t.Fatalf("search of an empty index: %v, %v", res, err)
	}
}

func searchErr(x *Index, q []float32, k int) error {
	_, err := x.Search(q, k, index.SearchOptions{})
	return err
}

func newErr(dim int, cfg Config) error {
	_, err := New(dim, cfg)
	return err
}

// TestDeterministic: one worker and one seed build the same graph, byte for byte.
func TestDeterministic(t *testing.T) {
	data := testdata.Mixture(14, scaled(1500), 16, 10, 0.05)
	var files [2][]byte
	for i := range files {
		x, _ := build(t, data, Config{Workers: 1, Seed: 42})
		var buf bytes.Buffer
		if err := x.Save(&buf); err != nil {
			t.Fatal(err)
		}
		files[i] = buf.Bytes()
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("two single-worker builds with one seed differ")
	}
}

// TestGraphInvariants checks link capacities, ranges and layer membership
// after a parallel build, through the same validation Load applies.
func TestGraphInvariants(t *testing.T) {
	data := testdata.Mixture(15, scaled(4000), 16, 10, 0.05)
	x, _ := build(t, data, Config{M: 6, EfConstruction: 100, Seed: 8})
	x.mu.Lock()
	defer x.mu.Unlock()
	clear(x.labels)
	if err := x.validate(int(x.live.Load())); err != nil {
		t.Fatal(err)
	}
	_, top := unpackEntry(x.entry.Load())
	if top < 2 {
		t.Fatalf("top level %d: levels are not being drawn", top)
	}
	// Layer populations shrink roughly by M per level.
	counts := make([]int, top+1)
	for id := range uint32(x.count) {
		for l := 0; l <= x.level(id); l++ {
			counts[l]++
		}
	}
	if r := float64(counts[0]) / float64(counts[1]); r < 3 || r > 12 {
		t.Fatalf("layer 0 / layer 1 population ratio %.1f, want about M=6 (counts %v)", r, counts)
	}
}

// TestMemory checks the accounting against the layout: whole chunks of
// vectors and layer-0 blocks, and upper-layer lists for a minority of nodes.
func TestMemory(t *testing.T) {
	const n, dim = 5000, 8
	data := testdata.Mixture(16, n, dim, 10, 0.05)
	x, _ := build(t, data, Config{M: 4, EfConstruction: 20, Seed: 12})
	m := x.Memory()
	chunks := int64((n + chunkSize - 1) / chunkSize)
	if want := chunks * chunkSize * dim * 4; m.Vectors != want {
		t.Errorf("Vectors = %d, want %d", m.Vectors, want)
	}
	layer0 := chunks * chunkSize * (2*4 + 1) * 4
	if m.Links < layer0 || m.Links > layer0+n*(4+1)*4 {
		t.Errorf("Links = %d, want layer 0's %d plus upper layers of a minority of %d nodes", m.Links, layer0, n)
	}
	if m.Other <= 0 || m.Total() != m.Vectors+m.Links+m.Other {
		t.Errorf("Other = %d, Total = %d", m.Other, m.Total())
	}
	if err := x.SetWorkers(0); err != nil || x.Config().Workers < 1 {
		t.Errorf("SetWorkers(0): %v, workers %d", err, x.Config().Workers)
	}
	if err := x.SetEfSearch(77); err != nil || x.Config().EfSearch != 77 {
		t.Errorf("SetEfSearch(77): %v, EfSearch %d", err, x.Config().EfSearch)
	}
}
