package ann

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"mmsearch/index"
	"mmsearch/index/flat"
)

// Recall returns recall@k: the mean over queries of the fraction of the k
// true nearest neighbours (truth[i][:k]) found among the first k results
// (found[i][:k]). A result row shorter than k counts its missing entries as
// misses; duplicate ids in a result row count once.
func Recall(found, truth [][]uint64, k int) (float64, error) {
	if k <= 0 {
		return 0, fmt.Errorf("recall@%d: k must be positive", k)
	}
	if len(found) != len(truth) {
		return 0, fmt.Errorf("recall@%d: %d result rows for %d ground-truth rows", k, len(found), len(truth))
	}
	if len(truth) == 0 {
		return 0, fmt.Errorf("recall@%d: no queries", k)
	}
	var sum float64
	set := make(map[uint64]struct{}, k)
	for i, t := range truth {
		if len(t) < k {
			return 0, fmt.Errorf("recall@%d: ground truth row %d has only %d neighbours", k, i, len(t))
		}
		clear(set)
		for _, id := range t[:k] {
			set[id] = struct{}{}
		}
		hits := 0
		f := found[i]
		if len(f) > k {
			f = f[:k]
		}
		for _, id := range f {
			if _, ok := set[id]; ok {
				hits++
				delete(set, id)
			}
		}
		sum += float64(hits) / float64(k)
	}
	return sum / float64(len(truth)), nil
}

// ExactNeighbours computes the ground truth: for each query the k nearest base
// rows by metric, nearest first, with the flat (exact) index. workers
// goroutines (0 means GOMAXPROCS) share the queries.
func ExactNeighbours(ctx context.Context, base, queries [][]float32, metric index.Metric, k, workers int) ([][]uint64, error) {
	if len(base) == 0 || len(queries) == 0 {
		return nil, fmt.Errorf("ground truth: %d base vectors, %d queries", len(base), len(queries))
	}
	if k <= 0 || k > len(base) {
		return nil, fmt.Errorf("ground truth: k=%d, want 1..%d", k, len(base))
	}
	fx, err := flat.New(len(base[0]), metric)
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	if err := fx.AddBatch(ctx, sequentialIDs(len(base)), base); err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	out := make([][]uint64, len(queries))
	err = forEachQuery(ctx, len(queries), workers, func(i int) error {
		res, err := fx.Search(queries[i], k, index.SearchOptions{})
		if err != nil {
			return fmt.Errorf("ground truth query %d: %w", i, err)
		}
		if len(res) != k {
			return fmt.Errorf("ground truth query %d: %d results, want %d", i, len(res), k)
		}
		out[i] = resultIDs(res, nil)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sequentialIDs returns 0, 1, ..., n-1.
func sequentialIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	return ids
}

// resultIDs appends the ids of res to dst.
func resultIDs(res []index.Result, dst []uint64) []uint64 {
	for _, r := range res {
		dst = append(dst, r.ID)
	}
	return dst
}

// forEachQuery calls fn(i) for i in [0, n) on workers goroutines (0 means
// GOMAXPROCS), stopping at the first error or when ctx is done.
func forEachQuery(ctx context.Context, n, workers int, fn func(i int) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	var next atomic.Int64
	var stop atomic.Bool
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err })
		stop.Store(true)
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if i%64 == 0 {
					if err := ctx.Err(); err != nil {
						fail(err)
						return
					}
				}
				if err := fn(i); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
