// Package flat is the exact nearest-neighbour index: every search compares the
// query with every vector, split among all cores. It is the ground truth the
// approximate indexes are measured against, and a fine choice for a few
// thousand vectors.
package flat

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"

	"mmsearch/index"
	"mmsearch/index/internal/format"
	"mmsearch/index/internal/pq"
	"mmsearch/index/internal/vec"
)

// Index is an exact index. It is safe for concurrent use.
type Index struct {
	dim    int
	metric index.Metric

	mu     sync.RWMutex
	data   []float32         // len(labels)*dim, row i belongs to labels[i]
	labels []uint64          // caller ids by row
	pos    map[uint64]uint32 // caller id → row
}

var _ index.Index = (*Index)(nil)

// maxRows bounds the number of vectors so that rows fit a uint32.
const maxRows = math.MaxUint32

// maxDim bounds the dimension accepted by New and Load.
const maxDim = 1 << 16

// New returns an empty exact index for vectors of dimension dim.
func New(dim int, metric index.Metric) (*Index, error) {
	if dim <= 0 || dim > maxDim {
		return nil, fmt.Errorf("flat: %w: dimension %d outside 1..%d", index.ErrInvalidInput, dim, maxDim)
	}
	if metric > index.L2 {
		return nil, fmt.Errorf("flat: %w: unknown metric %v", index.ErrInvalidInput, metric)
	}
	return &Index{dim: dim, metric: metric, pos: make(map[uint64]uint32)}, nil
}

// Dim is the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric is the distance the index ranks by.
func (x *Index) Metric() index.Metric { return x.metric }

// Len is the number of vectors held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.labels)
}

// Memory reports the bytes held by vectors, labels and the id map.
func (x *Index) Memory() index.MemoryStats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return index.MemoryStats{
		Vectors: int64(cap(x.data)) * 4,
		// A map entry costs its key and value plus about as much again in
		// control bytes, slack and groups.
		Other: int64(cap(x.labels))*8 + int64(len(x.pos))*24,
	}
}

// Add inserts vec under id, replacing the vector id had.
func (x *Index) Add(id uint64, v []float32) error {
	if err := vec.Check(v, x.dim); err != nil {
		return fmt.Errorf("flat: add %d: %w", id, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.addLocked(id, v)
}

func (x *Index) addLocked(id uint64, v []float32) error {
	if row, ok := x.pos[id]; ok {
		copy(x.data[int(row)*x.dim:], v)
		return nil
	}
	if len(x.labels) >= maxRows {
		return fmt.Errorf("flat: add %d: %w: index holds its maximum of %d vectors", id, index.ErrInvalidInput, maxRows)
	}
	x.pos[id] = uint32(len(x.labels))
	x.labels = append(x.labels, id)
	x.data = append(x.data, v...)
	return nil
}

// batchStep is how many vectors AddBatch inserts per lock hold, so that
// searches interleave with a long batch and cancellation is noticed.
const batchStep = 1024

// AddBatch inserts vecs under ids. Every vector is checked before any is
// inserted. Copying is memory-bound, so it runs on one goroutine.
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("flat: add batch: %w: %d ids for %d vectors", index.ErrInvalidInput, len(ids), len(vecs))
	}
	for i, v := range vecs {
		if err := vec.Check(v, x.dim); err != nil {
			return fmt.Errorf("flat: add batch: vector %d (id %d): %w", i, ids[i], err)
		}
	}
	for start := 0; start < len(ids); start += batchStep {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+batchStep, len(ids))
		x.mu.Lock()
		if need := len(x.data) + (len(ids)-start)*x.dim; start == 0 && cap(x.data) < need {
			grown := make([]float32, len(x.data), need)
			copy(grown, x.data)
			x.data = grown
		}
		for i := start; i < end; i++ {
			if err := x.addLocked(ids[i], vecs[i]); err != nil {
				x.mu.Unlock()
				return err
			}
		}
		x.mu.Unlock()
	}
	return nil
}

// Delete removes id, moving the last row into its place.
func (x *Index) Delete(id uint64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	row, ok := x.pos[id]
	if !ok {
		return fmt.Errorf("flat: delete %d: %w", id, index.ErrNotFound)
	}
	last := uint32(len(x.labels) - 1)
	if row != last {
		moved := x.labels[last]
		x.labels[row] = moved
		x.pos[moved] = row
		copy(x.data[int(row)*x.dim:int(row+1)*x.dim], x.data[int(last)*x.dim:])
	}
	delete(x.pos, id)
	x.labels = x.labels[:last]
	x.data = x.data[:int(last)*x.dim]
	return nil
}

// parallelMin is the number of vector elements below which a search runs on
// the calling goroutine alone.
const parallelMin = 1 << 16

