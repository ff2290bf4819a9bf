// Package hnsw is mmsearch's approximate nearest-neighbour index: a
// Hierarchical Navigable Small World graph after Malkov & Yashunin (2018),
// "Efficient and robust approximate nearest neighbor search using Hierarchical
// Navigable Small World graphs".
//
// Each vector gets a random level drawn as floor(-ln(U)·mL) with mL = 1/ln(M).
// Layer 0 holds every vector with up to M0 = 2M links, higher layers hold fewer
// vectors with up to M links. A search descends greedily from the single
// top-level entry point, then runs a beam search of width ef on layer 0. New
// links and overfull link lists are chosen with the paper's neighbour-selection
// heuristic (Algorithm 4, without keeping pruned connections).
//
// Layout: vectors and layer-0 link blocks (a count and M0 slots) live in
// chunks of 4096 nodes, so growing never copies existing data and a node's
// vector is one table step away. Upper-layer links are small per-node slices.
// Searches keep their visited marks in generation-tagged arrays reused through
// a pool, and their candidates in heaps specialised for (distance, id) pairs.
//
// Concurrency: searches run while vectors are added and deleted. Link lists
// are written under per-node locks and read with atomic loads, so a search
// sees either the old or the new id in every slot, never a torn one. A
// read-write lock is taken exclusively only to add a chunk, to compact and to
// save.
//
// Deletion marks a tombstone: the node keeps routing searches but is never
// returned. Compact removes tombstoned nodes, repairs the links around them and
// renumbers the rest.
package hnsw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"mmsearch/index"
	"mmsearch/index/internal/mem"
	"mmsearch/index/internal/pq"
	"mmsearch/index/internal/vec"
)

// Config holds the graph's parameters. Zero fields take the defaults noted.
type Config struct {
	// M is the number of links a node keeps on layers above 0 (default 16);
	// layer 0 keeps 2M.
	M int
	// EfConstruction is the beam width used while inserting (default 200).
	EfConstruction int
	// EfSearch is the default beam width of searches (default 64);
	// index.SearchOptions.Ef overrides it per search.
	EfSearch int
	// Metric is the distance ranked by (default index.Cosine).
	Metric index.Metric
	// Seed seeds the level generator; inserting the same vectors in the same
	// order with one worker builds the same graph.
	Seed int64
	// Workers is the number of goroutines AddBatch and Compact use
	// (default GOMAXPROCS).
	Workers int
}

// Defaults.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	DefaultEfSearch       = 64
)

const (
	chunkShift = 12
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1

	// maxNodes bounds the node slots; ids are uint32 with one value reserved.
	maxNodes = 1 << 31
	// maxLevel caps the drawn levels (the chance of reaching it is M^-maxLevel).
	maxLevel = 24
	// maxM bounds M so that link counts and blocks stay small.
	maxM = 1 << 10
	// maxDim bounds the vector dimension.
	maxDim = 1 << 16
	// maxEf bounds beam widths.
	maxEf = 1 << 20

	noNode = math.MaxUint32
)

// emptyEntry marks an index without an entry point.
const emptyEntry = math.MaxUint64

func packEntry(id uint32, level int) uint64 { return uint64(level)<<32 | uint64(id) }

func unpackEntry(e uint64) (uint32, int) { return uint32(e), int(e >> 32) }

// nodeChunk holds the per-node metadata of one chunk.
type nodeChunk struct {
	labels [chunkSize]uint64
	levels [chunkSize]uint8
	// upper[i] holds node i's links on layers 1..level, each a block of a
	// count and M slots.
	upper [chunkSize][]uint32
	// dead is the tombstone bitset, read and written atomically.
	dead  [chunkSize / 32]uint32
	locks [chunkSize]sync.Mutex
}

