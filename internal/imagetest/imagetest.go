// Package imagetest makes small pictures for tests: distinct patterns drawn
// from a seed, encoded as PNG or JPEG, written to files.
package imagetest

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// Pattern draws a w×h picture whose colours depend on seed. Different seeds
// give different pictures, so different content hashes and embeddings.
func Pattern(seed, w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(seed*37 + x*5*(seed%3+1)),
				G: uint8(seed*11 + y*9),
				B: uint8(seed*53 + x*y + seed*seed),
				A: 255,
			})
		}
	}
	return img
}

// PNG encodes img as PNG.
func PNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// JPEG encodes img as JPEG at quality.
func JPEG(tb testing.TB, img image.Image, quality int) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// PatternPNG is the PNG of the 24×16 Pattern of seed.
func PatternPNG(tb testing.TB, seed int) []byte {
	tb.Helper()
	return PNG(tb, Pattern(seed, 24, 16))
}

// Write writes data to path, making its folder.
func Write(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}
