package imageproc

import "image"

// tensorSlack covers the small buffers of a decode and resize beside the
// pixels: rows, kernels, the crop window.
const tensorSlack = 1 << 20

// TensorMemory estimates, from the header alone, the most memory that
// DecodeTensor (or LoadTensor) takes while turning data into a tensor for
// p, beyond data itself: the decoder's own image at its bit depth, the
// 8-bit copy, an EXIF rotation. Formats decoded at reduced resolution
// (PNG, and JPEG with libjpeg-turbo) cost only their reduced size. Data
// whose header cannot be read costs tensorSlack: its decode fails at once.
// Callers use it to budget concurrent decodes (see internal/membudget).
func TensorMemory(data []byte, opt Options, p Preprocess) int64 {
	cfg, format, ok := budgetHeader(data, opt)
	if !ok {
		return tensorSlack
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	r := int64(reduceFactor(cfg.Width, cfg.Height, 2*p.Size))
	rw, rh := (w+r-1)/r, (h+r-1)/r
	// resampleCrop: the rows under the crop window after the horizontal
	// pass (at most all of them, 4 bytes a sample), a premultiplied row,
	// the window itself.
	s := int64(p.Size)
	resample := 4*s*max(rw, rh) + 4*max(rw, rh) + 8*s*s
	return decodeMemory(data, format, cfg.Width, cfg.Height, 2*p.Size, opt) + resample + tensorSlack
}

// decodeMemory is the estimate of TensorMemory for a w×h image in format
// decoded with reduced resolution down to minSide (0: full size).
func decodeMemory(data []byte, format string, w, h, minSide int, opt Options) int64 {
	px := int64(w) * int64(h)
	r := int64(reduceFactor(w, h, minSide))
	rw, rh := (int64(w)+r-1)/r, (int64(h)+r-1)/r
	rpx := rw * rh
	switch format {
	case "png":
		interlaced := len(data) > 28 && data[28] == 1 // IHDR's interlace method
		switch {
		case r == 1:
			return 4*px + 20*int64(w)
		case interlaced:
			return 4*rpx + 16*rpx // output and whole-image sums
		default:
			return 4*rpx + 16*rw + 20*int64(w) // output, one band of sums, rows
		}
	case "jpeg":
		rot := int64(0)
		if jpegOrientation(data) != 1 {
			rot = 1
		}
		if turboCompiled && !opt.PureGo {
			return (4 + 4*rot) * rpx
		}
		// image/jpeg's YCbCr (at most 3 bytes a pixel, CMYK 4), NRGBA, rotation.
		return (4 + 4 + 4*rot) * px
	case "gif":
		return (1 + 4 + 4) * px // palette indices, NRGBA, the canvas of a partial frame
	case "webp":
		if webpAnimated(data) {
			return (4 + 4 + 4) * px // the first frame as above, and the canvas
		}
		return (4 + 4) * px // VP8L's pixels (or VP8's planes), NRGBA
	case "bmp":
		return (4 + 4) * px
	case "tiff":
		// x/image/tiff copies its input into a growing buffer (two or three
		// times its size), then holds the strips' samples (up to 16-bit RGBA),
		// the image and NRGBA; a quarter more for its smaller buffers.
		return 3*int64(len(data)) + (8+8+4+5)*px
	default: // pnm: up to 16 bits a sample of RGBA, then NRGBA
		return (8 + 4) * px
	}
}

// budgetHeader reads the header that a memory estimate starts from. ok is
// false when there is none to read or the picture is refused before decoding
// (over the pixel limit): such data costs only tensorSlack.
func budgetHeader(data []byte, opt Options) (cfg image.Config, format string, ok bool) {
	if len(data) == 0 {
		return cfg, "", false
	}
	cfg, format, err := sniff(data)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return cfg, "", false
	}
	if int64(cfg.Width)*int64(cfg.Height) > opt.maxPixels() {
		return cfg, "", false
	}
	return cfg, format, true
}
