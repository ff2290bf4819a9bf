package hnsw

import (
	"io"

	"mmsearch/index"
)

// Backend returns the index.Backend that makes HNSW indexes with cfg and
// loads them from Save's format (a loaded index keeps the configuration it
// was saved with). Map opens a saved index in place (see Map).
func Backend(cfg Config) index.Backend {
	return index.Backend{
		Name: "hnsw",
		New:  func(dim int) (index.Index, error) { return New(dim, cfg) },
		Load: func(r io.Reader) (index.Index, error) { return Load(r) },
		Map:  func(m index.Mapping) (index.Index, error) { return Map(m) },
	}
}
