package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIngestWhileSearchingLong ingests for several index refresh periods
// while another goroutine searches every 50 ms. The index must end holding
// exactly the store's items, and a search for all of them must return all.
// Before the catalog, a search 2 s into the ingest swapped in an index rebuilt
// from the store while the ingest kept adding to the old one: the store held
// 120 items and the live index 96.
func TestIngestWhileSearchingLong(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 5 s")
	}
	ctx := context.Background()
	photos := t.TempDir()
	const n = 120
	for i := range n {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%03d.png", i)), i, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	stop := make(chan struct{})
	var searches, nonEmpty atomic.Int64
	var searchErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			res, err := lib.Search(ctx, "the cat", SearchOptions{K: 3})
			searches.Add(1)
			if errors.Is(err, ErrEmptyLibrary) {
				continue
			}
			if err != nil {
				searchErr = err
				return
			}
			if len(res.Results) > 0 {
				nonEmpty.Add(1)
			}
		}
	})
	start := time.Now()
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{BatchSize: 4, Workers: 1,
		testHookBeforeRead: func(string) { time.Sleep(40 * time.Millisecond) }})
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if searchErr != nil {
		t.Fatalf("search during the ingest: %v", searchErr)
	}
	if rep.Indexed != n {
		t.Fatalf("indexed %d, want %d", rep.Indexed, n)
	}
	if took < 4*time.Second {
		t.Fatalf("the ingest took %v, not several refresh periods", took)
	}
	assertIndexMatchesStore(t, lib, n)
	t.Logf("ingest %v, %d searches (%d with results)", took.Round(time.Millisecond), searches.Load(), nonEmpty.Load())
}

// assertIndexMatchesStore checks that the store holds n items, that a
// search for n results returns every one of them, each once.
func assertIndexMatchesStore(t *testing.T, lib *Library, n int) {
	t.Helper()
	ctx := context.Background()
	paths := itemPaths(t, lib)
	if len(paths) != n {
		t.Fatalf("store holds %d items, want %d", len(paths), n)
	}
	res, err := lib.Search(ctx, "the cat", SearchOptions{K: n, Ef: 4 * n})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range res.Results {
		if seen[r.Path] {
			t.Fatalf("%s returned twice", r.Path)
		}
		seen[r.Path] = true
	}
	if len(seen) != n {
		t.Fatalf("search for all %d items returned %d (index out of step with the store)", n, len(seen))
	}
}
