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
	states, err := lib.Store().FileStates(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	byID := make(map[int64]string, len(states))
	for p, st := range states {
		byID[st.ID] = p
	}
	out := make(map[string][]float32, len(states))
	if _, err := lib.Store().IterVectors(ctx, func(id int64, v []float32) error {
		out[byID[id]] = v
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return out
}
