package imageproc

import (
	"image"
	"image/color"

	"github.com/disintegration/imaging"
)

// OnWhite composes img over an opaque white background of its size, so
// that transparent pictures look as on paper once encoded without alpha
// (JPEG encoders otherwise show transparency as black).
func OnWhite(img image.Image) *image.NRGBA {
	b := img.Bounds()
	bg := imaging.New(b.Dx(), b.Dy(), color.White)
	return imaging.Overlay(bg, img, image.Point{}, 1)
}
