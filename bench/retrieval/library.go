package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"mmsearch/encoders"
	"mmsearch/engine"
	"mmsearch/index/hnsw"
	"mmsearch/models"
)

// Progress describes a running benchmark's current stage.
type Progress struct {
	Stage string
	Done  int
	Total int // 0 when the stage has no count
}

// Engine says how a quality benchmark opens the library it runs on.
type Engine struct {
	// Model is a model name or folder ("" = the library's model, or the rest
	// of the resolve chain for a new library).
	Model string
	// Models resolves model names (see engine.Options.Models).
	Models models.Resolver
	// Library is a library folder to index into and keep; "" means a
	// temporary library removed at the end.
	Library string
	// Runtime locates ONNX Runtime.
	Runtime encoders.RuntimeOptions
	// Threads is the number of threads per inference (0 = all cores).
	Threads int
	// Getenv reads the environment (nil = os.Getenv).
	Getenv func(string) string
	// Logger receives the engine's diagnostics (nil = discard).
	Logger *slog.Logger
}

// Open opens e.Library, or a new temporary library when it is empty. The
// returned function closes the library and removes a temporary one.
func (e Engine) Open(ctx context.Context) (*engine.Library, func() error, error) {
	dir, temp := e.Library, false
	if dir == "" {
		d, err := os.MkdirTemp("", "mmsearch-bench-")
		if err != nil {
			return nil, nil, fmt.Errorf("temporary library: %w", err)
		}
		dir, temp = d, true
	}
	lib, err := engine.Open(ctx, dir, engine.Options{
		Model:   e.Model,
		Models:  e.Models,
		Runtime: e.Runtime,
		Threads: e.Threads,
		Index:   hnsw.Config{Seed: 1},
		Getenv:  e.Getenv,
		Logger:  e.Logger,
	})
	if err != nil {
		if temp {
			os.RemoveAll(dir)
		}
		return nil, nil, err
	}
	closeFn := func() error {
		err := lib.Close()
		if temp {
			err = errors.Join(err, os.RemoveAll(dir))
		}
		return err
	}
	return lib, closeFn, nil
}

// Failure is a dataset image the library could not index.
type Failure struct {
	Image  string `json:"image"`
	Reason string `json:"reason"`
}

// Indexed is a dataset's images in a library.
type Indexed struct {
	// IDs holds the library item id of each dataset item (0: failed).
	IDs []int64
	// Vecs holds each dataset item's vector, as stored (nil: failed).
	Vecs [][]float32
	// ByID maps a library item id to its dataset item.
	ByID map[int64]int
	// Exclude holds the library's items that are not in the dataset (a
	// reused library may hold more), to be filtered out of searches; nil
	// when there are none.
	Exclude map[int64]bool
	// Failed lists the images that could not be indexed.
	Failed []Failure
	// Ingest is the engine's report of the indexing run.
	Ingest engine.IngestReport
	// Seconds is the wall time of indexing and reading the vectors back.
	Seconds float64
}

// IndexDataset brings the dataset's images into lib through the engine's
// ingest pipeline (walk, decode, preprocess, image tower, store, HNSW index)
// and reads their ids and vectors back from the store. Images that fail are
// listed in Failed, not returned as an error.
func IndexDataset(ctx context.Context, lib *engine.Library, ds *Dataset, progress func(Progress)) (*Indexed, error) {
	start := time.Now()
	roots := make([]string, len(ds.Items))
	for i := range ds.Items {
		roots[i] = ds.Items[i].Path
	}
	opt := engine.IngestOptions{KeepMissing: true}
	if progress != nil {
		opt.Progress = func(p engine.Progress) {
			progress(Progress{Stage: "embedding images", Done: p.Done, Total: p.Queued})
		}
	}
	rep, err := lib.Ingest(ctx, roots, opt)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", ds.Dir, err)
	}
	out := &Indexed{Ingest: rep, IDs: make([]int64, len(ds.Items)), Vecs: make([][]float32, len(ds.Items)), ByID: map[int64]int{}}
	items, err := lib.Vectors(ctx)
	if err != nil {
		return nil, err
	}
	byPath := make(map[string]int, len(ds.Items))
	for i := range ds.Items {
		byPath[ds.Items[i].Path] = i
	}
	for _, it := range items {
		if i, ok := byPath[it.Path]; ok {
			out.IDs[i] = it.ID
			out.ByID[it.ID] = i
			out.Vecs[i] = it.Vector
		} else {
			if out.Exclude == nil {
				out.Exclude = map[int64]bool{}
			}
			out.Exclude[it.ID] = true
		}
	}
	reasons := map[string]string{}
	if errs, err := lib.Errors(ctx); err == nil {
		for _, fe := range errs {
			reasons[fe.Path] = fmt.Sprintf("%s: %s", fe.Stage, fe.Reason)
		}
	}
	for i := range ds.Items {
		if out.Vecs[i] != nil {
			continue
		}
		r := reasons[ds.Items[i].Path]
		if r == "" {
			r = "not indexed"
		}
		out.Failed = append(out.Failed, Failure{Image: ds.Items[i].Image, Reason: r})
	}
	sort.Slice(out.Failed, func(a, b int) bool { return out.Failed[a].Image < out.Failed[b].Image })
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}
