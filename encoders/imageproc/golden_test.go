package imageproc

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"mmsearch/internal/sharedtest"
)

// sharedDir is the project's shared test data, relative to this package.
const sharedDir = "../../../shared"

// requireShared returns the path of a folder under ../shared; when the
// shared data is absent it skips the test, or fails it in CI.
func requireShared(t testing.TB, sub string) string {
	t.Helper()
	return sharedtest.Require(t, filepath.Join(sharedDir, sub))
}

type goldenEntry struct {
	Image      string     `json:"image"`
	SourceSize [2]int     `json:"source_size"`
	Resized    [2]int     `json:"resized"`
	Shape      [3]int     `json:"shape"`
	Mean       [3]float32 `json:"mean"`
	Std        [3]float32 `json:"std"`
	First      float32    `json:"sha_f32_first"`
}

func readGoldenIndex(t *testing.T, dir string) []goldenEntry {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []goldenEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(entries) == 0 {
		t.Fatal("index.json lists no images")
	}
	return entries
}

func readF32(t *testing.T, path string, n int) []float32 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*n {
		t.Fatalf("%s: %d bytes, want %d", path, len(raw), 4*n)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// Golden tolerances in normalised units (one 8-bit level is about 0.015).
const (
	goldenMaxDiff  = 0.03
	goldenMeanDiff = 0.005
	// stdlibJPEGMaxDiff applies to JPEGs decoded by the standard library
	// (the pure-Go fallback). Its IDCT differs from libjpeg's accurate IDCT,
	// which PIL uses, by ±1 per sample; after YCbCr→RGB that reaches ±3
	// levels on a few pixels (0.0438 measured on cat.jpg). The mean bound
	// is unchanged.
	stdlibJPEGMaxDiff = 0.05
)

// TestGoldenPreprocess compares our tensors with reference CLIP tensors made
// with PIL 9.4, on every decoding path this build has.
func TestGoldenPreprocess(t *testing.T) {
	dir := requireShared(t, "golden/preprocess")
	entries := readGoldenIndex(t, dir)
	paths := []struct {
		name string
		opt  Options
	}{{"default", Options{}}, {"purego", Options{PureGo: true}}}
	for _, path := range paths {
		for _, e := range entries {
			t.Run(path.name+"/"+e.Image, func(t *testing.T) {
				if e.Shape[0] != 3 || e.Shape[1] != e.Shape[2] {
					t.Fatalf("unexpected golden shape %v", e.Shape)
				}
				p := CLIP(e.Shape[1])
				p.Mean, p.Std = e.Mean, e.Std
				want := readF32(t, filepath.Join(dir, e.Image+".chw.f32"), p.Len())
				if want[0] != e.First {
					t.Fatalf("golden file's first value %v, index says %v", want[0], e.First)
				}
				got := make([]float32, p.Len())
				info, err := LoadTensor(filepath.Join(dir, e.Image), path.opt, p, got)
				if err != nil {
					t.Fatal(err)
				}
				if info.Width != e.SourceSize[0] || info.Height != e.SourceSize[1] {
					t.Errorf("size %d×%d, index says %v", info.Width, info.Height, e.SourceSize)
				}
				if win := p.window(info.Width, info.Height); win.rw != e.Resized[0] || win.rh != e.Resized[1] {
					t.Errorf("resized to %d×%d, index says %v", win.rw, win.rh, e.Resized)
				}
				var maxDiff, sum float64
				for i := range want {
					d := math.Abs(float64(got[i] - want[i]))
					maxDiff = max(maxDiff, d)
					sum += d
				}
				mean := sum / float64(len(want))
				decoder := "libjpeg-turbo"
				limit := goldenMaxDiff
				switch {
				case info.Format != "jpeg":
					decoder = "Go"
				case !turboCompiled || path.opt.PureGo:
					decoder, limit = "Go image/jpeg", stdlibJPEGMaxDiff
				}
				t.Logf("%s [%s path, %s decoder]: max |diff| %.6f, mean |diff| %.7f", e.Image, path.name, decoder, maxDiff, mean)
				if maxDiff > limit || mean > goldenMeanDiff {
					t.Errorf("max |diff| %.6f (limit %v), mean |diff| %.7f (limit %v)", maxDiff, limit, mean, goldenMeanDiff)
				}
			})
		}
	}
}
