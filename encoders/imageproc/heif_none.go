//go:build !cgo || imageproc_purego || imageproc_noheif

package imageproc

import (
	"fmt"
	"image"
)

// HEIFCompiled reports whether HEIC/HEIF/AVIF decoding (libheif) is built in.
const HEIFCompiled = false

func decodeHEIFConfig(_ []byte, format string) (image.Config, error) {
	return image.Config{}, fmt.Errorf("%w: %s: this build has no libheif", ErrUnsupported, heifLabel(format))
}

func decodeHEIF(_ []byte, format string) (image.Image, error) {
	return nil, fmt.Errorf("%w: %s: this build has no libheif", ErrUnsupported, heifLabel(format))
}

// heifEXIF finds no EXIF without libheif.
func heifEXIF([]byte) []byte { return nil }
