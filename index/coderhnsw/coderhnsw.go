// Package coderhnsw adapts github.com/coder/hnsw (v0.6.1) to index.Index. It
// exists for comparison in benchmarks, not for use: it is kept faithful to the
// library, whose recall is far below that of package hnsw.
//
// What the adapter adds, and nothing more:
//   - a lock: the library's graph is not safe for concurrent use, so searches
//     share a read lock and changes take the write lock (a search with an ef
//     other than the graph's current one takes the write lock to set it);
//   - filters, which the library lacks: a filtered search asks the library for
//     more neighbours (doubling k, up to every node) and keeps those the
//     filter accepts — a post-filter;
//   - a liveness check on results: the library's Delete can leave links to a
//     deleted node behind (replenishing a neighbour's list may re-add it), so
//     searches can reach and return deleted keys; results whose key is no
//     longer in the graph are dropped, through the same post-filter;
//   - distances in results, recomputed from the stored vectors, because the
//     library returns nodes only;
//   - input checks the library would panic on (wrong dimension), and recovery
//     from the library's own panics, returned as errors;
//   - a file frame (magic, version, dimension, metric, CRC32-C) around the
//     library's Export/Import stream, so damage is detected before Import.
//
// Metrics: Cosine uses the library's CosineDistance (it normalizes both
// vectors itself); L2 uses its EuclideanDistance, squared in results to match
// index.L2. InnerProduct is not offered by the library and is refused.
package coderhnsw

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"sync"

	coder "github.com/coder/hnsw"

	"mmsearch/index"
	"mmsearch/index/internal/format"
	"mmsearch/index/internal/vec"
)

// Config maps to the library's graph parameters. Zero fields take the
// library's defaults (NewGraph): M 16, Ml 0.25, EfSearch 20.
type Config struct {
	M        int          // neighbours per node
	Ml       float64      // level generation factor (the chance of going up a level)
	EfSearch int          // search beam width
	Metric   index.Metric // Cosine or L2
	Seed     int64        // level generator seed
}

// Index wraps a coder/hnsw graph. It is safe for concurrent use.
type Index struct {
	dim    int
	metric index.Metric

	mu sync.RWMutex
	g  *coder.Graph[uint64]
}

var _ index.Index = (*Index)(nil)

// New returns an empty graph for vectors of dimension dim.
func New(dim int, cfg Config) (*Index, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("coderhnsw: %w: dimension %d", index.ErrInvalidInput, dim)
	}
	g := coder.NewGraph[uint64]()
	switch cfg.Metric {
	case index.Cosine:
		g.Distance = coder.CosineDistance
	case index.L2:
		g.Distance = coder.EuclideanDistance
	default:
		return nil, fmt.Errorf("coderhnsw: %w: metric %v is not offered by github.com/coder/hnsw", index.ErrInvalidInput, cfg.Metric)
	}
	if cfg.M < 0 || cfg.EfSearch < 0 || cfg.Ml < 0 || cfg.Ml >= 1 {
		return nil, fmt.Errorf("coderhnsw: %w: M %d, EfSearch %d, Ml %g", index.ErrInvalidInput, cfg.M, cfg.EfSearch, cfg.Ml)
	}
	if cfg.M > 0 {
		g.M = cfg.M
	}
	if cfg.Ml > 0 {
		g.Ml = cfg.Ml
	}
	if cfg.EfSearch > 0 {
		g.EfSearch = cfg.EfSearch
	}
	g.Rng = rand.New(rand.NewSource(cfg.Seed))
	return &Index{dim: dim, metric: cfg.Metric, g: g}, nil
}

// Dim is the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric is the distance the index ranks by.
func (x *Index) Metric() index.Metric { return x.metric }

// Len is the number of vectors in the graph.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.g.Len()
}

// Memory estimates the graph's memory: the library keeps a node struct and a
// map of neighbour pointers per node and layer, and the vectors themselves.
func (x *Index) Memory() index.MemoryStats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := int64(x.g.Len())
	// Per layer-0 node: up to M map entries of key + pointer (16 bytes) at
	// about twice that with map overhead; upper layers add about Ml as much.
	links := n * int64(x.g.M) * 32
	links += int64(float64(links) * x.g.Ml / (1 - x.g.Ml))
	return index.MemoryStats{
		Vectors: n * int64(x.dim) * 4,
		Links:   links,
		Other:   n * 96, // layerNode structs and the layers' node maps
	}
}

// guard turns a panic inside the library into an error.
func guard(op string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("coderhnsw: %s: github.com/coder/hnsw panicked: %v", op, r)
	}
}