// Index is an HNSW graph index. It is safe for concurrent use.
type Index struct {
	dim     int
	metric  index.Metric
	m, m0   int
	efC     int
	mL      float64
	seed    int64
	workers atomic.Int64
	efS     atomic.Int64
	dot     vec.Kernel
	l2      vec.Kernel

	// mu guards the chunk tables. Searches and inserts hold it shared; adding
	// a chunk, Compact, Save hold it exclusively.
	mu    sync.RWMutex
	vecs  [][]float32 // per chunk: chunkSize*dim
	links [][]uint32  // per chunk: chunkSize*(m0+1), layer-0 blocks
	nodes []*nodeChunk

	// entry is the entry point and its level (packEntry), or emptyEntry.
	entry atomic.Uint64
	// epMu serialises inserts that raise the top level.
	epMu sync.Mutex

	// labelMu guards labels, count and rng. It is taken inside mu.
	labelMu sync.Mutex
	labels  map[uint64]uint32 // caller id → node, live nodes only; nil in a mapped index until first used (labelMapLocked)
	count   int               // node slots in use
	rng     *rand.Rand

	live atomic.Int64 // live nodes
	dead atomic.Int64 // tombstoned nodes
	// upperWords counts the uint32s of all upper-layer link lists.
	upperWords atomic.Int64

	scratch sync.Pool // *scratch

	// A mapped index (see Map): mapping holds its bytes; lazy, while set,
	// lists the nodes checked so far (searches check the others as they
	// reach them); pending is true until the first change made the index
	// its own. lazy and closed change under mu held exclusively.
	mapping index.Mapping
	lazy    *lazyCheck
	pending atomic.Bool
	closed  bool
}

var _ index.Index = (*Index)(nil)

func (c *Config) fill() error {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	if c.EfSearch == 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.Workers == 0 {
		c.Workers = c.defaultWorkers()
	}
	switch {
	case c.M < 2 || c.M > maxM:
		return fmt.Errorf("%w: M = %d outside 2..%d", index.ErrInvalidInput, c.M, maxM)
	case c.EfConstruction < 1 || c.EfConstruction > maxEf:
		return fmt.Errorf("%w: EfConstruction = %d outside 1..%d", index.ErrInvalidInput, c.EfConstruction, maxEf)
	case c.EfSearch < 1 || c.EfSearch > maxEf:
		return fmt.Errorf("%w: EfSearch = %d outside 1..%d", index.ErrInvalidInput, c.EfSearch, maxEf)
	case c.Metric > index.L2:
		return fmt.Errorf("%w: unknown metric %v", index.ErrInvalidInput, c.Metric)
	case c.Workers < 0:
		return fmt.Errorf("%w: Workers = %d", index.ErrInvalidInput, c.Workers)
	}
	return nil
}

func (c *Config) defaultWorkers() int { return runtime.GOMAXPROCS(0) }

// New returns an empty index for vectors of dimension dim.
func New(dim int, cfg Config) (*Index, error) {
	if dim <= 0 || dim > maxDim {
		return nil, fmt.Errorf("hnsw: %w: dimension %d outside 1..%d", index.ErrInvalidInput, dim, maxDim)
	}
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("hnsw: %w", err)
	}
	x := newIndex(dim, cfg.Metric, cfg.M, 2*cfg.M, cfg.EfConstruction, 1/math.Log(float64(cfg.M)), cfg.Seed, cfg.Workers)
	x.efS.Store(int64(cfg.EfSearch))
	return x, nil
}

func newIndex(dim int, metric index.Metric, m, m0, efC int, mL float64, seed int64, workers int) *Index {
	x := &Index{
		dim: dim, metric: metric, m: m, m0: m0, efC: efC, mL: mL, seed: seed,
		labels: make(map[uint64]uint32),
		dot:    vec.DotKernel(),
		l2:     vec.L2SqKernel(),
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x6d6d736561726368)),
	}
	x.entry.Store(emptyEntry)
	x.workers.Store(int64(workers))
	x.scratch.New = func() any { return new(scratch) }
	return x
}

// Config returns the index's parameters.
func (x *Index) Config() Config {
	return Config{M: x.m, EfConstruction: x.efC, EfSearch: int(x.efS.Load()), Metric: x.metric, Seed: x.seed, Workers: int(x.workers.Load())}
}

// SetEfSearch changes the default beam width of searches.
func (x *Index) SetEfSearch(ef int) error {
	if ef < 1 || ef > maxEf {
		return fmt.Errorf("hnsw: %w: ef = %d outside 1..%d", index.ErrInvalidInput, ef, maxEf)
	}
	x.efS.Store(int64(ef))
	return nil
}

// SetWorkers sets the number of goroutines AddBatch and Compact use; 0 means
// GOMAXPROCS. A loaded index starts with GOMAXPROCS.
func (x *Index) SetWorkers(n int) error {
	if n < 0 {
		return fmt.Errorf("hnsw: %w: workers = %d", index.ErrInvalidInput, n)
	}
	if n == 0 {
		n = (&Config{}).defaultWorkers()
	}
	x.workers.Store(int64(n))
	return nil
}

// Dim is the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric is the distance the index ranks by.
func (x *Index) Metric() index.Metric { return x.metric }

// Len is the number of live vectors.
func (x *Index) Len() int { return int(x.live.Load()) }

