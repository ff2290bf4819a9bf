package imageproc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// fuzzSeeds returns small valid images of every format, with truncations.
func fuzzSeeds(t testing.TB) [][]byte {
	img := image.NewNRGBA(image.Rect(0, 0, 12, 9))
	for y := 0; y < 9; y++ {
		for x := 0; x < 12; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(20 * x), uint8(25 * y), uint8(7 * x * y), uint8(255 - 10*x)})
		}
	}
	var seeds [][]byte
	add := func(encode func(*bytes.Buffer) error) {
		var buf bytes.Buffer
		if err := encode(&buf); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, buf.Bytes())
	}
	add(func(b *bytes.Buffer) error { return jpeg.Encode(b, img, &jpeg.Options{Quality: 80}) })
	add(func(b *bytes.Buffer) error { return png.Encode(b, img) })
	add(func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) })
	add(func(b *bytes.Buffer) error { return bmp.Encode(b, img) })
	add(func(b *bytes.Buffer) error { return tiff.Encode(b, img, &tiff.Options{Compression: tiff.Deflate}) })
	seeds = append(seeds,
		[]byte("P1 3 2\n1 0 1\n0 1 0\n"),
		[]byte("P2 2 2 15\n0 15 7 3\n"),
		[]byte("P3 1 2 255\n1 2 3 4 5 6\n"),
		[]byte("P4 9 2\n\xff\x80\x00\x00"),
		[]byte("P5 2 1 65535\n\x12\x34\xff\xff"),
		[]byte("P6 1 1 255\n\x01\x02\x03"),
	)
	// Go has no WebP encoder: tiny 1×1 WebPs in each flavour.
	for _, w := range tinyWebPs {
		data, err := base64.StdEncoding.DecodeString(w.b64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	n := len(seeds)
	for _, s := range seeds[:n] {
		for _, frac := range []int{1, 3, 6, 9} {
			seeds = append(seeds, s[:len(s)*frac/10])
		}
	}
	return seeds
}

// FuzzDecode feeds arbitrary bytes to both decoding paths and the
// preprocessing: never a panic, and every failure is an *Error wrapping
// one of the package's sentinels.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	sentinels := []error{ErrNotImage, ErrTooLarge, ErrCorrupt, ErrUnsupported}
	p := CLIP(16)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opt := range []Options{{MaxPixels: 1 << 20}, {MaxPixels: 1 << 20, PureGo: true}} {
			img, info, err := Decode(bytes.NewReader(data), "fuzz", int64(len(data)), opt)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Name != "fuzz" {
					t.Fatalf("%v is not an *Error naming the input", err)
				}
				known := false
				for _, s := range sentinels {
					known = known || errors.Is(err, s)
				}
				if !known {
					t.Fatalf("%v wraps none of the sentinel errors", err)
				}
				continue
			}
			b := img.Bounds()
			if b.Min != (image.Point{}) || b.Dx() != info.Width || b.Dy() != info.Height || len(img.Pix) != 4*b.Dx()*b.Dy() {
				t.Fatalf("image %v (%d bytes) does not match info %+v", b, len(img.Pix), info)
			}
			if int64(info.Width)*int64(info.Height) > opt.MaxPixels {
				t.Fatalf("%d×%d passed the pixel limit", info.Width, info.Height)
			}
			dst := make([]float32, p.Len())
			if err := p.Tensor(img, dst); err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeTensor(bytes.NewReader(data), "fuzz", -1, opt, p, dst); err != nil {
				t.Fatalf("DecodeTensor failed where Decode succeeded: %v", err)
			}
		}
	})
}
