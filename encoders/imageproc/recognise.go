package imageproc

import (
	"bytes"
	"errors"
	"image"
)

// Recognised reports whether head, the first bytes of a file, starts like
// an image in a format this package registers (HEIC/AVIF included, whether
// or not libheif is built in). It reads only the header, so a truncated
// head of a real image is still recognised. Callers use it to make sure
// content another sniffer takes for text (plain PBM/PGM/PPM are ASCII) is
// still handed to the decoder.
func Recognised(head []byte) bool {
	if len(head) == 0 {
		return false
	}
	err := recovered(func() error {
		_, _, err := image.DecodeConfig(bytes.NewReader(head))
		return err
	})
	return !errors.Is(err, image.ErrFormat)
}

// Format returns the name of the format an encoded image is in (as
// Info.Format names it), read from its header, or "" when data does not
// start like a format this package registers. It decodes no pixels.
func Format(data []byte) string {
	var name string
	_ = recovered(func() error {
		var err error
		_, name, err = image.DecodeConfig(bytes.NewReader(data))
		return err
	})
	return name
}
