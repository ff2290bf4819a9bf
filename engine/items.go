package engine

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"

	"mmsearch/encoders"
	"mmsearch/engine/catalog"
	"mmsearch/engine/store"
)

// ItemVector is an indexed item's id, path and vector.
type ItemVector struct {
	ID     int64
	Path   string
	Vector []float32
}

// Vectors returns every indexed item with its vector, in id order, read from
// one snapshot of the store.
func (l *Library) Vectors(ctx context.Context) ([]ItemVector, error) {
	states, err := l.store.FileStates(ctx)
	if err != nil {
		return nil, err
	}
	paths := make(map[int64]string, len(states))
	for p, st := range states {
		if st.ID > 0 {
			paths[st.ID] = p
		}
	}
	out := make([]ItemVector, 0, len(paths))
	if _, err := l.store.IterVectors(ctx, func(id int64, v []float32) error {
		if p, ok := paths[id]; ok { // items added after FileStates are left out
			out = append(out, ItemVector{ID: id, Path: p, Vector: v})
		}
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ImportItem is an item whose vector was made elsewhere: synthetic
// benchmark data, or embeddings from another tool with the same model.
type ImportItem struct {
	Path    string // unique key; need not exist on disk
	Vector  []float32
	Size    int64
	MtimeNs int64
	Width   int
	Height  int
	Format  string
	// Hash is the content hash (zero: the sha256 of Path, so that items
	// never count as copies of each other).
	Hash [32]byte
	// Meta is the photo metadata (zero: unread, so an index run over
	// Path reads it).
	Meta store.Metadata
}

// importBatch is the number of items per transaction of Import.
const importBatch = 2000

// Import adds (or replaces, by path) items with ready vectors, normalized
// here, through the catalog in transactions of importBatch items, under the
// library's write lock. It returns the items' ids in order.
func (l *Library) Import(ctx context.Context, items []ImportItem) ([]int64, error) {
	if l.cat.ReadOnly() {
		return nil, fmt.Errorf("import into %s: %w", l.dir, ErrReadOnly)
	}
	lock, err := lockLibrary(l.dir)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	if err := l.cat.Sync(ctx); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(items))
	for start := 0; start < len(items); start += importBatch {
		part := items[start:min(start+importBatch, len(items))]
		batch := make([]store.Item, len(part))
		for i, it := range part {
			v := append([]float32(nil), it.Vector...)
			if err := encoders.Normalize(v); err != nil {
				return ids, fmt.Errorf("import %s: %w", it.Path, err)
			}
			h := store.Hash(it.Hash)
			if h == (store.Hash{}) {
				h = sha256.Sum256([]byte(it.Path))
			}
			batch[i] = store.Item{Path: it.Path, Size: it.Size, MtimeNs: it.MtimeNs, Hash: h,
				Width: it.Width, Height: it.Height, Format: it.Format, Vector: v, Meta: it.Meta}
		}
		a, err := l.cat.Apply(ctx, catalog.Batch{Upsert: batch})
		if err != nil {
			return ids, fmt.Errorf("import: %w", err)
		}
		ids = append(ids, a.IDs...)
	}
	if err := l.cat.Checkpoint(ctx); err != nil {
		return ids, fmt.Errorf("import: save index: %w", err)
	}
	return ids, nil
}
