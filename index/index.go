// Package index defines the approximate-nearest-neighbour index used by mmsearch
// and what its implementations share: metrics, results, options, statistics and
// the atomic file writer used for persistence.
//
// Implementations live in sub-packages: hnsw (ours, the default), flat (exact
// search, the ground truth) and coderhnsw (an adapter over github.com/coder/hnsw,
// kept for comparison). Each offers a Backend; the package indextest holds the
// conformance suite every backend passes.
package index

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Metric is the distance an index ranks by. Smaller distances are nearer.
type Metric uint8

const (
	// Cosine ranks by 1 - dot(a, b). Vectors are expected to be L2-normalized
	// (mmsearch's encoders emit unit vectors); the index does not normalize.
	Cosine Metric = iota
	// InnerProduct ranks by -dot(a, b), for vectors that are not normalized.
	InnerProduct
	// L2 ranks by the squared Euclidean distance.
	L2
)

// String returns the metric's name as used in flags and files.
func (m Metric) String() string {
	switch m {
	case Cosine:
		return "cosine"
	case InnerProduct:
		return "ip"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// ParseMetric parses a metric name: "cosine", "ip" or "l2".
func ParseMetric(s string) (Metric, error) {
	switch s {
	case "cosine", "cos":
		return Cosine, nil
	case "ip", "dot", "inner-product":
		return InnerProduct, nil
	case "l2", "euclidean":
		return L2, nil
	}
	return 0, fmt.Errorf("unknown metric %q (want cosine, ip or l2)", s)
}

// Result is one neighbour found by a search.
type Result struct {
	ID       uint64  // the caller's label for the vector
	Distance float32 // by the index's metric; smaller is nearer
}

// Filter reports whether the vector labelled id may be returned. It is evaluated
// during the search, so a selective filter still yields k results when k exist.
// It must be safe to call from several goroutines.
type Filter func(id uint64) bool

// SearchOptions tunes one search. The zero value asks for the index's defaults.
type SearchOptions struct {
	// Ef is the size of the dynamic candidate list (HNSW's efSearch). Values
	// below k are raised to k. Ignored by exact indexes.
	Ef int
	// Filter, when set, restricts the results to ids it accepts.
	Filter Filter
}

// IDSearcher is implemented by indexes that can rank a given set of ids
// exactly without copying their vectors out. Callers use SearchIDs, which
// falls back to Vector for indexes without it.
type IDSearcher interface {
	// SearchIDs returns up to k of ids nearest to query, nearest first,
	// comparing query with each of them (an exact scan of the set). Ids the
	// index does not hold are skipped.
	SearchIDs(query []float32, k int, ids []uint64) ([]Result, error)
}

// SearchIDs returns up to k of ids nearest to query, nearest first: the
// exact scan a search switches to when a filter leaves too few candidates
// for a graph walk to find them cheaply. It uses x's own SearchIDs when x is
// an IDSearcher; otherwise it runs x's search with a filter accepting just
// ids and a beam as wide as the set (exact for exact indexes).
func SearchIDs(x Index, query []float32, k int, ids []uint64) ([]Result, error) {
	if s, ok := x.(IDSearcher); ok {
		return s.SearchIDs(query, k, ids)
	}
	set := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	in := func(id uint64) bool { _, ok := set[id]; return ok }
	return x.Search(query, k, SearchOptions{Ef: max(k, len(ids)), Filter: in})
}

// MemoryStats describes the memory an index holds, in bytes.
type MemoryStats struct {
	Vectors int64 // vector data
	Links   int64 // graph links (all layers)
	Other   int64 // labels, maps, bookkeeping
}

// Total is the sum of all parts.
func (m MemoryStats) Total() int64 { return m.Vectors + m.Links + m.Other }

// Index is a nearest-neighbour index over fixed-dimension float32 vectors, each
// labelled with a caller-chosen uint64 id. Implementations are safe for
// concurrent use: searches may run while vectors are added and deleted.
type Index interface {
	// Add inserts one vector. Adding an id that is present replaces its vector.
	Add(id uint64, vec []float32) error
	// AddBatch inserts many vectors using every core. ids and vecs have the
	// same length. It stops early, returning ctx.Err(), when ctx is done;
	// vectors inserted before then stay inserted.
	AddBatch(ctx context.Context, ids []uint64, vecs [][]float32) error
	// Delete removes the vector labelled id. Deleting an absent id returns
	// ErrNotFound.
	Delete(id uint64) error
	// Vector returns a copy of the vector labelled id, or an error wrapping
	// ErrNotFound.
	Vector(id uint64) ([]float32, error)
	// Search returns up to k nearest neighbours of query, nearest first.
	Search(query []float32, k int, opts SearchOptions) ([]Result, error)
	// Len is the number of live (not deleted) vectors.
	Len() int
	// Deleted is the number of deleted vectors that still hold space until
	// Compact (0 for indexes whose deletes free space at once).
	Deleted() int
	// Compact reclaims the space of deleted vectors. Searches stay correct
	// before and after; it is a no-op where Deleted is always 0. When ctx is
	// done first it returns ctx.Err() and leaves the index as it was.
	Compact(ctx context.Context) error
	// Dim is the vector dimension.
	Dim() int
	// Metric is the distance the index ranks by.
	Metric() Metric
	// Memory reports the memory held by the index.
	Memory() MemoryStats
	// Save writes the index in its versioned binary format.
	Save(w io.Writer) error
}

// Backend makes and loads indexes of one kind. The engine is handed one and
// never names an implementation: ours (hnsw), the exact flat index, the
// coder/hnsw adapter and remote backends all plug in through it.
type Backend struct {
	// Name identifies the backend in logs and reports ("hnsw", "flat", ...).
	Name string
	// New returns an empty index for vectors of dimension dim.
	New func(dim int) (Index, error)
	// Load reads an index written by the Save of an index New made.
	Load func(r io.Reader) (Index, error)
	// Map, when set, opens an index written by Save over bytes already in
	// memory (a file mapped by internal/mmapfile), using them in place
	// where it can and checking them lazily. On success the index owns m
	// and closes it in its Close (it implements io.Closer); on error the
	// caller still owns m. An error that does not wrap ErrCorrupt means the
	// bytes cannot be used in place (an older format version, another byte
	// order): the caller then uses Load.
	Map func(m Mapping) (Index, error)
}

// Mapping is a saved index's bytes held in memory: usually a file mapped
// read-only and private, so that pages are shared with the page cache
// until written.
type Mapping interface {
	// Bytes returns the bytes; they are read-only until Writable.
	Bytes() []byte
	// Writable makes the bytes writable, privately: writes never reach
	// the file.
	Writable() error
	// Close releases the bytes. It is idempotent; Bytes must not be used
	// afterwards.
	Close() error
}

// Verifier is implemented by indexes that check their data lazily (one
// opened by Backend.Map): Verify checks all of it now, returning an error
// wrapping ErrCorrupt when it is damaged.
type Verifier interface {
	Verify() error
}

// Errors shared by implementations. Wrap them with context; test with errors.Is.
var (
	ErrNotFound     = errors.New("index: id not found")
	ErrDimension    = errors.New("index: vector dimension mismatch")
	ErrCorrupt      = errors.New("index: file corrupt")
	ErrVersion      = errors.New("index: unsupported file version")
	ErrInvalidInput = errors.New("index: invalid input")
	ErrClosed       = errors.New("index: closed")
)

// CheckDim returns an ErrDimension error when len(vec) != dim.
func CheckDim(vec []float32, dim int) error {
	if len(vec) != dim {
		return fmt.Errorf("%w: got %d, want %d", ErrDimension, len(vec), dim)
	}
	return nil
}

// Properties are an item's attributes that a remote index keeps beside its
// vector, so that the server holding the vectors can filter on them. The
// index package does not interpret them.
type Properties struct {
	Path    string // the file's path
	Hash    string // content hash, lower-case hex
	Size    int64  // bytes
	MtimeNs int64  // modification (capture) time, ns since 1970
	Format  string // "jpeg", "png", ...
	Width   int
	Height  int
}

// PropertyAdder is implemented by indexes that store Properties beside the
// vectors (remote backends). The catalog calls AddWithProperties instead of
// Add/AddBatch when its index has it; props has the length of ids.
type PropertyAdder interface {
	AddWithProperties(ctx context.Context, ids []uint64, vecs [][]float32, props []Properties) error
}

// Remote is implemented by indexes whose vectors live in a server that every
// process of a library writes (the weaviate backend). The catalog treats
// them differently in one way: when another process moved the store, that
// process already mirrored its own changes, so instead of rebuilding (which
// for a remote index would drop and re-send the whole collection) the
// catalog only hands the store's ids to Adopt.
type Remote interface {
	// Adopt replaces the index's local record of which ids it holds
	// (what Len counts) without contacting the server.
	Adopt(ids []uint64)
	// Where names the server and collection, without credentials.
	Where() string
	// RemoteCount asks the server how many objects the collection holds.
	RemoteCount(ctx context.Context) (int64, error)
	// Reset empties the remote collection (drops and re-creates it) and
	// the local record. New keeps what the server holds, so that a process
	// that rebuilds never deletes another's writes; Reset is for an
	// explicit rebuild.
	Reset(ctx context.Context) error
}
