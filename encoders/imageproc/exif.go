package imageproc

import (
	"encoding/binary"
	"image"

	"mmsearch/encoders/imageproc/exif"
)

// jpegOrientation returns the EXIF orientation (1..8) stored in a JPEG's
// APP1 Exif segment, or 1 when there is none or it cannot be read. It walks
// the marker segments up to the first scan and checks every offset against
// the data it has, so hostile input cannot make it read out of bounds.
func jpegOrientation(data []byte) int {
	if o, ok := exifOrientation(exif.FromJPEG(data)); ok {
		return o
	}
	return 1
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured Exif block.
func exifOrientation(t []byte) (int, bool) {
	if len(t) < 8 {
		return 0, false
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, false
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0, false
	}
	off := uint64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > uint64(len(t)) {
		return 0, false
	}
	n := int(bo.Uint16(t[off:]))
	p := int(off) + 2
	for k := 0; k < n; k++ {
		e := p + 12*k
		if e+12 > len(t) {
			return 0, false
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		var v uint32
		switch typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:]); {
		case count != 1:
			return 0, false
		case typ == 3: // SHORT
			v = uint32(bo.Uint16(t[e+8:]))
		case typ == 4: // LONG
			v = bo.Uint32(t[e+8:])
		default:
			return 0, false
		}
		if v < 1 || v > 8 {
			return 0, false
		}
		return int(v), true
	}
	return 0, false
}

// orient returns img turned to display orientation for EXIF orientation o.
// For o = 1 (or an unknown value) it returns img itself. The mapping, with
// W×H the stored size, is: 2 mirror left-right, 3 rotate 180°, 4 mirror
// top-bottom, 5 transpose, 6 rotate 90° clockwise, 7 transverse, 8 rotate
// 90° counter-clockwise.
func orient(img *image.NRGBA, o int) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	// Source coordinates of display pixel (x, y):
	// sx = x0 + xx*x + xy*y, sy = y0 + yx*x + yy*y.
	var x0, xx, xy, y0, yx, yy int
	switch o {
	case 2:
		x0, xx, yy = w-1, -1, 1
	case 3:
		x0, xx, y0, yy = w-1, -1, h-1, -1
	case 4:
		xx, y0, yy = 1, h-1, -1
	case 5:
		xy, yx = 1, 1
	case 6:
		xy, y0, yx = 1, h-1, -1
	case 7:
		x0, xy, y0, yx = w-1, -1, h-1, -1
	case 8:
		x0, xy, yx = w-1, -1, 1
	default:
		return img
	}
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	stride := img.Stride
	stepX := yx*stride + xx*4 // source offset change per display x
	stepY := yy*stride + xy*4 // source offset change per display y
	rowStart := img.PixOffset(img.Rect.Min.X+x0, img.Rect.Min.Y+y0)
	for y := 0; y < dh; y++ {
		s := rowStart
		d := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for x := 0; x < len(d); x += 4 {
			copy(d[x:x+4], img.Pix[s:s+4])
			s += stepX
		}
		rowStart += stepY
	}
	return dst
}