// Add inserts v under id; the library replaces an existing id.
func (x *Index) Add(id uint64, v []float32) (err error) {
	if err := vec.Check(v, x.dim); err != nil {
		return fmt.Errorf("coderhnsw: add %d: %w", id, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	defer guard("add", &err)
	// The library keeps the slice it is given; give it its own copy.
	x.g.Add(coder.MakeNode(id, append([]float32(nil), v...)))
	return nil
}

// AddBatch inserts the vectors one by one (the library has no parallel
// insert), checking ctx between them.
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("coderhnsw: add batch: %w: %d ids for %d vectors", index.ErrInvalidInput, len(ids), len(vecs))
	}
	for i, v := range vecs {
		if err := vec.Check(v, x.dim); err != nil {
			return fmt.Errorf("coderhnsw: add batch: vector %d (id %d): %w", i, ids[i], err)
		}
	}
	for i := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.Add(ids[i], vecs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes id with the library's Delete.
func (x *Index) Delete(id uint64) (err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	defer guard("delete", &err)
	if !x.g.Delete(id) {
		return fmt.Errorf("coderhnsw: delete %d: %w", id, index.ErrNotFound)
	}
	return nil
}

// Search asks the library for the k nearest nodes. opts.Ef sets the graph's
// EfSearch for the call. With a filter, k is doubled until k accepted nodes
// come back or the whole graph was asked for (post-filtering).
func (x *Index) Search(query []float32, k int, opts index.SearchOptions) (_ []index.Result, err error) {
	if err := vec.Check(query, x.dim); err != nil {
		return nil, fmt.Errorf("coderhnsw: search: %w", err)
	}
	if k < 0 {
		return nil, fmt.Errorf("coderhnsw: search: %w: k = %d", index.ErrInvalidInput, k)
	}
	if k == 0 {
		return []index.Result{}, nil
	}
	if opts.Ef > 0 {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.g.EfSearch = opts.Ef
	} else {
		x.mu.RLock()
		defer x.mu.RUnlock()
	}
	defer guard("search", &err)
	n := x.g.Len()
	if n == 0 {
		return []index.Result{}, nil
	}
	ask := k
	for {
		nodes := x.g.Search(query, min(ask, n))
		out := make([]index.Result, 0, k)
		dropped := false
		for _, nd := range nodes {
			if _, live := x.g.Lookup(nd.Key); !live || (opts.Filter != nil && !opts.Filter(nd.Key)) {
				dropped = true
				continue
			}
			out = append(out, index.Result{ID: nd.Key, Distance: x.distance(query, nd.Value)})
			if len(out) == k {
				break
			}
		}
		if len(out) == k || !dropped || ask >= n {
			sortResults(out)
			return out, nil
		}
		ask *= 2
	}
}

func (x *Index) distance(q, v []float32) float32 {
	if x.metric == index.L2 {
		return vec.L2Sq(q, v)
	}
	// Report what the library ranks by.
	return coder.CosineDistance(q, v)
}

func sortResults(r []index.Result) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Distance < r[j-1].Distance; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

// File frame: magic "MMSCODER", version, HEAD (dim u32, metric u8), GRPH (the
// library's Export stream).
const (
	magic   = "MMSCODER"
	version = 1
	headLen = 5
)

var (
	tagHead  = format.MakeTag("HEAD")
	tagGraph = format.MakeTag("GRPH")
)

// maxGraphBytes bounds the Export stream a file may claim.
const maxGraphBytes = 1 << 40

// Save writes the graph with the library's Export inside a checksummed frame.
func (x *Index) Save(w io.Writer) (err error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	defer guard("save", &err)
	var body bytes.Buffer
	if err := x.g.Export(&body); err != nil {
		return fmt.Errorf("coderhnsw: save: %w", err)
	}
	fw := format.NewWriter(w, magic, version)
	fw.Begin(tagHead, headLen)
	fw.U32(uint32(x.dim))
	fw.U8(uint8(x.metric))
	fw.End()
	fw.Begin(tagGraph, uint64(body.Len()))
	fw.Bytes(body.Bytes())
	fw.End()
	if err := fw.Err(); err != nil {
		return fmt.Errorf("coderhnsw: save: %w", err)
	}
	return nil
}

// SaveFile writes the index to path atomically.
func (x *Index) SaveFile(path string) error { return index.SaveFile(path, x) }

// Load reads a graph written by Save, checking the frame before handing the
// stream to the library's Import.
func Load(r io.Reader) (_ *Index, err error) {
	fr, _, err := format.NewReader(r, magic, version, version)
	if err != nil {
		return nil, fmt.Errorf("coderhnsw: load: %w", err)
	}
	fr.BeginExact(tagHead, headLen)
	dim := fr.U32()
	metric := index.Metric(fr.U8())
	if err := fr.End(); err != nil {
		return nil, fmt.Errorf("coderhnsw: load: %w", err)
	}
	if dim == 0 || dim > 1<<16 || (metric != index.Cosine && metric != index.L2) {
		return nil, fmt.Errorf("coderhnsw: load: %w", format.Corruptf("dimension %d, metric %d", dim, metric))
	}
	n := fr.Begin(tagGraph, maxGraphBytes)
	var body bytes.Buffer
	// Copy in pieces so a length larger than the file fails before much is allocated.
	for left := n; left > 0 && fr.Err() == nil; {
		piece := make([]byte, min(left, 1<<20))
		fr.Bytes(piece)
		body.Write(piece)
		left -= uint64(len(piece))
	}
	if err := fr.End(); err != nil {
		return nil, fmt.Errorf("coderhnsw: load: %w", err)
	}
	x, err := New(int(dim), Config{Metric: metric})
	if err != nil {
		return nil, fmt.Errorf("coderhnsw: load: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("coderhnsw: load: %w", format.Corruptf("github.com/coder/hnsw Import panicked: %v", r))
		}
	}()
	if err := x.g.Import(bufio.NewReader(&body)); err != nil {
		return nil, fmt.Errorf("coderhnsw: load: %w", format.Corruptf("import: %v", err))
	}
	if x.g.Len() > 0 && x.g.Dims() != int(dim) {
		return nil, fmt.Errorf("coderhnsw: load: %w", format.Corruptf("graph dimension %d, header says %d", x.g.Dims(), dim))
	}
	return x, nil
}