// Deleted is the number of tombstoned nodes that Compact would remove.
func (x *Index) Deleted() int { return int(x.dead.Load()) }

// Memory reports the bytes the index holds.
func (x *Index) Memory() index.MemoryStats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var s index.MemoryStats
	for c := range x.vecs {
		s.Vectors += int64(len(x.vecs[c])) * 4
		s.Links += int64(len(x.links[c])) * 4
	}
	s.Links += x.upperWords.Load() * 4
	// A map entry costs its key and value plus about as much again in control
	// bytes, slack and groups.
	s.Other = int64(len(x.nodes))*int64(unsafe.Sizeof(nodeChunk{})) + x.live.Load()*24
	return s
}

// capacity is the number of node slots in the allocated chunks. Callers hold mu.
func (x *Index) capacity() int { return len(x.vecs) * chunkSize }

// vector returns node id's vector. Callers hold mu.
func (x *Index) vector(id uint32) []float32 {
	o := int(id&chunkMask) * x.dim
	return x.vecs[id>>chunkShift][o : o+x.dim : o+x.dim]
}

// block returns node id's link block on layer: a count followed by the slots.
// Callers hold mu; the contents are read and written atomically.
func (x *Index) block(id uint32, layer int) []uint32 {
	if layer == 0 {
		w := x.m0 + 1
		o := int(id&chunkMask) * w
		return x.links[id>>chunkShift][o : o+w : o+w]
	}
	w := x.m + 1
	u := x.nodes[id>>chunkShift].upper[id&chunkMask]
	return u[(layer-1)*w : layer*w : layer*w]
}

func (x *Index) level(id uint32) int { return int(x.nodes[id>>chunkShift].levels[id&chunkMask]) }

func (x *Index) label(id uint32) uint64 { return x.nodes[id>>chunkShift].labels[id&chunkMask] }

func (x *Index) lock(id uint32) *sync.Mutex { return &x.nodes[id>>chunkShift].locks[id&chunkMask] }

func (x *Index) isDead(id uint32) bool {
	w := atomic.LoadUint32(&x.nodes[id>>chunkShift].dead[(id&chunkMask)>>5])
	return w&(1<<(id&31)) != 0
}

func (x *Index) setDead(id uint32) {
	atomic.OrUint32(&x.nodes[id>>chunkShift].dead[(id&chunkMask)>>5], 1<<(id&31))
}

// maxLinks is the capacity of a link list on layer.
func (x *Index) maxLinks(layer int) int {
	if layer == 0 {
		return x.m0
	}
	return x.m
}

// dist is the distance from q to node id under the index's metric.
func (x *Index) dist(q []float32, id uint32) float32 {
	return x.distVecs(q, x.vector(id))
}

// distVecs is the distance between two vectors under the index's metric,
// through the kernels picked at construction (one call fewer than
// vec.Distance, which counts at hundreds of millions of calls per build).
func (x *Index) distVecs(a, b []float32) float32 {
	switch x.metric {
	case index.Cosine:
		return 1 - x.dot(a, b)
	case index.InnerProduct:
		return -x.dot(a, b)
	}
	return x.l2(a, b)
}

func (x *Index) distNodes(a, b uint32) float32 {
	return x.distVecs(x.vector(a), x.vector(b))
}

// grow adds chunks until at least n node slots exist. Callers hold no lock.
func (x *Index) grow(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.growLocked(n)
}

// growLocked is grow for callers holding mu exclusively.
func (x *Index) growLocked(n int) {
	for x.capacity() < n {
		v := make([]float32, chunkSize*x.dim)
		// Vectors are read at random; huge pages spare most TLB misses
		// (searches at 30k × 512 ran about 1.5× faster with them).
		mem.AdviseHuge(v)
		x.vecs = append(x.vecs, v)
		x.links = append(x.links, make([]uint32, chunkSize*(x.m0+1)))
		x.nodes = append(x.nodes, new(nodeChunk))
	}
}

// randomLevel draws a level. Callers hold labelMu.
func (x *Index) randomLevel() int {
	u := 1 - x.rng.Float64() // (0, 1]
	l := int(-math.Log(u) * x.mL)
	return min(l, maxLevel)
}

// Add inserts v under id. Adding an id that is present replaces its vector:
// the old node is tombstoned and a new one linked.
func (x *Index) Add(id uint64, v []float32) error {
	if err := vec.Check(v, x.dim); err != nil {
		return fmt.Errorf("hnsw: add %d: %w", id, err)
	}
	if err := x.own(); err != nil {
		return fmt.Errorf("hnsw: add %d: %w", id, err)
	}
	s := x.getScratch()
	defer x.putScratch(s)
	if err := x.insert(id, v, s); err != nil {
		return fmt.Errorf("hnsw: add %d: %w", id, err)
	}
	return nil
}

