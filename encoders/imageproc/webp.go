package imageproc

import "image"

// WebP lossy images are VP8 frames: limited-range BT.601 YCbCr with 4:2:0
// chroma. golang.org/x/image/webp returns the planes as an *image.YCbCr,
// whose At method would read them as full-range JFIF (washed-out colours).
// vp8ToRGBA converts them the way libwebp does for RGB(A) output, which is
// what PIL uses: "fancy" upsampling of chroma (a 9-3-3-1 filter evaluated on
// pairs of output rows) and libwebp's 14-bit fixed-point conversion.

// vp8Clip8 is libwebp's VP8Clip8 (values carry 6 fractional bits).
func vp8Clip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func multHi(v, coeff int) int { return (v * coeff) >> 8 }

// vp8Pixel converts one limited-range YUV sample to RGB, as libwebp's
// VP8YuvToRgb does.
func vp8Pixel(y, u, v int, d []uint8) {
	yy := multHi(y, 19077)
	d[0] = vp8Clip8(yy + multHi(v, 26149) - 14234)
	d[1] = vp8Clip8(yy - multHi(u, 6419) - multHi(v, 13320) + 8708)
	d[2] = vp8Clip8(yy + multHi(u, 33050) - 17685)
	d[3] = 255
}

// vp8UpsampleRows converts one or two output rows. topY is an output row,
// bottomY the row below it (nil when there is none); topU/topV and curU/curV
// are the chroma rows nearest to topY and bottomY respectively.
func vp8UpsampleRows(topY, bottomY, topU, topV, curU, curV []uint8, topDst, bottomDst []uint8, n int) {
	// edge returns (3a + b + 2) / 4 for both chroma planes.
	edge := func(a1, b1, a2, b2 uint8) (int, int) {
		return (3*int(a1) + int(b1) + 2) >> 2, (3*int(a2) + int(b2) + 2) >> 2
	}
	tlU, tlV := topU[0], topV[0]
	lU, lV := curU[0], curV[0]
	u, v := edge(tlU, lU, tlV, lV)
	vp8Pixel(int(topY[0]), u, v, topDst[0:4])
	if bottomY != nil {
		u, v = edge(lU, tlU, lV, tlV)
		vp8Pixel(int(bottomY[0]), u, v, bottomDst[0:4])
	}
	last := (n - 1) >> 1
	for x := 1; x <= last; x++ {
		tU, tV := topU[x], topV[x]
		cU, cV := curU[x], curV[x]
		avgU := int(tlU) + int(tU) + int(lU) + int(cU) + 8
		avgV := int(tlV) + int(tV) + int(lV) + int(cV) + 8
		d12U := (avgU + 2*(int(tU)+int(lU))) >> 3
		d12V := (avgV + 2*(int(tV)+int(lV))) >> 3
		d03U := (avgU + 2*(int(tlU)+int(cU))) >> 3
		d03V := (avgV + 2*(int(tlV)+int(cV))) >> 3
		vp8Pixel(int(topY[2*x-1]), (d12U+int(tlU))>>1, (d12V+int(tlV))>>1, topDst[4*(2*x-1):])
		vp8Pixel(int(topY[2*x]), (d03U+int(tU))>>1, (d03V+int(tV))>>1, topDst[4*(2*x):])
		if bottomY != nil {
			vp8Pixel(int(bottomY[2*x-1]), (d03U+int(lU))>>1, (d03V+int(lV))>>1, bottomDst[4*(2*x-1):])
			vp8Pixel(int(bottomY[2*x]), (d12U+int(cU))>>1, (d12V+int(cV))>>1, bottomDst[4*(2*x):])
		}
		tlU, tlV, lU, lV = tU, tV, cU, cV
	}
	if n&1 == 0 {
		u, v = edge(tlU, lU, tlV, lV)
		vp8Pixel(int(topY[n-1]), u, v, topDst[4*(n-1):])
		if bottomY != nil {
			u, v = edge(lU, tlU, lV, tlV)
			vp8Pixel(int(bottomY[n-1]), u, v, bottomDst[4*(n-1):])
		}
	}
}

// vp8ToRGBA converts a 4:2:0 VP8 frame into dst (same size, origin 0,0).
// When alpha is non-nil its A plane is copied too.
func vp8ToRGBA(src *image.YCbCr, alpha *image.NYCbCrA, dst *image.NRGBA) {
	b := src.Rect
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return
	}
	yRow := func(y int) []uint8 { return src.Y[src.YOffset(b.Min.X, b.Min.Y+y):][:w] }
	cw := (b.Max.X+1)/2 - b.Min.X/2
	uRow := func(cy int) []uint8 {
		i := src.COffset(b.Min.X, b.Min.Y+2*cy)
		return src.Cb[i : i+cw]
	}
	vRow := func(cy int) []uint8 {
		i := src.COffset(b.Min.X, b.Min.Y+2*cy)
		return src.Cr[i : i+cw]
	}
	dRow := func(y int) []uint8 { return dst.Pix[y*dst.Stride : y*dst.Stride+4*w] }
	// Row 0 uses chroma row 0 alone; then rows (2k-1, 2k) pair chroma rows
	// k-1 and k; an even height ends with a last row on the last chroma row.
	vp8UpsampleRows(yRow(0), nil, uRow(0), vRow(0), uRow(0), vRow(0), dRow(0), nil, w)
	k := 1
	for ; 2*k < h; k++ {
		vp8UpsampleRows(yRow(2*k-1), yRow(2*k), uRow(k-1), vRow(k-1), uRow(k), vRow(k), dRow(2*k-1), dRow(2*k), w)
	}
	if h&1 == 0 {
		c := h/2 - 1
		vp8UpsampleRows(yRow(h-1), nil, uRow(c), vRow(c), uRow(c), vRow(c), dRow(h-1), nil, w)
	}
	if alpha != nil {
		for y := 0; y < h; y++ {
			a := alpha.A[alpha.AOffset(b.Min.X, b.Min.Y+y):][:w]
			d := dRow(y)
			for x := 0; x < w; x++ {
				d[4*x+3] = a[x]
			}
		}
	}
}
