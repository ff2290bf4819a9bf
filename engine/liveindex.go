package engine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"mmsearch/index"
	"mmsearch/index/hnsw"
	"mmsearch/internal/atomicfile"
)

// indexMagic starts a library's index file; the store generation and model
// fingerprint the index was built from follow, then the HNSW graph.
const indexMagic = "MMSLIBX1"

// refreshEvery bounds how often a reader checks whether another process
// changed the store.
const refreshEvery = 2 * time.Second

// liveIndex is the library's in-memory HNSW index, kept in step with the store.
type liveIndex struct {
	l *Library

	mu        sync.RWMutex
	idx       *hnsw.Index
	gen       int64 // store generation idx reflects
	checked   time.Time
	rebuildMu sync.Mutex
}

func newLiveIndex(l *Library) *liveIndex { return &liveIndex{l: l} }

// get returns an index that reflects the store, loading or rebuilding it
// when needed.
func (x *liveIndex) get(ctx context.Context) (*hnsw.Index, error) {
	x.mu.RLock()
	idx, checked := x.idx, x.checked
	x.mu.RUnlock()
	if idx != nil && time.Since(checked) < refreshEvery {
		return idx, nil
	}
	x.rebuildMu.Lock()
	defer x.rebuildMu.Unlock()
	gen, err := x.l.store.Generation(ctx)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if x.idx != nil && x.gen == gen {
		x.checked = time.Now()
		idx = x.idx
		x.mu.Unlock()
		return idx, nil
	}
	x.mu.Unlock()
	idx, err = x.loadOrRebuild(ctx, gen)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.idx, x.gen, x.checked = idx, gen, time.Now()
	x.mu.Unlock()
	return idx, nil
}

// advance records that the caller (the ingest, holding the write lock) has
// applied the store's changes up to gen to idx itself.
func (x *liveIndex) advance(gen int64) {
	x.mu.Lock()
	x.gen, x.checked = gen, time.Now()
	x.mu.Unlock()
}

func (x *liveIndex) path() string { return filepath.Join(x.l.dir, IndexFile) }

func (x *liveIndex) loadOrRebuild(ctx context.Context, gen int64) (*hnsw.Index, error) {
	start := time.Now()
	idx, err := x.load(gen)
	if err == nil {
		x.l.log.Debug("index loaded", "items", idx.Len(), "took", time.Since(start))
		return idx, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		x.l.log.Info("rebuilding index", "reason", err)
	}
	idx, err = x.rebuild(ctx)
	if err != nil {
		return nil, err
	}
	x.l.log.Info("index rebuilt from the store", "items", idx.Len(), "took", time.Since(start).Round(time.Millisecond))
	return idx, nil
}

// load reads the index file when it was built at generation gen with this model.
func (x *liveIndex) load(gen int64) (*hnsw.Index, error) {
	f, err := os.Open(x.path())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	fileGen, fp, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if fp != x.l.model.Manifest.Fingerprint() {
		return nil, fmt.Errorf("index file was built with another model")
	}
	if fileGen != gen {
		return nil, fmt.Errorf("index file is stale (generation %d, store %d)", fileGen, gen)
	}
	idx, err := hnsw.Load(r)
	if err != nil {
		return nil, fmt.Errorf("index file: %w", err)
	}
	if idx.Dim() != x.l.model.Dim() {
		return nil, fmt.Errorf("index file: dimension %d, model %d: %w", idx.Dim(), x.l.model.Dim(), index.ErrCorrupt)
	}
	return idx, nil
}

// rebuild builds a fresh index from every vector in the store.
func (x *liveIndex) rebuild(ctx context.Context) (*hnsw.Index, error) {
	idx, err := hnsw.New(x.l.model.Dim(), x.l.indexConfig())
	if err != nil {
		return nil, err
	}
	const chunk = 4096
	ids := make([]uint64, 0, chunk)
	vecs := make([][]float32, 0, chunk)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		err := idx.AddBatch(ctx, ids, vecs)
		ids, vecs = ids[:0], vecs[:0]
		return err
	}
	_, err = x.l.store.IterVectors(ctx, func(id int64, v []float32) error {
		ids = append(ids, uint64(id))
		vecs = append(vecs, v)
		if len(ids) == chunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, fmt.Errorf("rebuild index: %w", err)
	}
	return idx, nil
}

// save writes idx, built at generation gen, to the index file atomically.
func (x *liveIndex) save(idx *hnsw.Index, gen int64) error {
	return atomicfile.Write(x.path(), 0o644, func(w *bufio.Writer) error {
		if err := writeHeader(w, gen, x.l.model.Manifest.Fingerprint()); err != nil {
			return err
		}
		return idx.Save(w)
	})
}

func writeHeader(w io.Writer, gen int64, fingerprint string) error {
	var b []byte
	b = append(b, indexMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(gen))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(fingerprint)))
	b = append(b, fingerprint...)
	_, err := w.Write(b)
	return err
}

func readHeader(r io.Reader) (gen int64, fingerprint string, err error) {
	var head [len(indexMagic) + 8 + 2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, "", fmt.Errorf("index file header: %w: %v", index.ErrCorrupt, err)
	}
	if string(head[:len(indexMagic)]) != indexMagic {
		return 0, "", fmt.Errorf("index file: bad magic: %w", index.ErrCorrupt)
	}
	gen = int64(binary.LittleEndian.Uint64(head[len(indexMagic):]))
	n := binary.LittleEndian.Uint16(head[len(indexMagic)+8:])
	if n > 256 {
		return 0, "", fmt.Errorf("index file: fingerprint length %d: %w", n, index.ErrCorrupt)
	}
	fp := make([]byte, n)
	if _, err := io.ReadFull(r, fp); err != nil {
		return 0, "", fmt.Errorf("index file header: %w: %v", index.ErrCorrupt, err)
	}
	return gen, string(fp), nil
}

func readIndexHeader(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	return readHeader(f)
}
