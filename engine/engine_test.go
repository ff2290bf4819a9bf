package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"mmsearch/encoders"
	"mmsearch/engine/query"
	"mmsearch/engine/store"
	"mmsearch/index/hnsw"
	"mmsearch/internal/imagetest"
	"mmsearch/models"
)

const (
	tinyModel  = "../encoders/testdata/tiny"
	tiny2Model = "../encoders/testdata/tiny2"
)

func openLib(t testing.TB, dir, model string) *Library {
	t.Helper()
	lib, err := Open(context.Background(), dir, Options{Model: model, Index: hnsw.Config{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lib.Close() })
	return lib
}

// writeImage writes a small picture whose colours depend on seed.
func writeImage(t testing.TB, path string, seed int, format string) {
	t.Helper()
	img := imagetest.Pattern(seed, 24, 16)
	if format == "jpeg" {
		imagetest.Write(t, path, imagetest.JPEG(t, img, 90))
		return
	}
	imagetest.Write(t, path, imagetest.PNG(t, img))
}

func itemPaths(t testing.TB, lib *Library) []string {
	t.Helper()
	states, err := lib.store.FileStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for p, st := range states {
		if st.ID > 0 {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func TestIndexSearchIncremental(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := 0; i < 12; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("sub%d/img%02d.png", i%3, i)), i, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Found != 12 || rep.New != 12 || rep.Indexed != 12 || rep.Failed != 0 {
		t.Fatalf("first run: %+v", rep)
	}

	// Searching with an indexed item excludes it and ranks by cosine.
	res, err := lib.Search(ctx, "@1", SearchOptions{K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 5 {
		t.Fatalf("got %d results", len(res.Results))
	}
	for i, r := range res.Results {
		if r.ID == 1 {
			t.Fatalf("input item returned: %+v", res.Results)
		}
		if i > 0 && r.Score > res.Results[i-1].Score+1e-6 {
			t.Fatalf("results not sorted: %+v", res.Results)
		}
	}
	// With the input kept, an item is its own nearest neighbour.
	res, err = lib.Search(ctx, "@1", SearchOptions{K: 1, IncludeInputs: true})
	if err != nil || res.Results[0].ID != 1 || res.Results[0].Score < 0.9999 {
		t.Fatalf("self search: %+v %v", res, err)
	}

	// A second run over unchanged files embeds nothing.
	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unchanged != 12 || rep.Indexed != 0 || rep.New != 0 {
		t.Fatalf("unchanged run: %+v", rep)
	}

	// Change one file, move one, duplicate one, delete one.
	changed := filepath.Join(photos, "sub0/img00.png")
	writeImage(t, changed, 100, "png")
	later := time.Now().Add(time.Hour)
	os.Chtimes(changed, later, later)
	if err := os.Rename(filepath.Join(photos, "sub1/img01.png"), filepath.Join(photos, "moved.png")); err != nil {
		t.Fatal(err)
	}
	dup, _ := os.ReadFile(filepath.Join(photos, "sub2/img02.png"))
	os.WriteFile(filepath.Join(photos, "copy.png"), dup, 0o644)
	os.Remove(filepath.Join(photos, "sub0/img03.png"))

	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 1 || rep.New != 2 || rep.Reused != 2 || rep.Indexed != 1 || rep.Deleted != 2 || rep.Unchanged != 9 {
		t.Fatalf("incremental run: %+v", rep)
	}
	paths := itemPaths(t, lib)
	if len(paths) != 12 {
		t.Fatalf("items after changes: %d %v", len(paths), paths)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, "img01.png") || strings.HasSuffix(p, "img03.png") {
			t.Fatalf("deleted file still indexed: %s", p)
		}
	}
	// The duplicate kept its vector: with inputs included, its content is
	// the nearest, with cosine 1, as one result listing both paths (issue
	// 12: identical content is one result)...
	res, err = lib.Search(ctx, "@"+filepath.Join(photos, "copy.png"), SearchOptions{K: 1, IncludeInputs: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Results[0]; r.Score < 0.9999 || len(r.Paths) != 2 || r.Paths[0] != r.Path ||
		!strings.HasSuffix(r.Paths[0]+" "+r.Paths[1], "sub2/img02.png") && !strings.HasSuffix(r.Paths[0]+" "+r.Paths[1], "copy.png") {
		t.Fatalf("duplicate's nearest: %+v", res.Results)
	}
	// ... and by default a copy of the input is an input: never a result.
	res, err = lib.Search(ctx, "@"+filepath.Join(photos, "copy.png"), SearchOptions{K: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if strings.HasSuffix(r.Path, "sub2/img02.png") || strings.HasSuffix(r.Path, "copy.png") || r.Score > 0.9999 {
			t.Fatalf("a copy of the input came back: %+v", res.Results)
		}
	}

	// The index file is fresh, and a reopened library loads it.
	st, err := lib.Stats(ctx)
	if err != nil || !st.IndexFresh || st.Items != 12 {
		t.Fatalf("stats: %+v %v", st, err)
	}
}

func TestSearchModesAndText(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := 0; i < 20; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), i, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range Modes {
		res, err := lib.Search(ctx, `@1 - "the dog" + 2:"the cat"`, SearchOptions{K: 4, Mode: mode})
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if len(res.Results) != 4 || len(res.Terms) != 3 || res.Terms[2].Coef != 2 || res.Terms[1].Coef != -1 {
			t.Fatalf("%s: %+v", mode, res)
		}
	}
	// A path to an indexed file is the item: excluded from the results.
	res, err := lib.Search(ctx, filepath.Join(photos, "03.png"), SearchOptions{K: 3, AllowPaths: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		if strings.HasSuffix(r.Path, "03.png") {
			t.Fatalf("input file returned: %+v", res.Results)
		}
	}
	// A path filter is applied during the search.
	res, err = lib.Search(ctx, "cat", SearchOptions{K: 3, Filter: Filter{PathPrefix: filepath.Join(photos, "1")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 3 {
		t.Fatalf("prefix results: %+v", res.Results)
	}
	for _, r := range res.Results {
		if !strings.HasPrefix(r.Path, filepath.Join(photos, "1")) {
			t.Fatalf("prefix not honoured: %s", r.Path)
		}
	}
}

// TestShortLivedSameAnswers: a library opened for one query (a CLI search:
// encoders without weight prepacking) answers text and image queries as a
// long-lived one does, and can still ingest.
func TestShortLivedSameAnswers(t *testing.T) {
	ctx := context.Background()
	photos, dir := t.TempDir(), t.TempDir()
	for i := 0; i < 12; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), i, "png")
	}
	lib := openLib(t, dir, tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	queries := []string{`"the cat"`, `@2 - "the dog" + "the cat"`, filepath.Join(photos, "05.png")}
	answers := func(lib *Library) [][]Result {
		t.Helper()
		var out [][]Result
		for _, q := range queries {
			res, err := lib.Search(ctx, q, SearchOptions{K: 5, AllowPaths: true})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out = append(out, res.Results)
		}
		return out
	}
	want := answers(lib)
	lib.Close()
	short, err := Open(ctx, dir, Options{Model: tinyModel, ShortLived: true})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	got := answers(short)
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: %d results, want %d", queries[i], len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if got[i][j].ID != want[i][j].ID || math.Abs(float64(got[i][j].Score-want[i][j].Score)) > 1e-5 {
				t.Fatalf("%s: result %d is %+v, want %+v", queries[i], j, got[i][j], want[i][j])
			}
		}
	}
	writeImage(t, filepath.Join(photos, "new.png"), 99, "png")
	if st, err := short.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil || st.Indexed != 1 {
		t.Fatalf("ingest in a short-lived library: %+v, %v", st, err)
	}
}

func TestSearchErrorsPointAtTheTerm(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	writeImage(t, filepath.Join(photos, "a.png"), 1, "png")
	os.WriteFile(filepath.Join(photos, "notes.jpg"), []byte("just text, not a picture"), 0o644)
	lib := openLib(t, t.TempDir(), tinyModel)
	if _, err := lib.Ingest(ctx, []string{filepath.Join(photos, "a.png")}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(photos, "notes.jpg")
	cases := []struct {
		expr    string
		pos     int
		message string
	}{
		{"", 0, "empty"},
		{"cat -", 4, "dangling"},
		{"cat + ./missing.jpg", 6, "unknown file"},
		{"cat + " + notes, 6, "not an image"},
		{"dog - @999", 6, "no indexed item"},
		{"x:dog + 0:cat", 8, "weight"},
		{"cat + " + photos, 6, "folder"},
	}
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			_, err := lib.Search(ctx, c.expr, SearchOptions{AllowPaths: true})
			var se *query.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *query.SyntaxError", err, err)
			}
			if se.Pos != c.pos || !strings.Contains(se.Error(), c.message) {
				t.Fatalf("err = %v at %d, want %q at %d", se, se.Pos, c.message, c.pos)
			}
		})
	}
	// Paths are refused where they are not allowed (the server).
	if _, err := lib.Search(ctx, filepath.Join(photos, "a.png"), SearchOptions{}); err == nil {
		t.Fatal("path accepted without AllowPaths")
	}
}

func TestModelMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	lib := openLib(t, dir, tinyModel)
	lib.Close()
	_, err := Open(context.Background(), dir, Options{Model: tiny2Model})
	if !errors.Is(err, store.ErrModelMismatch) {
		t.Fatalf("err = %v, want ErrModelMismatch", err)
	}
	if !strings.Contains(err.Error(), "tiny-test-2") || !strings.Contains(err.Error(), "tiny-test") {
		t.Fatalf("error does not name both models: %v", err)
	}
	// With no model named, the library finds its model again through the
	// folder it was opened with last time.
	again, err := Open(context.Background(), dir, Options{})
	if err != nil || again.Model().Manifest.Name != "tiny-test" {
		t.Fatalf("reopen without a model: %v", err)
	}
	again.Close()
	// Without that hint the recorded name is looked up; a model that is not
	// installed is named in the error.
	os.Remove(filepath.Join(dir, ModelHintFile))
	_, err = Open(context.Background(), dir, Options{})
	if !errors.Is(err, models.ErrModelNotFound) || !strings.Contains(err.Error(), `"tiny-test"`) {
		t.Fatalf("err = %v, want ErrModelNotFound naming tiny-test", err)
	}
}

func TestBadInputIsRecordedAndSkipped(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	good := []string{"good1.png", "good2.jpg"}
	writeImage(t, filepath.Join(photos, "good1.png"), 1, "png")
	writeImage(t, filepath.Join(photos, "good2.jpg"), 2, "jpeg")

	// A JPEG named .png is fine: formats come from content.
	writeImage(t, filepath.Join(photos, "jpeg-named.png"), 3, "jpeg")
	good = append(good, "jpeg-named.png")
	// A non-UTF-8 name and a 255-byte name index normally.
	writeImage(t, filepath.Join(photos, "caf\xe9-\xff.png"), 4, "png")
	good = append(good, "caf\xe9-\xff.png")
	long := strings.Repeat("x", 251) + ".png"
	writeImage(t, filepath.Join(photos, long), 5, "png")
	good = append(good, long)

	bad := map[string]string{ // file -> words expected in the reason
		"empty.jpg":     "empty",
		"truncated.jpg": "",
		"huge.png":      "too large",
		"binary.jpg":    "not an image",
		"vanished.png":  "vanished",
	}
	os.WriteFile(filepath.Join(photos, "empty.jpg"), nil, 0o644)
	var jb bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	jpeg.Encode(&jb, img, nil)
	os.WriteFile(filepath.Join(photos, "truncated.jpg"), jb.Bytes()[:jb.Len()/2], 0o644)
	os.WriteFile(filepath.Join(photos, "huge.png"), hugePNGHeader(100000, 100000), 0o644)
	// Unrecognisable content is a failure; recognisable text (issue 12) is
	// skipped instead, and never listed as an error.
	os.WriteFile(filepath.Join(photos, "binary.jpg"), []byte("\x00\x01\x02 hello, I am no format"), 0o644)
	os.WriteFile(filepath.Join(photos, "text.jpg"), []byte("hello, I am text"), 0o644)
	writeImage(t, filepath.Join(photos, "vanished.png"), 6, "png")
	// A symlink loop.
	os.MkdirAll(filepath.Join(photos, "loop"), 0o755)
	os.Symlink("..", filepath.Join(photos, "loop", "up"))

	lib := openLib(t, t.TempDir(), tinyModel)
	opt := IngestOptions{testHookBeforeRead: func(path string) {
		if filepath.Base(path) == "vanished.png" {
			os.Remove(path)
		}
	}}
	rep, err := lib.Ingest(ctx, []string{photos}, opt)
	if err != nil {
		t.Fatal(err)
	}
	paths := itemPaths(t, lib)
	if len(paths) != len(good) {
		t.Fatalf("indexed %d files, want %d: %q (report %+v)", len(paths), len(good), paths, rep)
	}
	for _, g := range good {
		found := false
		for _, p := range paths {
			if filepath.Base(p) == g {
				found = true
			}
		}
		if !found {
			t.Errorf("good file %q not indexed", g)
		}
	}
	errs, err := lib.Errors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, fe := range errs {
		reasons[filepath.Base(fe.Path)] = string(fe.Stage) + ": " + fe.Reason
	}
	for name, words := range bad {
		r, ok := reasons[name]
		if !ok {
			t.Errorf("%s not recorded in errors (have %v)", name, reasons)
			continue
		}
		if !strings.Contains(strings.ToLower(r), words) {
			t.Errorf("%s: reason %q does not say %q", name, r, words)
		}
	}
	if _, listed := reasons["text.jpg"]; listed || rep.SkippedByKind["text"] != 1 {
		t.Errorf("text.jpg: listed in errors %v, skipped %v; want skipped as text only", listed, rep.SkippedByKind)
	}
	loop := false
	for n, r := range reasons {
		if strings.Contains(r, "loop") || n == "up" {
			loop = true
		}
	}
	if !loop {
		t.Errorf("symlink loop not recorded: %v", reasons)
	}
	// Failed files are not retried while unchanged.
	rep, err = lib.Ingest(ctx, []string{photos}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != 0 || rep.Failed != 0 || rep.Skipped < 4 {
		t.Fatalf("second run retried failures: %+v", rep)
	}
}

// hugePNGHeader returns a PNG signature and IHDR claiming w×h pixels.
func hugePNGHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{0, 0, 0, 13, 'I', 'H', 'D', 'R',
		byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w),
		byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h),
		8, 2, 0, 0, 0}
	b.Write(ihdr)
	crc := crc32.ChecksumIEEE(ihdr[4:])
	b.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return b.Bytes()
}