// Search returns the k nearest vectors to query, nearest first, exactly.
// opts.Ef is ignored; opts.Filter is applied to every vector.
func (x *Index) Search(query []float32, k int, opts index.SearchOptions) ([]index.Result, error) {
	if err := vec.Check(query, x.dim); err != nil {
		return nil, fmt.Errorf("flat: search: %w", err)
	}
	if k < 0 {
		return nil, fmt.Errorf("flat: search: %w: k = %d", index.ErrInvalidInput, k)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.labels)
	if k == 0 || n == 0 {
		return []index.Result{}, nil
	}
	parts := runtime.GOMAXPROCS(0)
	if n*x.dim < parallelMin || parts == 1 {
		parts = 1
	}
	parts = min(parts, n)
	heaps := make([]pq.MaxHeap, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		if parts == 1 {
			x.scan(query, k, opts.Filter, lo, hi, &heaps[p])
			break
		}
		wg.Go(func() { x.scan(query, k, opts.Filter, lo, hi, &heaps[p]) })
	}
	wg.Wait()
	merged := &heaps[0]
	for p := 1; p < parts; p++ {
		for _, it := range heaps[p].Items() {
			merged.PushBounded(it, k)
		}
	}
	items := merged.DrainSorted(make([]pq.Item, 0, merged.Len()))
	out := make([]index.Result, len(items))
	for i, it := range items {
		out[i] = index.Result{ID: x.labels[it.ID], Distance: it.Dist}
	}
	return out, nil
}

// scan keeps in h the k nearest rows of [lo, hi) that pass filter.
func (x *Index) scan(q []float32, k int, filter index.Filter, lo, hi int, h *pq.MaxHeap) {
	dim := x.dim
	for row := lo; row < hi; row++ {
		if filter != nil && !filter(x.labels[row]) {
			continue
		}
		d := vec.Distance(x.metric, q, x.data[row*dim:(row+1)*dim:(row+1)*dim])
		h.PushBounded(pq.Item{Dist: d, ID: uint32(row)}, k)
	}
}

// File format: magic, version, then sections HEAD (dim u32, metric u8,
// count u64), VECS (count*dim float32), LABL (count uint64).
const (
	magic   = "MMSFLAT\x00"
	version = 1
)

var (
	tagHead   = format.MakeTag("HEAD")
	tagVecs   = format.MakeTag("VECS")
	tagLabels = format.MakeTag("LABL")
)

const headLen = 4 + 1 + 8

// Save writes the index in its versioned binary format.
func (x *Index) Save(w io.Writer) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := uint64(len(x.labels))
	fw := format.NewWriter(w, magic, version)
	fw.Begin(tagHead, headLen)
	fw.U32(uint32(x.dim))
	fw.U8(uint8(x.metric))
	fw.U64(n)
	fw.End()
	fw.Begin(tagVecs, n*uint64(x.dim)*4)
	fw.Float32s(x.data)
	fw.End()
	fw.Begin(tagLabels, n*8)
	fw.Uint64s(x.labels)
	fw.End()
	if err := fw.Err(); err != nil {
		return fmt.Errorf("flat: save: %w", err)
	}
	return nil
}

// SaveFile writes the index to path atomically.
func (x *Index) SaveFile(path string) error { return index.SaveFile(path, x) }

// Load reads an index written by Save. A damaged file yields an error wrapping
// index.ErrCorrupt, a file of another format version one wrapping
// index.ErrVersion.
func Load(r io.Reader) (*Index, error) {
	x, err := load(r)
	if err != nil {
		return nil, fmt.Errorf("flat: load: %w", err)
	}
	return x, nil
}

// LoadFile reads the index stored at path.
func LoadFile(path string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flat: load: %w", err)
	}
	defer f.Close()
	x, err := Load(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// loadChunkRows bounds how many rows are allocated ahead of the bytes that fill
// them, so a file claiming more rows than it holds fails before using much memory.
const loadChunkRows = 1 << 14

func load(r io.Reader) (*Index, error) {
	fr, _, err := format.NewReader(r, magic, version, version)
	if err != nil {
		return nil, err
	}
	fr.BeginExact(tagHead, headLen)
	dim := fr.U32()
	metric := index.Metric(fr.U8())
	n := fr.U64()
	if err := fr.End(); err != nil {
		return nil, err
	}
	if dim == 0 || dim > maxDim {
		return nil, format.Corruptf("dimension %d outside 1..%d", dim, maxDim)
	}
	if metric > index.L2 {
		return nil, format.Corruptf("unknown metric %d", metric)
	}
	if n > maxRows {
		return nil, format.Corruptf("%d vectors exceed the maximum %d", n, uint64(maxRows))
	}
	x, err := New(int(dim), metric)
	if err != nil {
		return nil, format.Corruptf("%v", err)
	}
	fr.BeginExact(tagVecs, n*uint64(dim)*4)
	for done := uint64(0); done < n && fr.Err() == nil; {
		rows := min(n-done, loadChunkRows)
		start := len(x.data)
		x.data = append(x.data, make([]float32, rows*uint64(dim))...)
		fr.Float32s(x.data[start:])
		done += rows
	}
	if err := fr.End(); err != nil {
		return nil, err
	}
	fr.BeginExact(tagLabels, n*8)
	for done := uint64(0); done < n && fr.Err() == nil; {
		rows := min(n-done, loadChunkRows)
		start := len(x.labels)
		x.labels = append(x.labels, make([]uint64, rows)...)
		fr.Uint64s(x.labels[start:])
		done += rows
	}
	if err := fr.End(); err != nil {
		return nil, err
	}
	if !vec.Finite(x.data) {
		return nil, format.Corruptf("vectors hold NaN or infinity")
	}
	x.pos = make(map[uint64]uint32, n)
	for row, id := range x.labels {
		if _, dup := x.pos[id]; dup {
			return nil, format.Corruptf("id %d appears twice", id)
		}
		x.pos[id] = uint32(row)
	}
	return x, nil
}
