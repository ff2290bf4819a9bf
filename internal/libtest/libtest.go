// Package libtest indexes pictures into throw-away libraries for the tests of
// packages built on the engine.
package libtest

import (
	"context"
	"testing"

	"mmsearch/engine"
)

// Vectors indexes paths with model into a temporary library and returns
// each indexed file's vector by path.
func Vectors(tb testing.TB, model string, paths []string) map[string][]float32 {
	tb.Helper()
	ctx := context.Background()
	lib, err := engine.Open(ctx, tb.TempDir(), engine.Options{Model: model})
	if err != nil {
		tb.Fatal(err)
	}
	defer lib.Close()
	if _, err := lib.Ingest(ctx, paths, engine.IngestOptions{}); err != nil {
		tb.Fatal(err)
	}
	items, err := lib.Vectors(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]float32, len(items))
	for _, it := range items {
		out[it.Path] = it.Vector
	}
	return out
}