// AddBatch inserts vecs under ids on Workers goroutines. Every vector is
// checked before any is inserted. When ctx is done it stops and returns
// ctx.Err(); the vectors inserted by then stay.
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("hnsw: add batch: %w: %d ids for %d vectors", index.ErrInvalidInput, len(ids), len(vecs))
	}
	for i, v := range vecs {
		if err := vec.Check(v, x.dim); err != nil {
			return fmt.Errorf("hnsw: add batch: vector %d (id %d): %w", i, ids[i], err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.own(); err != nil {
		return fmt.Errorf("hnsw: add batch: %w", err)
	}
	x.labelMu.Lock()
	want := x.count + len(ids)
	x.labelMu.Unlock()
	if want > maxNodes {
		return fmt.Errorf("hnsw: add batch: %w: index would exceed %d nodes", index.ErrInvalidInput, maxNodes)
	}
	x.grow(want)

	workers := max(1, min(int(x.workers.Load()), len(ids)))
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			s := x.getScratch()
			defer x.putScratch(s)
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				if err := x.insert(ids[i], vecs[i], s); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("hnsw: add batch: id %d: %w", ids[i], err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// Delete tombstones the node labelled id: it stays in the graph for routing
// but is never returned. Compact reclaims it.
func (x *Index) Delete(id uint64) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return fmt.Errorf("hnsw: delete %d: %w", id, index.ErrClosed)
	}
	x.labelMu.Lock()
	defer x.labelMu.Unlock()
	labels, err := x.labelMapLocked()
	if err != nil {
		return fmt.Errorf("hnsw: delete %d: %w", id, err)
	}
	node, ok := labels[id]
	if !ok {
		return fmt.Errorf("hnsw: delete %d: %w", id, index.ErrNotFound)
	}
	delete(x.labels, id)
	x.setDead(node)
	x.live.Add(-1)
	x.dead.Add(1)
	return nil
}

// Contains reports whether id is present and not deleted (false too when
// a mapped index finds its labels damaged).
func (x *Index) Contains(id uint64) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.labelMu.Lock()
	defer x.labelMu.Unlock()
	labels, err := x.labelMapLocked()
	if err != nil {
		return false
	}
	_, ok := labels[id]
	return ok
}

// Vector returns a copy of the vector stored under id.
func (x *Index) Vector(id uint64) ([]float32, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, fmt.Errorf("hnsw: vector %d: %w", id, index.ErrClosed)
	}
	x.labelMu.Lock()
	labels, err := x.labelMapLocked()
	node, ok := labels[id]
	x.labelMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("hnsw: vector %d: %w", id, err)
	}
	if !ok {
		return nil, fmt.Errorf("hnsw: vector %d: %w", id, index.ErrNotFound)
	}
	if x.lazy != nil {
		if err := x.checkNode(node); err != nil {
			return nil, fmt.Errorf("hnsw: vector %d: %w", id, err)
		}
	}
	return append([]float32(nil), x.vector(node)...), nil
}

// getScratch returns per-goroutine search state from the pool.
func (x *Index) getScratch() *scratch { return x.scratch.Get().(*scratch) }

func (x *Index) putScratch(s *scratch) { x.scratch.Put(s) }

// drainResults empties s.top into results, nearest first, with labels.
func (x *Index) drainResults(s *scratch) []index.Result {
	s.items = s.top.DrainSorted(s.items[:0])
	out := make([]index.Result, len(s.items))
	for i, it := range s.items {
		out[i] = index.Result{ID: x.label(it.ID), Distance: it.Dist}
	}
	return out
}

// scratch is the reusable state of one search or insert.
type scratch struct {
	marks []uint16 // visited marks, tagged with gen
	gen   uint16
	cand  pq.MinHeap
	top   pq.MaxHeap
	items []pq.Item
	sel   []pq.Item
	sel2  []pq.Item
	pair  []pq.Item
	batch []uint32 // unvisited neighbours of the node being expanded
	sink  uint32   // keeps the touch loads of searchLayer alive
	err   error    // damage searchLayer met in a mapped index
}

// resetVisited prepares the visited marks for a new search over n slots.
func (s *scratch) resetVisited(n int) {
	if len(s.marks) < n {
		s.marks = make([]uint16, n)
		s.gen = 0
	}
	s.gen++
	if s.gen == 0 {
		clear(s.marks)
		s.gen = 1
	}
}
