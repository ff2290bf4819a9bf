package imageproc

import (
	"image"
	"image/color"
)

// toNRGBA converts a decoded image to an *image.NRGBA with 8-bit sRGB colour,
// straight alpha, and its top-left corner at (0, 0). format is the name the
// image was decoded as; it selects the YCbCr conversion (WebP's VP8 uses
// limited-range BT.601, JPEG full-range JFIF). The result may share memory
// with m when m is already a suitable *image.NRGBA. opaque reports whether
// every pixel has A = 255.
func toNRGBA(m image.Image, format string) (img *image.NRGBA, opaque bool) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if src, ok := m.(*image.NRGBA); ok && b.Min == (image.Point{}) && src.Stride == 4*w {
		return src, alphaOpaque(src.Pix)
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	opaque = true
	switch src := m.(type) {
	case *image.YCbCr:
		if format == "webp" && src.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			vp8ToRGBA(src, nil, dst)
		} else {
			jfifToRGBA(src, dst)
		}
	case *image.NYCbCrA:
		if format == "webp" && src.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			vp8ToRGBA(&src.YCbCr, src, dst)
		} else {
			jfifToRGBA(&src.YCbCr, dst)
			for y := 0; y < h; y++ {
				a := src.A[(y+b.Min.Y-src.Rect.Min.Y)*src.AStride+b.Min.X-src.Rect.Min.X:]
				d := dst.Pix[y*dst.Stride:]
				for x := 0; x < w; x++ {
					d[4*x+3] = a[x]
				}
			}
		}
		opaque = alphaOpaque(dst.Pix)
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*w], src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		opaque = alphaOpaque(dst.Pix)
	case *image.RGBA:
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < 4*w; x += 4 {
				r, g, bl, a := s[x], s[x+1], s[x+2], s[x+3]
				if a != 255 {
					opaque = false
					if a != 0 {
						r = unpremul8(r, a)
						g = unpremul8(g, a)
						bl = unpremul8(bl, a)
					}
				}
				d[x], d[x+1], d[x+2], d[x+3] = r, g, bl, a
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				v := s[x]
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = v, v, v, 255
			}
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				v := s[2*x] // high byte
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = v, v, v, 255
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = s[8*x], s[8*x+2], s[8*x+4], s[8*x+6]
				if s[8*x+6] != 255 {
					opaque = false
				}
			}
		}
	case *image.Paletted:
		var pal [256][4]uint8
		palOpaque := true
		for i, c := range src.Palette {
			if i == 256 {
				break
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [4]uint8{n.R, n.G, n.B, n.A}
			palOpaque = palOpaque && n.A == 255
		}
		// Indices beyond the palette are opaque black.
		for i := len(src.Palette); i < 256; i++ {
			pal[i] = [4]uint8{0, 0, 0, 255}
		}
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				copy(d[4*x:4*x+4], pal[s[x]][:])
			}
		}
		if !palOpaque {
			opaque = alphaOpaque(dst.Pix)
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				c, mg, ye, k := s[4*x], s[4*x+1], s[4*x+2], s[4*x+3]
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = cmyk8(c, k), cmyk8(mg, k), cmyk8(ye, k), 255
			}
		}
	default:
		for y := 0; y < h; y++ {
			d := dst.Pix[y*dst.Stride:]
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), uint8(c.A>>8)
			}
		}
		opaque = alphaOpaque(dst.Pix)
	}
	return dst, opaque
}

// alphaOpaque reports whether every A byte of NRGBA pixel data is 255.
func alphaOpaque(pix []uint8) bool {
	for i := 3; i < len(pix); i += 4 {
		if pix[i] != 255 {
			return false
		}
	}
	return true
}

// unpremul8 undoes premultiplication of one 8-bit channel (0 < a < 255).
func unpremul8(c, a uint8) uint8 {
	v := (uint32(c)*255 + uint32(a)/2) / uint32(a)
	if v > 255 {
		v = 255
	}
	return uint8(v)
}

// cmyk8 is PIL's CMYK→RGB for one channel: (255-k) - (c·(255-k))/255, rounded.
func cmyk8(c, k uint8) uint8 {
	nk := 255 - uint32(k)
	return uint8(nk - muldiv255(uint32(c), nk))
}

// muldiv255 is PIL's rounded a·b/255 for 8-bit a and b.
func muldiv255(a, b uint32) uint32 {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}
