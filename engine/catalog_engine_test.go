package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mmsearch/engine/catalog"
	"mmsearch/index"
	"mmsearch/index/flat"
	"mmsearch/index/hnsw"
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
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lib, err := Open(ctx, t.TempDir(), Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, RefreshEvery: 250 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
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
	if took < 10*250*time.Millisecond {
		t.Fatalf("the ingest took %v, not several refresh periods", took)
	}
	assertIndexMatchesStore(t, lib, n)
	// The index is built once (empty, at the ingest's start) and never
	// rebuilt from the store while this process ingests.
	if c := strings.Count(logs.String(), "index rebuilt from the store"); c != 1 {
		t.Errorf("the index was rebuilt %d times during the ingest, want once (the empty start):\n%s", c, logs)
	}
	t.Logf("ingest %v, %d searches (%d with results)", took.Round(time.Millisecond), searches.Load(), nonEmpty.Load())
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (a log sink).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// assertIndexMatchesStore checks that the store and the live index hold n
// items, and that a search for n results returns every one of them, once.
func assertIndexMatchesStore(t *testing.T, lib *Library, n int) {
	t.Helper()
	ctx := context.Background()
	paths := itemPaths(t, lib)
	if len(paths) != n {
		t.Fatalf("store holds %d items, want %d", len(paths), n)
	}
	var live int
	if err := lib.cat.Read(ctx, func(v catalog.View) error { live = v.Len(); return nil }); err != nil {
		t.Fatal(err)
	}
	if live != n {
		t.Fatalf("live index holds %d items, the store %d", live, n)
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

// helperEnv names the environment variable that turns the test binary into
// the second process of TestOtherProcessIngestPickedUp: "LIBRARY|PHOTOS".
const helperEnv = "MMSEARCH_TEST_INGEST_PROCESS"

// TestIngestProcess is not a test: run by TestOtherProcessIngestPickedUp as
// a second process, it ingests a folder slowly into a library.
func TestIngestProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("the second process of TestOtherProcessIngestPickedUp")
	}
	lib, photos, _ := strings.Cut(spec, "|")
	l := openLib(t, lib, tinyModel)
	rep, err := l.Ingest(context.Background(), []string{photos}, IngestOptions{BatchSize: 4, Workers: 1,
		testHookBeforeRead: func(string) { time.Sleep(30 * time.Millisecond) }})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ingested %d\n", rep.Indexed)
}

// TestOtherProcessIngestPickedUp: a second process (this test binary run
// again) ingests into a library this process has open and searches every
// 50 ms. At the end this process's index holds exactly the store's items
// and a search for all of them returns all.
func TestOtherProcessIngestPickedUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a second process for a few seconds")
	}
	ctx := context.Background()
	photos := t.TempDir()
	const first, second = 10, 70
	for i := range first + second {
		dir := "first"
		if i >= first {
			dir = "second"
		}
		writeImage(t, filepath.Join(photos, dir, fmt.Sprintf("%03d.png", i)), i, "png")
	}
	dir := t.TempDir()
	lib, err := Open(ctx, dir, Options{Model: tinyModel, Index: hnsw.Config{Seed: 1}, RefreshEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	if _, err := lib.Ingest(ctx, []string{filepath.Join(photos, "first")}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	assertIndexMatchesStore(t, lib, first)

	cmd := exec.Command(os.Args[0], "-test.run=^TestIngestProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir+"|"+filepath.Join(photos, "second"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	searches, grew := 0, 0
	last := first
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("second process: %v\n%s", err, out.String())
			}
			running = false
		case <-tick.C:
		}
		res, err := lib.Search(ctx, "the cat", SearchOptions{K: first + second, Ef: 400})
		if err != nil {
			t.Fatalf("search during the other process's ingest: %v", err)
		}
		searches++
		if len(res.Results) > last {
			grew++
			last = len(res.Results)
		}
	}
	if !strings.Contains(out.String(), fmt.Sprintf("ingested %d", second)) {
		t.Fatalf("second process output:\n%s", out.String())
	}
	if grew < 2 {
		t.Errorf("the results grew %d times during the other process's ingest; want the refresh to pick up its batches as they land", grew)
	}
	time.Sleep(250 * time.Millisecond) // one refresh period after the last commit
	assertIndexMatchesStore(t, lib, first+second)
	t.Logf("%d searches, results grew %d times", searches, grew)
}

// TestOtherBackends: the exact flat index plugs into a library through
// Options.Backend with no engine change, and finds what HNSW finds on a
// small library; its index file is saved and loaded like HNSW's.
func TestOtherBackends(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := range 30 {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), i, "png")
	}
	results := map[string][]string{}
	for _, tc := range []struct {
		name string
		b    index.Backend
	}{
		{"hnsw", hnsw.Backend(hnsw.Config{Seed: 1, EfConstruction: LibraryEfConstruction})},
		{"flat", flat.Backend(index.Cosine)},
	} {
		dir := t.TempDir()
		lib, err := Open(ctx, dir, Options{Model: tinyModel, Backend: tc.b})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
			t.Fatal(err)
		}
		lib.Close()
		lib, err = Open(ctx, dir, Options{Model: tinyModel, Backend: tc.b})
		if err != nil {
			t.Fatal(err)
		}
		if st, err := lib.Stats(ctx); err != nil || !st.IndexFresh {
			t.Fatalf("%s: stats %+v %v, want a fresh index file", tc.name, st, err)
		}
		res, err := lib.Search(ctx, "the cat", SearchOptions{K: 5})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Results {
			results[tc.name] = append(results[tc.name], filepath.Base(r.Path)) // ids depend on the ingest's order
		}
		assertIndexMatchesStore(t, lib, 30)
		lib.Close()
	}
	if fmt.Sprint(results["hnsw"]) != fmt.Sprint(results["flat"]) || len(results["flat"]) != 5 {
		t.Fatalf("hnsw found %v, flat %v", results["hnsw"], results["flat"])
	}
}
