package imageproc

import (
	"bytes"
	"image"
	"testing"

	"github.com/disintegration/imaging"

	"mmsearch/internal/imagetest"
)

// TestThumbnailReduced checks that Thumbnail decodes large PNGs and JPEGs
// at reduced resolution and still gives the thumbnail of a full decode:
// the same size and nearly the same pixels.
func TestThumbnailReduced(t *testing.T) {
	pattern := imagetest.Pattern(5, 2400, 1600)
	small := imagetest.Pattern(6, 300, 200)
	for _, c := range []struct {
		name      string
		data      []byte
		size      int
		wantScale int
	}{
		{"png 512", imagetest.PNG(t, pattern), 512, 2},
		{"png 128", imagetest.PNG(t, pattern), 128, 8},
		{"jpeg 256", imagetest.JPEG(t, pattern, 92), 256, turboScale(4)},
		{"png that fits", imagetest.PNG(t, small), 512, 1},
		{"png just over", imagetest.PNG(t, small), 256, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, info, err := Thumbnail(c.data, c.name, Options{}, c.size)
			if err != nil {
				t.Fatal(err)
			}
			if info.Scale != c.wantScale {
				t.Errorf("decoded with scale %d, want %d", info.Scale, c.wantScale)
			}
			full, _, err := Decode(bytes.NewReader(c.data), c.name, int64(len(c.data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := imaging.Fit(full, c.size, c.size, imaging.Lanczos)
			if got.Bounds() != want.Bounds() {
				t.Fatalf("thumbnail %v, want %v", got.Bounds(), want.Bounds())
			}
			if d := meanAbsDiff(got, want); d > 3 {
				t.Errorf("mean difference from the full decode's thumbnail %.2f levels, want ≤ 3", d)
			}
		})
	}
	if _, _, err := Thumbnail(imagetest.PNG(t, small), "x", Options{}, 0); err == nil {
		t.Error("size 0 accepted")
	}
	if _, _, err := Thumbnail([]byte("not an image"), "x", Options{}, 128); err == nil {
		t.Error("garbage accepted")
	}
}

// turboScale is the JPEG scale expected with libjpeg-turbo, 1 without.
func turboScale(s int) int {
	if turboCompiled {
		return s
	}
	return 1
}

func meanAbsDiff(a, b *image.NRGBA) float64 {
	var sum int64
	for i := range a.Pix {
		d := int64(a.Pix[i]) - int64(b.Pix[i])
		sum += max(d, -d)
	}
	return float64(sum) / float64(len(a.Pix))
}

// TestThumbnailMemoryBoundsThumbnails checks that ThumbnailMemory is at
// least what Thumbnail allocates, and that a 100-megapixel 16-bit PNG's
// thumbnail is estimated (and decoded) in a few tens of MB, not the
// 400 MB of a full decode.
func TestThumbnailMemoryBoundsThumbnails(t *testing.T) {
	pattern := imagetest.Pattern(3, 2000, 1500)
	cases := []struct {
		name string
		data []byte
		opt  Options
		size int
	}{
		{"png 16-bit RGBA 512", imagetest.RawPNG{Width: 2000, Height: 1600, Depth: 16, ColorType: imagetest.PNGRGBA}.Encode(t), Options{}, 512},
		{"png interlaced 128", imagetest.RawPNG{Width: 1200, Height: 900, Depth: 8, ColorType: imagetest.PNGRGBA, Interlaced: true}.Encode(t), Options{}, 128},
		{"jpeg 256", imagetest.JPEG(t, pattern, 90), Options{}, 256},
		{"jpeg pure Go 256", imagetest.JPEG(t, pattern, 90), Options{PureGo: true}, 256},
		{"png small 512", imagetest.PatternPNG(t, 1), Options{}, 512},
	}
	if !testing.Short() {
		cases = append(cases, struct {
			name string
			data []byte
			opt  Options
			size int
		}{"png 10000×10000 16-bit 512", imagetest.ZeroPNG16(t, 10000, 10000), Options{}, 512})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			est := ThumbnailMemory(c.data, c.opt, c.size)
			var err error
			used := allocated(func() { _, _, err = Thumbnail(c.data, c.name, c.opt, c.size) })
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("estimate %.1f MB, allocated %.1f MB", float64(est)/1e6, float64(used)/1e6)
			if used > est {
				t.Errorf("allocated %d bytes, over the estimate of %d", used, est)
			}
			if est > 64<<20 {
				t.Errorf("estimate %d bytes, want under 64 MB", est)
			}
		})
	}
}
