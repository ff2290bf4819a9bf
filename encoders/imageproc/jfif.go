package imageproc

import "image"

// JPEG colour conversion for the standard-library decoder, done the way
// libjpeg-turbo (and so PIL) does it: "fancy" triangular upsampling of
// subsampled chroma (jdsample.c) and table-driven YCbCr→RGB with 16-bit
// fixed point (jdcolor.c). Go's own YCbCr.At repeats each chroma sample
// instead, which moves colour edges by up to a pixel.

// jfifTables are libjpeg's YCbCr→RGB lookup tables.
type jfifTables struct {
	crR, cbB   [256]int32
	crG, cbG   [256]int32 // scaled by 2^16, cbG includes the rounding half
	rangeLimit func(int32) uint8
}

func newJFIFTables() *jfifTables {
	const scaleBits = 16
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	t := &jfifTables{}
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		t.crR[i] = (fix(1.40200)*x + 1<<(scaleBits-1)) >> scaleBits
		t.cbB[i] = (fix(1.77200)*x + 1<<(scaleBits-1)) >> scaleBits
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + 1<<(scaleBits-1)
	}
	return t
}

func limit8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// upsampleH2 doubles a row of chroma (or of vertical 3:1 chroma sums, for
// h2v2) horizontally into out (len ≥ 2·len(in)) with libjpeg's triangle
// filter: the edge outputs weigh the edge sample 4, the others 3:1 with
// the neighbour, and the biases alternate as in jdsample.c.
func upsampleH2(in []int32, out []uint8, biasLo, biasHi int32, shift uint) {
	n := len(in) // callers guarantee n > 2, as libjpeg uses this filter only then
	_ = out[2*n-1]
	out[0] = uint8((in[0]*4 + biasHi) >> shift)
	out[1] = uint8((in[0]*3 + in[1] + biasLo) >> shift)
	for c := 1; c < n-1; c++ {
		out[2*c] = uint8((in[c]*3 + in[c-1] + biasHi) >> shift)
		out[2*c+1] = uint8((in[c]*3 + in[c+1] + biasLo) >> shift)
	}
	out[2*n-2] = uint8((in[n-1]*3 + in[n-2] + biasHi) >> shift)
	out[2*n-1] = uint8((in[n-1]*4 + biasLo) >> shift)
}

// jfifToRGBA converts a decoded JPEG's YCbCr planes into dst (same size,
// origin 0,0), upsampling chroma as libjpeg-turbo does with
// do_fancy_upsampling for 4:2:0, 4:2:2 and 4:4:0, and by repetition for
// the rarer ratios.
func jfifToRGBA(src *image.YCbCr, dst *image.NRGBA) {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return
	}
	t := newJFIFTables()
	cw := (b.Max.X+1)/2 - b.Min.X/2 // chroma samples per row when halved horizontally
	chRows := (b.Max.Y+1)/2 - b.Min.Y/2
	cb := make([]uint8, 2*w+2)
	cr := make([]uint8, 2*w+2)
	sumCb := make([]int32, w)
	sumCr := make([]int32, w)
	chromaRow := func(plane []uint8, cy int) []uint8 {
		// cy counts chroma rows from the image's top.
		i := src.COffset(b.Min.X, b.Min.Y) + cy*src.CStride
		return plane[i:]
	}
	for y := 0; y < h; y++ {
		switch ratio := src.SubsampleRatio; {
		case ratio == image.YCbCrSubsampleRatio444:
			i := src.COffset(b.Min.X, b.Min.Y+y)
			copy(cb[:w], src.Cb[i:i+w])
			copy(cr[:w], src.Cr[i:i+w])
		case ratio == image.YCbCrSubsampleRatio422 && cw > 2:
			i := src.COffset(b.Min.X, b.Min.Y+y)
			for c := 0; c < cw; c++ {
				sumCb[c], sumCr[c] = int32(src.Cb[i+c]), int32(src.Cr[i+c])
			}
			upsampleH2(sumCb[:cw], cb, 2, 1, 2)
			upsampleH2(sumCr[:cw], cr, 2, 1, 2)
		case ratio == image.YCbCrSubsampleRatio440:
			near, far, bias := verticalPair(y, chRows)
			nCb, fCb := chromaRow(src.Cb, near), chromaRow(src.Cb, far)
			nCr, fCr := chromaRow(src.Cr, near), chromaRow(src.Cr, far)
			for x := 0; x < w; x++ {
				cb[x] = uint8((int32(nCb[x])*3 + int32(fCb[x]) + bias) >> 2)
				cr[x] = uint8((int32(nCr[x])*3 + int32(fCr[x]) + bias) >> 2)
			}
		case ratio == image.YCbCrSubsampleRatio420 && cw > 2:
			near, far, _ := verticalPair(y, chRows)
			nCb, fCb := chromaRow(src.Cb, near), chromaRow(src.Cb, far)
			nCr, fCr := chromaRow(src.Cr, near), chromaRow(src.Cr, far)
			for c := 0; c < cw; c++ {
				sumCb[c] = int32(nCb[c])*3 + int32(fCb[c])
				sumCr[c] = int32(nCr[c])*3 + int32(fCr[c])
			}
			upsampleH2(sumCb[:cw], cb, 7, 8, 4)
			upsampleH2(sumCr[:cw], cr, 7, 8, 4)
		default:
			for x := 0; x < w; x++ {
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				cb[x], cr[x] = src.Cb[ci], src.Cr[ci]
			}
		}
		yr := src.Y[src.YOffset(b.Min.X, b.Min.Y+y):][:w]
		d := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
		cbr, crr := cb[:w], cr[:w]
		for x, yv := range yr {
			yy, cbv, crv := int32(yv), cbr[x], crr[x]
			p := d[4*x : 4*x+4 : 4*x+4]
			p[0] = limit8(yy + t.crR[crv])
			p[1] = limit8(yy + (t.cbG[cbv]+t.crG[crv])>>16)
			p[2] = limit8(yy + t.cbB[cbv])
			p[3] = 255
		}
	}
}

// verticalPair gives, for output row y of an image whose chroma is halved
// vertically, the nearest chroma row, the next nearest (above for even
// rows, below for odd ones, the edge row repeated at the borders) and
// libjpeg's h1v2 rounding bias.
func verticalPair(y, rows int) (near, far int, bias int32) {
	near = y / 2
	if y%2 == 0 {
		return near, max(near-1, 0), 1
	}
	return near, min(near+1, rows-1), 2
}
