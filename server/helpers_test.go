package server

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"mmsearch/engine"
	"mmsearch/index/hnsw"
	"mmsearch/internal/imagetest"
)

// tinyModel is the closed-form 4-dimensional test model: it ranks nonsense
// but runs the whole pipeline.
const tinyModel = "../encoders/testdata/tiny"

// fixture is a small indexed library.
type fixture struct {
	lib    *engine.Library
	photos string           // folder of the indexed pictures
	ids    map[string]int64 // base name → item id
	paths  map[int64]string // item id → path
}

// colourImage draws picture i of n: a hue of its own, a lighter disc and
// a darker band, so every picture differs from the others.
func colourImage(i, n, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	hue := float64(i) / float64(n)
	base := hsv(hue, 0.75, 0.85)
	light := hsv(hue, 0.35, 1)
	dark := hsv(math.Mod(hue+0.5, 1), 0.8, 0.35)
	c := float64(size) / 2
	r := float64(size) * (0.2 + 0.2*float64(i%4)/3)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px := base
			dx, dy := float64(x)-c+0.5, float64(y)-c+0.5
			switch {
			case dx*dx+dy*dy < r*r:
				px = light
			case y*8/size == i%8:
				px = dark
			}
			img.SetNRGBA(x, y, px)
		}
	}
	return img
}

func hsv(h, s, v float64) color.NRGBA {
	h6 := h * 6
	k := func(n float64) float64 {
		kk := math.Mod(n+h6, 6)
		return v - v*s*math.Max(0, math.Min(math.Min(kk, 4-kk), 1))
	}
	return color.NRGBA{uint8(255 * k(5)), uint8(255 * k(3)), uint8(255 * k(1)), 255}
}

// newFixture indexes n pictures (in two sub-folders, a/ and b/) into a new
// library with the tiny model.
func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	return newFixtureSized(t, n, 48)
}

// newFixtureSized is newFixture with size×size pictures.
func newFixtureSized(t testing.TB, n, size int) *fixture {
	t.Helper()
	return newFixtureModel(t, n, size, tinyModel)
}

// newFixtureModel is newFixtureSized with the model in the folder model.
func newFixtureModel(t testing.TB, n, size int, model string) *fixture {
	t.Helper()
	ctx := context.Background()
	photos := t.TempDir()
	for i := 0; i < n; i++ {
		sub := "a"
		if i%2 == 1 {
			sub = "b"
		}
		p := filepath.Join(photos, sub, fmt.Sprintf("colour%02d.png", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, imagetest.PNG(t, colourImage(i, n, size)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lib, err := engine.Open(ctx, t.TempDir(), engine.Options{Model: model, Index: hnsw.Config{Seed: 1}})
	if err != nil {
		t.Fatalf("open library (ONNX Runtime is installed by 'make setup'): %v", err)
	}
	t.Cleanup(func() { lib.Close() })
	rep, err := lib.Ingest(ctx, []string{photos}, engine.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Indexed != n || rep.Failed != 0 {
		t.Fatalf("index: %+v", rep)
	}
	f := &fixture{lib: lib, photos: photos, ids: map[string]int64{}, paths: map[int64]string{}}
	for id := int64(1); len(f.ids) < n && id < int64(10*n); id++ {
		it, err := lib.Item(ctx, id)
		if err != nil {
			continue
		}
		f.ids[filepath.Base(it.Path)] = id
		f.paths[id] = it.Path
	}
	if len(f.ids) != n {
		t.Fatalf("found %d of %d items by id", len(f.ids), n)
	}
	return f
}

// newTestServer wraps New for tests.
func newTestServer(t testing.TB, lib Library, cfg Config) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := New(lib, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends a request through the handler with a loopback Host.
func do(t testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	if req.Host == "example.com" { // httptest's default
		req.Host = "127.0.0.1:8080"
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// testToken is a token of the accepted length and variety.
const testToken = "tT4f8Qz1pW7mK2vX9rB6nC3yH5jL0sDq"
