package encoders

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestGraphCache: the first session of a tower writes its optimized graph to
// the cache, later sessions load it, and every path gives the embeddings
// the plain .onnx gives; a corrupt cache file is replaced, not trusted.
func TestGraphCache(t *testing.T) {
	m := openTiny(t)
	ctx := context.Background()
	texts := []string{"a cat", "red heart"}
	embed := func(opt SessionOptions) [][]float32 {
		t.Helper()
		e, err := NewTextEncoder(m, opt)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		v, err := e.EncodeTexts(ctx, texts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	same := func(a, b [][]float32, why string) {
		t.Helper()
		for i := range a {
			for j := range a[i] {
				if d := a[i][j] - b[i][j]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("%s: text %d component %d: %v vs %v", why, i, j, a[i][j], b[i][j])
				}
			}
		}
	}
	want := embed(SessionOptions{IntraOpThreads: 1})
	cache := filepath.Join(t.TempDir(), "graphs")
	opt := SessionOptions{IntraOpThreads: 1, GraphCache: cache}

	same(want, embed(opt), "first session (writes the cache)")
	files, _ := filepath.Glob(filepath.Join(cache, m.Manifest.Text.SHA256[:32]+"-*.ort"))
	if len(files) != 1 {
		ents, _ := os.ReadDir(cache)
		t.Fatalf("cache holds %v, want one .ort file of the text tower", ents)
	}
	fi, _ := os.Stat(files[0])
	same(want, embed(opt), "second session (loads the cache)")
	if fi2, _ := os.Stat(files[0]); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the second session rewrote the cache file")
	}

	if err := os.WriteFile(files[0], []byte("not a graph"), 0o644); err != nil {
		t.Fatal(err)
	}
	same(want, embed(opt), "after corrupting the cache")
	if data, _ := os.ReadFile(files[0]); string(data) == "not a graph" {
		t.Fatal("the corrupt cache file was kept")
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 1 {
		t.Fatalf("left in the cache: %v", ents)
	}
}
