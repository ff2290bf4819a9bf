package imageproc

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"mmsearch/internal/imagetest"
)

// allocated returns the bytes fn allocates on the Go heap (an upper bound
// of what it holds at its peak).
func allocated(fn func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// TestTensorMemoryBoundsDecodes checks that TensorMemory's estimate is at
// least what DecodeTensor allocates, for every decoder, so a budget built
// on it bounds the real use.
func TestTensorMemoryBoundsDecodes(t *testing.T) {
	enc := func(fn func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	pal := image.NewPaletted(image.Rect(0, 0, 1500, 1000), []color.Color{color.Black, color.White, color.RGBA{200, 0, 0, 255}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, 600, 400))
	for i := range rgba64.Pix {
		rgba64.Pix[i] = uint8(i * 7)
	}
	pattern := imagetest.Pattern(3, 2000, 1500)
	cases := []struct {
		name string
		data []byte
		opt  Options
	}{
		{"png 16-bit RGBA", imagetest.RawPNG{Width: 2000, Height: 1600, Depth: 16, ColorType: imagetest.PNGRGBA}.Encode(t), Options{}},
		{"png interlaced", imagetest.RawPNG{Width: 1200, Height: 900, Depth: 8, ColorType: imagetest.PNGRGBA, Interlaced: true}.Encode(t), Options{}},
		{"png small", imagetest.PatternPNG(t, 1), Options{}},
		{"gif", enc(func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) }), Options{}},
		{"jpeg", imagetest.JPEG(t, pattern, 90), Options{}},
		{"jpeg pure Go", imagetest.JPEG(t, pattern, 90), Options{PureGo: true}},
		{"bmp", enc(func(b *bytes.Buffer) error { return bmp.Encode(b, pattern) }), Options{}},
		{"tiff 16-bit", enc(func(b *bytes.Buffer) error { return tiff.Encode(b, rgba64, nil) }), Options{}},
	}
	for _, name := range []string{"tree.webp", "kookaburras.pnm"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "images", "formats", name)); err == nil {
			cases = append(cases, struct {
				name string
				data []byte
				opt  Options
			}{name, data, Options{}})
		}
	}
	p := CLIP(224)
	dst := make([]float32, p.Len())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			est := TensorMemory(c.data, c.opt, p)
			var err error
			used := allocated(func() {
				_, err = DecodeTensor(bytes.NewReader(c.data), c.name, int64(len(c.data)), c.opt, p, dst)
			})
			if err != nil {
				t.Fatal(err)
			}
			used -= int64(len(c.data)) // DecodeTensor's copy of the input, which callers already hold
			t.Logf("estimate %.1f MB, allocated %.1f MB", float64(est)/1e6, float64(used)/1e6)
			if used > est {
				t.Errorf("allocated %d bytes, over the estimate of %d", used, est)
			}
		})
	}
}

// TestTensorMemoryOfBomb checks the estimates for issue 19's 100-megapixel
// 16-bit RGBA PNG from its header: a few MB when reduced while decoding
// (image/png would take 1.6 GB), and a refused image costs nothing.
func TestTensorMemoryOfBomb(t *testing.T) {
	header := func(w, h uint32, depth, ct byte, interlace byte) []byte {
		b := pngWithHeader(w, h)
		b[24], b[25], b[28] = depth, ct, interlace
		binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
		return b
	}
	p := CLIP(224)
	for _, c := range []struct {
		name string
		data []byte
		opt  Options
		max  int64
	}{
		{"10000×10000 16-bit RGBA", header(10000, 10000, 16, 6, 0), Options{}, 16 << 20},
		{"same, interlaced", header(10000, 10000, 16, 6, 1), Options{}, 40 << 20},
		{"over the pixel limit", header(100000, 100000, 16, 6, 0), Options{}, tensorSlack},
		{"not an image", []byte("hello"), Options{}, tensorSlack},
	} {
		if est := TensorMemory(c.data, c.opt, p); est > c.max {
			t.Errorf("%s: estimate %d, want at most %d", c.name, est, c.max)
		}
	}
}
