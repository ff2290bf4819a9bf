package flat

import (
	"context"
	"fmt"
	"io"

	"mmsearch/index"
)

// Backend returns the index.Backend of exact indexes ranking by metric.
func Backend(metric index.Metric) index.Backend {
	return index.Backend{
		Name: "flat",
		New:  func(dim int) (index.Index, error) { return New(dim, metric) },
		Load: func(r io.Reader) (index.Index, error) { return Load(r) },
	}
}

// Vector returns a copy of the vector stored under id.
func (x *Index) Vector(id uint64) ([]float32, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	row, ok := x.pos[id]
	if !ok {
		return nil, fmt.Errorf("flat: vector %d: %w", id, index.ErrNotFound)
	}
	return append([]float32(nil), x.data[int(row)*x.dim:int(row+1)*x.dim]...), nil
}

// Deleted is always 0: Delete frees a row at once.
func (x *Index) Deleted() int { return 0 }

// Compact is a no-op: Delete frees a row at once.
func (x *Index) Compact(ctx context.Context) error { return ctx.Err() }