func TestSearchWhileIndexing(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := 0; i < 150; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%03d.png", i)), i, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	done := make(chan error, 1)
	go func() {
		_, err := lib.Ingest(ctx, []string{photos}, IngestOptions{BatchSize: 4})
		done <- err
	}()
	searches, found := 0, 0
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		res, err := lib.Search(ctx, "the cat", SearchOptions{K: 3})
		searches++
		if errors.Is(err, ErrEmptyLibrary) {
			continue
		}
		if err != nil {
			t.Fatalf("search during indexing: %v", err)
		}
		found += len(res.Results)
	}
	res, err := lib.Search(ctx, "the cat", SearchOptions{K: 3})
	if err != nil || len(res.Results) != 3 {
		t.Fatalf("after indexing: %v %v", res, err)
	}
	t.Logf("%d searches ran during indexing, %d results", searches, found)
}

func TestIndexFileRebuiltWhenCorrupt(t *testing.T) {
	ctx := context.Background()
	photos := t.TempDir()
	for i := 0; i < 10; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%d.png", i)), i, "png")
	}
	dir := t.TempDir()
	lib := openLib(t, dir, tinyModel)
	if _, err := lib.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	want, err := lib.Search(ctx, "@2", SearchOptions{K: 5})
	if err != nil {
		t.Fatal(err)
	}
	lib.Close()
	// vector and links flip a bit inside one node's part of the sections
	// that a search uses in place and checks node by node.
	for _, damage := range []string{"flip", "vector", "links", "truncate", "remove"} {
		t.Run(damage, func(t *testing.T) {
			p := filepath.Join(dir, IndexFile)
			b, _ := os.ReadFile(p)
			switch damage {
			case "flip":
				b[len(b)/2] ^= 0x40
				os.WriteFile(p, b, 0o644)
			case "vector", "links":
				tag := map[string]string{"vector": "VECS", "links": "LNK0"}[damage]
				at := bytes.Index(b, []byte(tag))
				if at < 0 {
					t.Fatalf("no %s section in the index file", tag)
				}
				b[at+12+int(binary.LittleEndian.Uint64(b[at+4:]))/2] ^= 0x40
				os.WriteFile(p, b, 0o644)
			case "truncate":
				os.WriteFile(p, b[:len(b)/3], 0o644)
			case "remove":
				os.Remove(p)
			}
			lib := openLib(t, dir, tinyModel)
			got, err := lib.Search(ctx, "@2", SearchOptions{K: 5})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Results) != len(want.Results) {
				t.Fatalf("after %s: %d results, want %d", damage, len(got.Results), len(want.Results))
			}
			for i := range got.Results {
				if got.Results[i].ID != want.Results[i].ID {
					t.Fatalf("after %s: %+v, want %+v", damage, got.Results, want.Results)
				}
			}
			// Nothing lost, and the rebuilt index was saved.
			st, err := lib.Stats(ctx)
			if err != nil || st.Items != 10 || !st.IndexFresh {
				t.Fatalf("after %s: stats %+v, %v; want 10 items and a fresh index file", damage, st, err)
			}
		})
	}
}

