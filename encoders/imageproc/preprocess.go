package imageproc

import (
	"errors"
	"fmt"
	"image"
	"io"
)

// Values of the Preprocess string fields.
const (
	// ResizeShortestEdge scales the shorter side to Size, keeping the aspect
	// ratio (torchvision's Resize(Size)), then crops.
	ResizeShortestEdge = "shortest_edge"
	// ResizeExact scales both sides to Size, ignoring the aspect ratio.
	ResizeExact = "exact"
	// InterpolationBicubic is PIL's antialiased bicubic filter (a = -0.5).
	InterpolationBicubic = "bicubic"
	// InterpolationBilinear is PIL's antialiased bilinear (triangle) filter.
	InterpolationBilinear = "bilinear"
	// CropCenter keeps the centred Size×Size square, offsets rounded half
	// to even as Python's round does (torchvision's CenterCrop).
	CropCenter = "center"
	// CropNone keeps the whole resized image; valid only with ResizeExact.
	CropNone = "none"
	// ChannelOrderRGB writes the red plane first.
	ChannelOrderRGB = "RGB"
	// ChannelOrderBGR writes the blue plane first.
	ChannelOrderBGR = "BGR"
)

// MaxSize bounds Preprocess.Size.
const MaxSize = 4096

// ErrBadPreprocess reports an invalid Preprocess or a destination slice of
// the wrong length.
var ErrBadPreprocess = errors.New("invalid preprocessing configuration")

// Preprocess describes how an image becomes a model input: a
// 3×Size×Size float32 tensor in CHW order. Empty string fields take the
// CLIP values (shortest_edge, bicubic, center, RGB).
type Preprocess struct {
	Size          int
	Resize        string
	Interpolation string
	Crop          string
	Mean, Std     [3]float32
	ChannelOrder  string
}

// CLIP returns OpenAI CLIP's preprocessing for a size×size input (224 for
// ViT-B/32, 336 for ViT-L/14@336px).
func CLIP(size int) Preprocess {
	return Preprocess{
		Size:          size,
		Resize:        ResizeShortestEdge,
		Interpolation: InterpolationBicubic,
		Crop:          CropCenter,
		Mean:          [3]float32{0.48145466, 0.4578275, 0.40821073},
		Std:           [3]float32{0.26862954, 0.26130258, 0.27577711},
		ChannelOrder:  ChannelOrderRGB,
	}
}

// Len is the number of float32 values of one tensor: 3·Size·Size.
func (p Preprocess) Len() int { return 3 * p.Size * p.Size }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Validate reports whether p describes a pipeline this package implements.
func (p Preprocess) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("imageproc: %w: %s", ErrBadPreprocess, fmt.Sprintf(format, args...))
	}
	if p.Size < 1 || p.Size > MaxSize {
		return bad("size %d outside 1..%d", p.Size, MaxSize)
	}
	resize := orDefault(p.Resize, ResizeShortestEdge)
	if resize != ResizeShortestEdge && resize != ResizeExact {
		return bad("unknown resize rule %q (want %q or %q)", p.Resize, ResizeShortestEdge, ResizeExact)
	}
	if i := orDefault(p.Interpolation, InterpolationBicubic); i != InterpolationBicubic && i != InterpolationBilinear {
		return bad("unknown interpolation %q (want %q or %q)", p.Interpolation, InterpolationBicubic, InterpolationBilinear)
	}
	switch c := orDefault(p.Crop, CropCenter); {
	case c != CropCenter && c != CropNone:
		return bad("unknown crop %q (want %q or %q)", p.Crop, CropCenter, CropNone)
	case c == CropNone && resize != ResizeExact:
		return bad("crop %q needs resize %q to give a square", CropNone, ResizeExact)
	}
	if o := orDefault(p.ChannelOrder, ChannelOrderRGB); o != ChannelOrderRGB && o != ChannelOrderBGR {
		return bad("unknown channel order %q (want %q or %q)", p.ChannelOrder, ChannelOrderRGB, ChannelOrderBGR)
	}
	for c, s := range p.Std {
		if !(s > 0) {
			return bad("std[%d] = %v is not positive", c, s)
		}
	}
	return nil
}

