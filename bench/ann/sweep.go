package ann

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"mmsearch/index"
)

// searchFunc runs one search and returns the result ids, nearest first.
type searchFunc func(q []float32, k, ef int) ([]uint64, error)

// indexSearch adapts an index.Index to searchFunc.
func indexSearch(idx index.Index) searchFunc {
	return func(q []float32, k, ef int) ([]uint64, error) {
		res, err := idx.Search(q, k, index.SearchOptions{Ef: ef})
		if err != nil {
			return nil, err
		}
		return resultIDs(res, make([]uint64, 0, len(res))), nil
	}
}

// sweep measures idx at each ef.
func (s *sweeper) sweep(ctx context.Context, name string, idx index.Index, efs []int) ([]Point, error) {
	search := indexSearch(idx)
	pts := make([]Point, 0, len(efs))
	for i, ef := range efs {
		stage := name + ": search"
		if ef > 0 {
			stage = fmt.Sprintf("%s: search ef=%d", name, ef)
		}
		s.progress(stage, i, len(efs))
		p, err := s.measure(ctx, search, ef)
		if err != nil {
			if ef > 0 {
				return nil, fmt.Errorf("ef=%d: %w", ef, err)
			}
			return nil, err
		}
		pts = append(pts, p)
	}
	s.progress(name+": search", len(efs), len(efs))
	return pts, nil
}

// measure takes one point:
//
//  1. for each recall level above K, an untimed search of every query with
//     k = that level (this also warms the caches);
//  2. Runs timed passes on one thread with GOMAXPROCS set to 1 (so the
//     garbage collector works on that thread too), each query timed; the
//     fastest pass gives queries/s and p50/p99 latency, the first the recall
//     at the levels up to K;
//  3. Runs timed passes with Threads goroutines sharing the queries; the
//     fastest gives the all-thread queries/s.
func (s *sweeper) measure(ctx context.Context, search searchFunc, ef int) (Point, error) {
	cfg := s.cfg
	qs := cfg.Dataset.Queries
	p := Point{Ef: ef}
	recall := map[int]float64{}
	warmed := false
	for _, level := range RecallLevels {
		if level <= cfg.K {
			continue
		}
		ids, err := s.searchAll(ctx, search, level, ef)
		if err != nil {
			return p, err
		}
		r, err := Recall(ids, s.truth, level)
		if err != nil {
			return p, err
		}
		recall[level] = r
		warmed = true
	}
	if !warmed {
		if _, err := s.searchAll(ctx, search, cfg.K, ef); err != nil {
			return p, err
		}
	}

	ids := make([][]uint64, len(qs))
	lat := make([]time.Duration, len(qs))
	best := time.Duration(math.MaxInt64)
	var bestLat []time.Duration
	for run := range cfg.Runs {
		total, err := singleThreadPass(ctx, search, qs, cfg.K, ef, ids, lat)
		if err != nil {
			return p, err
		}
		if run == 0 {
			for _, level := range RecallLevels {
				if level > cfg.K {
					continue
				}
				r, err := Recall(ids, s.truth, level)
				if err != nil {
					return p, err
				}
				recall[level] = r
			}
		}
		if total < best {
			best, bestLat = total, slices.Clone(lat)
		}
	}
	for level, r := range recall {
		p.setRecall(level, r)
	}
	p.QPS1 = float64(len(qs)) / best.Seconds()
	p.P50Ms, p.P99Ms = percentileMs(bestLat, 50), percentileMs(bestLat, 99)

	best = time.Duration(math.MaxInt64)
	for range cfg.Runs {
		var sink atomic.Int64 // keeps the results observable so no search is elided
		start := time.Now()
		err := forEachQuery(ctx, len(qs), cfg.Threads, func(i int) error {
			r, err := search(qs[i], cfg.K, ef)
			if err != nil {
				return fmt.Errorf("query %d: %w", i, err)
			}
			sink.Add(int64(len(r)))
			return nil
		})
		if err != nil {
			return p, err
		}
		best = min(best, time.Since(start))
		if sink.Load() == 0 {
			return p, fmt.Errorf("searches returned no results")
		}
	}
	p.QPSAll = float64(len(qs)) / best.Seconds()
	return p, nil
}

// singleThreadPass runs every query in sequence with GOMAXPROCS set to 1,
// storing the ids in ids and each query's latency in lat, and returns the
// pass's wall time.
func singleThreadPass(ctx context.Context, search searchFunc, qs [][]float32, k, ef int, ids [][]uint64, lat []time.Duration) (time.Duration, error) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	start := time.Now()
	for i, q := range qs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		t0 := time.Now()
		r, err := search(q, k, ef)
		lat[i] = time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("query %d: %w", i, err)
		}
		ids[i] = r
	}
	return time.Since(start), nil
}

// searchAll runs every query with k on Threads goroutines, untimed.
func (s *sweeper) searchAll(ctx context.Context, search searchFunc, k, ef int) ([][]uint64, error) {
	qs := s.cfg.Dataset.Queries
	out := make([][]uint64, len(qs))
	err := forEachQuery(ctx, len(qs), s.cfg.Threads, func(i int) error {
		r, err := search(qs[i], k, ef)
		if err != nil {
			return fmt.Errorf("query %d (k=%d): %w", i, k, err)
		}
		out[i] = r
		return nil
	})
	return out, err
}

// percentileMs is the nearest-rank p-th percentile of d, in milliseconds.
func percentileMs(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := max(1, int(math.Ceil(p/100*float64(len(s)))))
	return float64(s[rank-1]) / float64(time.Millisecond)
}

// moduleVersion returns the version of module path in the running binary's
// build information, or "".
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}