func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	lock, err := lockLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.unlock()
	lib := openLib(t, dir, tinyModel)
	photos := t.TempDir()
	writeImage(t, filepath.Join(photos, "a.png"), 1, "png")
	if _, err := lib.Ingest(context.Background(), []string{photos}, IngestOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}

func TestIndexCancelledKeepsCommittedBatches(t *testing.T) {
	photos := t.TempDir()
	for i := 0; i < 60; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), i, "png")
	}
	lib := openLib(t, t.TempDir(), tinyModel)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	rep, err := lib.Ingest(ctx, []string{photos}, IngestOptions{BatchSize: 4, Progress: func(p Progress) {
		if p.Done >= 4 {
			once.Do(cancel)
		}
	}})
	if !errors.Is(err, context.Canceled) || !rep.Stopped {
		t.Fatalf("err = %v, report %+v", err, rep)
	}
	n := len(itemPaths(t, lib))
	if n < 4 || n >= 60 {
		t.Fatalf("%d items committed after the stop", n)
	}
	rep, err = lib.Ingest(context.Background(), []string{photos}, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(itemPaths(t, lib)); got != 60 || rep.Unchanged != n {
		t.Fatalf("resumed run: %d items, report %+v (had %d)", got, rep, n)
	}
}

// TestGraphCacheOnlyShortLived: a library that lives long (ingests, the
// server) optimizes its graphs in full when it opens them and leaves the
// graph cache alone, since the cache keeps only the hardware-independent
// optimizations; a short-lived one (a one-query process) opens through the
// cache and fills it.
func TestGraphCacheOnlyShortLived(t *testing.T) {
	ctx := context.Background()
	lib, err := encoders.FindLibrary("", os.Getenv)
	if err != nil {
		t.Skipf("ONNX Runtime unavailable: %v", err)
	}
	cache := t.TempDir()
	getenv := func(k string) string {
		switch k {
		case "MMSEARCH_CACHE_DIR":
			return cache
		case encoders.LibraryEnv:
			return lib
		}
		return os.Getenv(k)
	}
	graphs := func() []string {
		t.Helper()
		m, err := filepath.Glob(filepath.Join(cache, "graphs", "*.ort"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	photos, dir := t.TempDir(), t.TempDir()
	for i := 0; i < 4; i++ {
		writeImage(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), i, "png")
	}
	long, err := Open(ctx, dir, Options{Model: tinyModel, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := long.Ingest(ctx, []string{photos}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := long.Search(ctx, `"the cat"`, SearchOptions{K: 3}); err != nil {
		t.Fatal(err)
	}
	long.Close()
	if g := graphs(); len(g) != 0 {
		t.Fatalf("a long-lived library wrote the graph cache: %v", g)
	}
	short, err := Open(ctx, dir, Options{Model: tinyModel, ShortLived: true, Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if _, err := short.Search(ctx, `"the cat"`, SearchOptions{K: 3}); err != nil {
		t.Fatal(err)
	}
	if g := graphs(); len(g) != 1 {
		t.Errorf("a short-lived library's text query left %d cached graphs, want the text tower's", len(g))
	}
}