// window computes the resize target and crop for a w×h image.
func (p Preprocess) window(w, h int) window {
	s := p.Size
	if orDefault(p.Resize, ResizeShortestEdge) == ResizeExact {
		return window{rw: s, rh: s, size: s}
	}
	// torchvision: the short side becomes s, the long one int(s·long/short).
	win := window{rw: s, rh: s, size: s}
	if w <= h {
		win.rh = int(float64(s*h) / float64(w))
	} else {
		win.rw = int(float64(s*w) / float64(h))
	}
	win.x, win.y = roundHalfEven(win.rw-s), roundHalfEven(win.rh-s)
	return win
}

// roundHalfEven returns Python's round(d / 2) for d ≥ 0.
func roundHalfEven(d int) int {
	q := d / 2
	if d%2 == 1 && q%2 == 1 {
		q++
	}
	return q
}

func (p Preprocess) filter() filter {
	if p.Interpolation == InterpolationBilinear {
		return bilinearFilter
	}
	return bicubicFilter
}

// fill normalises packed 8-bit RGB pixels into dst in CHW order.
func (p Preprocess) fill(rgb []uint8, dst []float32) {
	n := p.Size * p.Size
	for c := 0; c < 3; c++ {
		// The same float32 operations as torchvision: x/255, then
		// (x-mean)/std, tabulated for the 256 possible bytes.
		var lut [256]float32
		mean, std := p.Mean[c], p.Std[c]
		for v := range lut {
			x := float32(v) / 255
			lut[v] = (x - mean) / std
		}
		plane := c
		if p.ChannelOrder == ChannelOrderBGR {
			plane = 2 - c
		}
		out := dst[plane*n : (plane+1)*n]
		for i := range out {
			out[i] = lut[rgb[3*i+c]]
		}
	}
}

func (p Preprocess) checkDst(dst []float32) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if len(dst) != p.Len() {
		return fmt.Errorf("imageproc: %w: destination holds %d float32s, a %d×%d×3 tensor needs %d",
			ErrBadPreprocess, len(dst), p.Size, p.Size, p.Len())
	}
	return nil
}

// Tensor resizes, crops and normalises img into dst, which must hold
// exactly p.Len() values (a slice of a batch buffer, for example). Any
// image.Image is accepted; *image.NRGBA from Load is used without a copy.
// Alpha follows CLIP's pipeline (PIL resizes RGBA premultiplied, then
// convert("RGB") drops alpha): fully transparent areas become black.
func (p Preprocess) Tensor(img image.Image, dst []float32) error {
	if err := p.checkDst(dst); err != nil {
		return err
	}
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("imageproc: %w: empty image %v", ErrCorrupt, b)
	}
	src, opaque := toNRGBA(img, "")
	p.tensor(src, opaque, b.Dx(), b.Dy(), 1, dst)
	return nil
}

// tensor fills dst from src, which stands for a w×h image decoded at
// 1/reduce of its size.
func (p Preprocess) tensor(src *image.NRGBA, opaque bool, w, h, reduce int, dst []float32) {
	rgb := resampleCrop(src, opaque, w, h, reduce, p.window(w, h), p.filter())
	p.fill(rgb, dst)
}

// LoadTensor loads the image file at path and writes its tensor into dst
// (exactly p.Len() values). Large JPEGs are decoded at reduced resolution
// when libjpeg-turbo is built in (see the package documentation), which is
// several times faster than Load followed by Tensor.
func LoadTensor(path string, opt Options, p Preprocess, dst []float32) (Info, error) {
	if err := p.checkDst(dst); err != nil {
		return Info{}, err
	}
	data, err := readFile(path, opt)
	if err != nil {
		return Info{}, err
	}
	return tensorFromBytes(data, path, opt, p, dst)
}

// DecodeTensor is LoadTensor for an encoded image read from r; name and
// size are as for Decode.
func DecodeTensor(r io.Reader, name string, size int64, opt Options, p Preprocess, dst []float32) (Info, error) {
	if err := p.checkDst(dst); err != nil {
		return Info{}, err
	}
	data, err := readAll(r, name, size, opt)
	if err != nil {
		return Info{}, err
	}
	return tensorFromBytes(data, name, opt, p, dst)
}

func tensorFromBytes(data []byte, name string, opt Options, p Preprocess, dst []float32) (Info, error) {
	d, err := decodeBytes(data, name, opt, 2*p.Size)
	if err != nil {
		return Info{}, err
	}
	p.tensor(d.img, d.opaque, d.info.Width, d.info.Height, d.info.Scale, dst)
	return d.info, nil
}
