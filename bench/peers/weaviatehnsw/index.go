package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
	"github.com/weaviate/weaviate/adapters/repos/db/lsmkv"
	"github.com/weaviate/weaviate/adapters/repos/db/vector/common"
	"github.com/weaviate/weaviate/adapters/repos/db/vector/hnsw"
	"github.com/weaviate/weaviate/adapters/repos/db/vector/hnsw/distancer"
	"github.com/weaviate/weaviate/entities/cyclemanager"
	"github.com/weaviate/weaviate/entities/storobj"
	ent "github.com/weaviate/weaviate/entities/vectorindex/hnsw"
	"github.com/weaviate/weaviate/usecases/memwatch"
)

// indexConfig is what the benchmark sets of a Weaviate HNSW index.
type indexConfig struct {
	Metric         string // "ip" (dot product) or "l2" (squared Euclidean)
	M              int    // Weaviate's MaxConnections; layer 0 keeps 2M, as in hnswlib
	EfConstruction int
	Dir            string // parent of the index's scratch folder
	Log            io.Writer
}

// weaviateIndex is one Weaviate HNSW index over vectors in memory, with
// the pieces it needs outside a Weaviate server: an lsmkv store, a dummy
// memory monitor (a nil AllocChecker crashes) and a no-op commit logger.
type weaviateIndex struct {
	h       *hnsw.HNSW
	store   *lsmkv.Store
	root    string
	uc      ent.UserConfig
	vectors [][]float32
	efMu    sync.Mutex
}

// distanceProvider maps the benchmark's metric to Weaviate's distance.
// Inner product ranks like Weaviate's "dot" (distance = -⟨a,b⟩); on the unit
// vectors `bench ann` uses for cosine this is also cosine order.
func distanceProvider(metric string) (distancer.Provider, error) {
	switch metric {
	case "ip":
		return distancer.NewDotProductProvider(), nil
	case "l2":
		return distancer.NewL2SquaredProvider(), nil
	}
	return nil, fmt.Errorf("metric %q: want ip or l2", metric)
}

// newWeaviateIndex creates an empty index for vectors (ids are row numbers).
func newWeaviateIndex(cfg indexConfig, vectors [][]float32) (*weaviateIndex, error) {
	dist, err := distanceProvider(cfg.Metric)
	if err != nil {
		return nil, err
	}
	if cfg.M < 2 || cfg.EfConstruction < 1 {
		return nil, fmt.Errorf("m=%d ef-construction=%d: want m ≥ 2 and ef-construction ≥ 1", cfg.M, cfg.EfConstruction)
	}
	root, err := os.MkdirTemp(cfg.Dir, "weaviate-index-*")
	if err != nil {
		return nil, fmt.Errorf("index folder: %w", err)
	}
	logger := logrus.New()
	logger.Out = cfg.Log
	if logger.Out == nil {
		logger.Out = io.Discard
	}
	logger.SetLevel(logrus.WarnLevel)
	noop := cyclemanager.NewCallbackGroupNoop()
	store, err := lsmkv.New(root, root, logger, nil, noop, noop, noop)
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("lsmkv store: %w", err)
	}
	w := &weaviateIndex{store: store, root: root, vectors: vectors}
	w.uc = ent.NewDefaultUserConfig()
	w.uc.MaxConnections = cfg.M
	w.uc.EFConstruction = cfg.EfConstruction
	w.uc.EF = cfg.EfConstruction // replaced by setEf before every search pass
	w.uc.VectorCacheMaxObjects = 2 * len(vectors)
	vectorForID := func(_ context.Context, id uint64) ([]float32, error) {
		if id >= uint64(len(vectors)) {
			return nil, storobj.NewErrNotFoundf(id, "vector %d of %d", id, len(vectors))
		}
		return vectors[id], nil
	}
	h, err := hnsw.New(hnsw.Config{
		RootPath:              root,
		ID:                    "mmsearch-bench",
		ClassName:             "Bench",
		ShardName:             "bench",
		Logger:                logger,
		MakeCommitLoggerThunk: hnsw.MakeNoopCommitLogger,
		DistanceProvider:      dist,
		AllocChecker:          memwatch.NewDummyMonitor(),
		VectorForIDThunk:      vectorForID,
		TempVectorForIDThunk: func(ctx context.Context, id uint64, c *common.VectorSlice) ([]float32, error) {
			v, err := vectorForID(ctx, id)
			if err != nil {
				return nil, err
			}
			if cap(c.Slice) < len(v) {
				c.Slice = make([]float32, len(v))
			}
			c.Slice = c.Slice[:len(v)]
			copy(c.Slice, v)
			return c.Slice, nil
		},
		MakeBucketOptions: lsmkv.MakeNoopBucketOptions,
	}, w.uc, cyclemanager.NewCallbackGroupNoop(), store)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("new index: %w", err)
	}
	w.h = h
	return w, nil
}

// build adds every vector, ids 0..n-1, from threads goroutines.
func (w *weaviateIndex) build(ctx context.Context, threads int) error {
	n := len(w.vectors)
	var next atomic.Int64
	errs := make([]error, threads)
	var wg sync.WaitGroup
	for t := range threads {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if i%1024 == 0 && ctx.Err() != nil {
					errs[t] = ctx.Err()
					return
				}
				if err := w.h.Add(ctx, uint64(i), w.vectors[i]); err != nil {
					errs[t] = fmt.Errorf("add vector %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// setEf sets the beam width of the searches that follow. Weaviate reads ef
// from its user config on every search (widened to k when k is larger, as
// hnswlib and mmsearch do); with compression off, updating the config only
// stores the new value.
func (w *weaviateIndex) setEf(ef int) error {
	w.efMu.Lock()
	defer w.efMu.Unlock()
	uc := w.uc
	uc.EF = ef
	if err := w.h.UpdateUserConfig(uc, func() {}); err != nil {
		return fmt.Errorf("set ef %d: %w", ef, err)
	}
	w.uc = uc
	return nil
}

// search returns the ids of the k nearest neighbours of q, nearest first.
func (w *weaviateIndex) search(ctx context.Context, q []float32, k int) ([]uint64, error) {
	ids, _, err := w.h.SearchByVector(ctx, q, k, nil)
	return ids, err
}

// close shuts the index and its store down and removes its folder.
func (w *weaviateIndex) close() error {
	ctx := context.Background()
	var errs []error
	if w.h != nil {
		if err := w.h.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down index: %w", err))
		}
	}
	if err := w.store.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down store: %w", err))
	}
	if err := os.RemoveAll(w.root); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
