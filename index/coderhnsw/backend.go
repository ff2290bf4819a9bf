package coderhnsw

import (
	"context"
	"fmt"
	"io"

	"mmsearch/index"
)

// Backend returns the index.Backend of coder/hnsw graphs made with cfg.
func Backend(cfg Config) index.Backend {
	return index.Backend{
		Name: "coderhnsw",
		New:  func(dim int) (index.Index, error) { return New(dim, cfg) },
		Load: func(r io.Reader) (index.Index, error) { return Load(r) },
	}
}

// Vector returns a copy of the vector stored under id.
func (x *Index) Vector(id uint64) (_ []float32, err error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	defer guard("vector", &err)
	v, ok := x.g.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("coderhnsw: vector %d: %w", id, index.ErrNotFound)
	}
	return append([]float32(nil), v...), nil
}

// Deleted is always 0: the library removes a deleted node at once.
func (x *Index) Deleted() int { return 0 }

// Compact is a no-op: the library removes a deleted node at once.
func (x *Index) Compact(ctx context.Context) error { return ctx.Err() }
