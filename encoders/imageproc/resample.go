package imageproc

import (
	"image"
	"math"
)

// This file reproduces Pillow's Resample.c (ImagingResample with an 8-bit
// image): separable convolution, horizontal pass first, weights normalised
// to sum 1 and quantised to 22-bit fixed point, each pass rounded and
// clipped to 8 bits. Downscaling widens the filter by the scale factor
// (antialiasing). Only the output pixels inside the crop window are
// computed; each output pixel depends on its own inputs alone, so the
// result equals PIL's resize followed by crop.

// precisionBits is Pillow's PRECISION_BITS for 8-bit images.
const precisionBits = 32 - 8 - 2

// filter is a resampling kernel with its support radius at scale 1.
type filter struct {
	support float64
	fn      func(float64) float64
}

// bicubicFilter is Pillow's bicubic kernel (a = -0.5). The explicit
// float64 conversions keep the compiler from fusing multiply-adds, so the
// weights round as in Pillow's C on any GOAMD64 level.
var bicubicFilter = filter{support: 2, fn: func(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float64(float64(float64((a+2)*x)-(a+3))*x*x) + 1
	}
	if x < 2 {
		return float64(float64(float64(float64(x-5)*x)+8)*x-4) * a
	}
	return 0
}}

// bilinearFilter is Pillow's triangle kernel.
var bilinearFilter = filter{support: 1, fn: func(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}}

// kernel holds the fixed-point weights for a range of outputs of one axis.
type kernel struct {
	size  int     // weights stored per output (Pillow's ksize)
	start []int   // first input sample of each output
	count []int   // input samples used by each output
	w     []int32 // size weights per output
}

