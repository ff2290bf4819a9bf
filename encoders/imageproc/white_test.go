package imageproc

import (
	"image"
	"image/color"
	"testing"
)

// TestOnWhite checks that transparent pixels become white, opaque ones stay,
// and half-transparent ones blend with white.
func TestOnWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(10, 20, 13, 21)) // bounds away from the origin
	img.SetNRGBA(10, 20, color.NRGBA{0, 0, 0, 0})
	img.SetNRGBA(11, 20, color.NRGBA{200, 10, 30, 255})
	img.SetNRGBA(12, 20, color.NRGBA{0, 0, 0, 128})
	out := OnWhite(img)
	if out.Bounds().Dx() != 3 || out.Bounds().Dy() != 1 {
		t.Fatalf("bounds %v", out.Bounds())
	}
	for i, c := range []struct {
		want color.NRGBA
		tol  uint8
	}{{color.NRGBA{255, 255, 255, 255}, 0}, {color.NRGBA{200, 10, 30, 255}, 0}, {color.NRGBA{127, 127, 127, 255}, 2}} {
		got := out.NRGBAAt(out.Bounds().Min.X+i, out.Bounds().Min.Y)
		if diff(got.R, c.want.R) > c.tol || diff(got.G, c.want.G) > c.tol || diff(got.B, c.want.B) > c.tol || got.A != 255 {
			t.Errorf("pixel %d: %v, want %v", i, got, c.want)
		}
	}
}

func diff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
