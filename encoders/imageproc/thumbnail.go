package imageproc

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"
)

// MaxThumbnailSize bounds the size passed to Thumbnail.
const MaxThumbnailSize = 4096

// Thumbnail decodes an encoded image (read whole, as Decode reads it) and
// fits it within size×size with a Lanczos filter, keeping its aspect ratio
// and never enlarging it. PNGs, and JPEGs with libjpeg-turbo, are decoded
// at reduced resolution (by 2, 4 or 8) while keeping at least twice the
// thumbnail's pixels along each side, so a 100-megapixel PNG costs tens of
// megabytes instead of hundreds. ThumbnailMemory estimates its peak.
func Thumbnail(data []byte, name string, opt Options, size int) (*image.NRGBA, Info, error) {
	if size < 1 || size > MaxThumbnailSize {
		return nil, Info{}, newError(name, "", fmt.Errorf("thumbnail size %d out of range [1, %d]", size, MaxThumbnailSize))
	}
	minSide := 0
	if len(data) > 0 {
		if cfg, _, err := sniff(data); err == nil {
			minSide = thumbMinSide(cfg.Width, cfg.Height, size)
		}
	}
	d, err := decodeBytes(data, name, opt, minSide)
	if err != nil {
		return nil, Info{}, err
	}
	return imaging.Fit(d.img, size, size, imaging.Lanczos), d.info, nil
}

// thumbMinSide is the shorter side a reduced decode of a w×h image must
// keep for a thumbnail fitting size×size: twice the thumbnail's shorter
// side, or 0 (no reduction) when the image already fits.
func thumbMinSide(w, h, size int) int {
	short, long := int64(min(w, h)), int64(max(w, h))
	if long <= int64(size) || short <= 0 {
		return 0
	}
	return int(2 * ((short*int64(size) + long - 1) / long))
}

// ThumbnailMemory estimates, from the header alone, the most memory that
// Thumbnail takes for data at size, beyond data itself: the (reduced)
// decode as TensorMemory counts it, Lanczos's intermediate image and
// weights, and the thumbnail. Callers use it to budget concurrent decodes.
func ThumbnailMemory(data []byte, opt Options, size int) int64 {
	cfg, format, ok := budgetHeader(data, opt)
	if !ok {
		return tensorSlack
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	minSide := thumbMinSide(cfg.Width, cfg.Height, size)
	r := int64(reduceFactor(cfg.Width, cfg.Height, minSide))
	rw, rh := (w+r-1)/r, (h+r-1)/r
	s := int64(size)
	// imaging.Resize: the horizontal pass's size×rh image (or rw×size),
	// 16-byte weights a source pixel per tap of each pass, the result.
	resize := 4*s*max(rw, rh) + 16*8*(rw+rh) + 4*s*s
	return decodeMemory(data, format, cfg.Width, cfg.Height, minSide, opt) + resize + tensorSlack
}

// LoadThumbnail reads the image file at path, with Load's checks, and
// makes its Thumbnail.
func LoadThumbnail(path string, opt Options, size int) (*image.NRGBA, Info, error) {
	data, err := readFile(path, opt)
	if err != nil {
		return nil, Info{}, err
	}
	return Thumbnail(data, path, opt, size)
}