// newKernel computes the weights of outputs lo..hi-1 when inSize samples
// are resampled to outSize, exactly as Pillow's precompute_coeffs and
// normalize_coeffs_8bpc do. extent is the span of input the outputs cover,
// Pillow's in1 - in0 for a box starting at 0: inSize itself, except after
// a reduced-resolution decode whose last sample stands for a partial block
// (700 pixels at 1/8 give 88 samples covering 87.5).
func newKernel(inSize int, extent float64, outSize int, f filter, lo, hi int) kernel {
	scale := extent / float64(outSize)
	filterscale := max(scale, 1)
	support := f.support * filterscale
	size := int(math.Ceil(support))*2 + 1
	k := kernel{size: size, start: make([]int, hi-lo), count: make([]int, hi-lo), w: make([]int32, (hi-lo)*size)}
	pre := make([]float64, size)
	ss := 1 / filterscale
	for xx := lo; xx < hi; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := f.fn(float64(float64(x+xmin)-center+0.5) * ss)
			pre[x] = w
			ww += w
		}
		i := xx - lo
		k.start[i], k.count[i] = xmin, xmax
		kw := k.w[i*size : i*size+size]
		for x := 0; x < xmax; x++ {
			v := pre[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				kw[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				kw[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
	}
	return k
}

// span returns the input range [first, last) that the kernel reads.
func (k kernel) span() (first, last int) {
	first, last = k.start[0], 0
	for i, s := range k.start {
		first = min(first, s)
		last = max(last, s+k.count[i])
	}
	return first, last
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// window is the part of a resized image that is wanted: the image is
// resized to rw×rh and the size×size square at (x, y) kept.
type window struct {
	rw, rh, x, y, size int
}

// resampleCrop resizes src to win.rw×win.rh with filter f and returns the
// win.size² pixels of the window as packed 8-bit RGB. src may be a
// reduced-resolution decode, by factor reduce, of a fullW×fullH image. An image with transparency is
// resampled premultiplied and unpremultiplied afterwards, as Pillow does
// for RGBA, before its alpha is dropped; untouched (same-size) images just
// drop alpha, as Pillow's resize then returns a plain copy.
func resampleCrop(src *image.NRGBA, opaque bool, fullW, fullH, reduce int, win window, f filter) []uint8 {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	extW, extH := float64(w), float64(h)
	if reduce > 1 {
		extW, extH = float64(fullW)/float64(reduce), float64(fullH)/float64(reduce)
	}
	s := win.size
	needH, needV := win.rw != w, win.rh != h
	// Rows are premultiplied one at a time as they are read, not as a
	// copy of the whole image.
	premul := !opaque && (needH || needV)
	ch := 3
	var premulRow []uint8
	if premul {
		ch = 4
		premulRow = make([]uint8, 4*w)
	}
	row := func(y int) []uint8 {
		in := src.Pix[y*src.Stride : y*src.Stride+4*w]
		if !premul {
			return in
		}
		premultiplyRow(in, premulRow)
		return premulRow
	}
	var vk kernel
	first, last := win.y, win.y+s
	if needV {
		vk = newKernel(h, extH, win.rh, f, win.y, win.y+s)
		first, last = vk.span()
	}
	rowLen := s * ch
	tmp := make([]uint8, (last-first)*rowLen)
	if needH {
		hk := newKernel(w, extW, win.rw, f, win.x, win.x+s)
		for y := first; y < last; y++ {
			in := row(y)
			out := tmp[(y-first)*rowLen : (y-first+1)*rowLen]
			if ch == 3 {
				horizontal3(in, out, hk)
			} else {
				horizontal4(in, out, hk)
			}
		}
	} else {
		for y := first; y < last; y++ {
			in := row(y)[4*win.x : 4*(win.x+s)]
			out := tmp[(y-first)*rowLen : (y-first+1)*rowLen]
			for x := 0; x < s; x++ {
				copy(out[x*ch:x*ch+ch], in[4*x:4*x+ch])
			}
		}
	}
	res := tmp
	if needV {
		res = make([]uint8, s*rowLen)
		acc := make([]int32, rowLen)
		for j := 0; j < s; j++ {
			for i := range acc {
				acc[i] = 1 << (precisionBits - 1)
			}
			n := vk.count[j]
			base := (vk.start[j] - first) * rowLen
			for t, wt := range vk.w[j*vk.size : j*vk.size+n] {
				in := tmp[base+t*rowLen : base+(t+1)*rowLen]
				acc := acc[:len(in)] // lets the compiler drop bounds checks
				for i, v := range in {
					acc[i] += int32(v) * wt
				}
			}
			out := res[j*rowLen : (j+1)*rowLen]
			for i, v := range acc {
				out[i] = clip8(v)
			}
		}
	}
	if ch == 3 {
		return res
	}
	rgb := make([]uint8, s*s*3)
	for i := 0; i < s*s; i++ {
		p := res[4*i : 4*i+4]
		r, g, b, a := p[0], p[1], p[2], p[3]
		if a != 0 && a != 255 {
			r, g, b = unpremulPIL(r, a), unpremulPIL(g, a), unpremulPIL(b, a)
		}
		rgb[3*i], rgb[3*i+1], rgb[3*i+2] = r, g, b
	}
	return rgb
}

// horizontal3 resamples one row of 4-byte pixels into packed RGB.
// The loops walk the pixels and weights by re-slicing, which lets the
// compiler drop the bounds checks from the inner loop.
func horizontal3(in, out []uint8, k kernel) {
	const half = int32(1 << (precisionBits - 1))
	for x, start := range k.start {
		ws := k.w[x*k.size : x*k.size+k.count[x]]
		px := in[4*start:]
		r, g, b := half, half, half
		for _, w := range ws {
			if len(px) < 4 {
				break
			}
			r += int32(px[0]) * w
			g += int32(px[1]) * w
			b += int32(px[2]) * w
			px = px[4:]
		}
		o := out[3*x : 3*x+3 : 3*x+3]
		o[0], o[1], o[2] = clip8(r), clip8(g), clip8(b)
	}
}

// horizontal4 is horizontal3 for premultiplied RGBA.
func horizontal4(in, out []uint8, k kernel) {
	const half = int32(1 << (precisionBits - 1))
	for x, start := range k.start {
		ws := k.w[x*k.size : x*k.size+k.count[x]]
		px := in[4*start:]
		r, g, b, a := half, half, half, half
		for _, w := range ws {
			if len(px) < 4 {
				break
			}
			r += int32(px[0]) * w
			g += int32(px[1]) * w
			b += int32(px[2]) * w
			a += int32(px[3]) * w
			px = px[4:]
		}
		o := out[4*x : 4*x+4 : 4*x+4]
		o[0], o[1], o[2], o[3] = clip8(r), clip8(g), clip8(b), clip8(a)
	}
}

// premultiplyRow writes a row of NRGBA pixels premultiplied by alpha, the
// way Pillow's RGBA→RGBa conversion rounds, into out.
func premultiplyRow(in, out []uint8) {
	for x := 0; x+3 < len(in); x += 4 {
		a := uint32(in[x+3])
		out[x] = uint8(muldiv255(uint32(in[x]), a))
		out[x+1] = uint8(muldiv255(uint32(in[x+1]), a))
		out[x+2] = uint8(muldiv255(uint32(in[x+2]), a))
		out[x+3] = in[x+3]
	}
}

// unpremulPIL is Pillow's RGBa→RGBA for one channel: 255·c/a truncated, clipped.
func unpremulPIL(c, a uint8) uint8 {
	v := 255 * uint32(c) / uint32(a)
	if v > 255 {
		return 255
	}
	return uint8(v)
}
